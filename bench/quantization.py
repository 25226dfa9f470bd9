"""Quantization none / int8 / binary / pq at 100 k points: recall@10 against exact search, query
latency, and memory; and the time to group 100 k photos into near-duplicates.

Vectors come from the models themselves, embedding generated pictures (tests/imagegen): the
tiny model embeds all N (it is cheap); ViT-B-32 embeds --base of them and the other points are
drawn from a Gaussian fitted to those embeddings (their mean and covariance), so they have the
model's anisotropy, which is what decides how well a vector survives quantization. Queries are
embeddings of other pictures, never in the index. Random weights: see docs/quality.md for what
that does and does not say about published weights.

    .venv/bin/python -m bench.quantization --points 100000 [--models pixseek-tiny,ViT-B-32:none]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from embed import Embedder, parse_model_spec
from pixseek.index.base import IndexPoint, IndexTuning, SearchFilters
from pixseek.index.edge.shard import EdgeIndex
from pixseek.photos.identity import perceptual_hashes
from pixseek.quality.duplicates import (
    DEFAULT_THRESHOLDS,
    find_groups,
    library_signals,
    vector_neighbours,
)
from pixseek.quality.evaluate import QUANTIZATIONS, RAM_BYTES_PER_DIM
from tests.imagegen import textured_rgb

SIDE = (96, 72)  # generated pictures: the models resize them to their input anyway
QUERIES = 200
K = 10


def embed_pictures(
    model: Embedder, seeds: range, batch: int = 256
) -> tuple[np.ndarray, list[dict[str, str]]]:
    vectors, hashes = [], []
    for start in range(seeds.start, seeds.stop, batch):
        pictures = [textured_rgb(s, SIDE) for s in range(start, min(start + batch, seeds.stop))]
        vectors.append(model.embed_images(pictures))
        hashes += [perceptual_hashes(p) for p in pictures]
    return np.concatenate(vectors), hashes


def fitted(base: np.ndarray, count: int, seed: int) -> np.ndarray:
    """count unit vectors drawn from the Gaussian of base's rows (mean and covariance)."""
    rng = np.random.default_rng(seed)
    mean = base.mean(axis=0)
    drawn = rng.multivariate_normal(mean, np.cov(base, rowvar=False), size=count, method="eigh")
    drawn = drawn.astype(np.float32)
    return drawn / np.linalg.norm(drawn, axis=1, keepdims=True)


def corpus(
    spec: str, points: int, base: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    model = Embedder(parse_model_spec(spec), device="cpu", precision="fp32")
    started = time.monotonic()
    if spec.startswith("pixseek-tiny"):
        vectors, hashes = embed_pictures(model, range(points))
    else:
        embedded, hashes = embed_pictures(model, range(base))
        vectors = np.concatenate([embedded, fitted(embedded, points - base, 1)])
        hashes += [{} for _ in range(points - base)]
    queries, _ = embed_pictures(model, range(10_000_000, 10_000_000 + QUERIES))
    print(f"{spec}: {points} vectors in {time.monotonic() - started:.0f} s", flush=True)
    return vectors, queries, hashes


def exact_top(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    scores = queries @ vectors.T
    return np.argsort(-scores, axis=1)[:, :K]


def measure(
    spec: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    quantization: str,
    hashes: list[dict[str, str]],
    group: bool,
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"quant-{quantization}-"))
    name = "v"
    ids = [str(uuid.UUID(int=i + 1)) for i in range(len(vectors))]
    index = EdgeIndex(folder, IndexTuning(quantization=quantization))  # type: ignore[arg-type]
    try:
        index.ensure_vector(name, vectors.shape[1])
        started = time.monotonic()
        for start in range(0, len(vectors), 1000):
            index.upsert([
                IndexPoint(ids[i], {name: vectors[i]}, hashes[i] | {"n": i})
                for i in range(start, min(start + 1000, len(vectors)))
            ])  # fmt: skip
        index.optimize()
        built = time.monotonic() - started
        took, recalls = [], []
        for query, expected in zip(queries, truth, strict=True):
            began = time.perf_counter()
            hits = index.search(name, query, SearchFilters(), K)
            took.append((time.perf_counter() - began) * 1000)
            found = {h.payload["n"] for h in hits}
            recalls.append(len(found & set(expected.tolist())) / K)
        figures: dict[str, Any] = {
            "model": spec, "quantization": quantization, "points": len(vectors),
            "recall@10": round(float(np.mean(recalls)), 4),
            "p50_ms": round(float(np.percentile(took, 50)), 2),
            "p99_ms": round(float(np.percentile(took, 99)), 2),
            "ram_vectors_mb": round(RAM_BYTES_PER_DIM[quantization] * vectors.size / 1e6, 1),
            "disk_mb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6),
            "build_s": round(built, 1),
        }  # fmt: skip
        if group:
            began = time.monotonic()
            signals = library_signals(index, name)
            thresholds = DEFAULT_THRESHOLDS.calibrated(vectors)
            neighbours = vector_neighbours(index, name, signals, thresholds.cosine)
            groups = find_groups(signals, neighbours, thresholds)
            figures["group_s"] = round(time.monotonic() - began, 1)
            figures["groups"] = len(groups)
        return figures
    finally:
        index.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=3_000, help="pictures ViT-B-32 embeds")
    parser.add_argument("--models", default="pixseek-tiny,ViT-B-32:none")
    parser.add_argument("--quantization", default=",".join(QUANTIZATIONS))
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = []
    for spec in args.models.split(","):
        vectors, queries, hashes = corpus(spec, args.points, args.base)
        truth = exact_top(vectors, queries)
        for position, quantization in enumerate(args.quantization.split(",")):
            row = measure(spec, vectors, queries, truth, quantization, hashes, group=position == 0
                          and spec.startswith("pixseek-tiny"))  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
