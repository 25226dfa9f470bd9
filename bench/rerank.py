"""Spatial re-ranking's cost per image query at K = 50, cold (no candidate's features kept:
50 thumbnails decoded and described), with features read from the files ingest writes, and
warm (in memory), on a real photograph.

The photo is matplotlib's sample grace_hopper.jpg (512x600; the only real photograph this
machine has): its 50 candidates are crops, turns and colour changes of it stored as 320 px WebP
grid thumbnails, which gives ORB its full 500 keypoints on each, as a camera photo does.

    .venv/bin/python -m bench.rerank [--queries 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageEnhance

from pixseek.index.base import Hit
from pixseek.photos.thumbnails import thumbnail_path, write_thumbnails
from pixseek.search.rerank import (
    KEYPOINTS,
    RERANK_K,
    FeatureFiles,
    OrbMatcher,
    Reranker,
    store_features,
    thumbnail_loader,
)

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def variant(photo: Image.Image, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = photo.size
    keep = rng.uniform(0.5, 1.0)
    left = int(rng.integers(0, int(width * (1 - keep)) + 1))
    top = int(rng.integers(0, int(height * (1 - keep)) + 1))
    cropped = photo.crop((left, top, left + int(width * keep), top + int(height * keep)))
    turned = cropped.rotate(float(rng.uniform(-15, 15)), expand=True)
    return ImageEnhance.Brightness(turned).enhance(float(rng.uniform(0.7, 1.3)))


def timed(reranker: Reranker, query: Image.Image, hits: list[Hit]) -> float:
    """Milliseconds for the query's features and the re-ranking of its candidates."""
    started = time.perf_counter()
    reranker.rerank(reranker.query_features(query), hits)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--keypoints", type=int, default=KEYPOINTS)
    args = parser.parse_args()
    photo = Image.open(PHOTO).convert("RGB")
    thumbs = Path(tempfile.mkdtemp(prefix="rerank-thumbs-"))
    hits = []
    for seed in range(RERANK_K):
        sha = f"{seed:064x}"
        write_thumbnails(variant(photo, seed), sha, thumbs, ("grid",))
        hits.append(Hit(f"id-{seed}", 0.5, {"sha256": sha}))
    files = FeatureFiles(thumbs)
    for hit in hits:  # as ingest keeps them
        sha = hit.payload["sha256"]
        with Image.open(thumbnail_path(thumbs, sha, "grid")) as grid:
            store_features(grid.convert("RGB"), sha, thumbs)
    cold, stored, warm = [], [], []
    for number in range(args.queries):
        query = variant(photo, 1000 + number)
        reranker = Reranker(thumbnail_loader(thumbs), OrbMatcher(args.keypoints))
        cold.append(timed(reranker, query, hits))  # every candidate described from its thumbnail
        warm.append(timed(reranker, query, hits))  # features in memory
        kept = Reranker(thumbnail_loader(thumbs), OrbMatcher(args.keypoints), files=files)
        stored.append(timed(kept, query, hits))  # features read from the files ingest wrote
    inliers = [OrbMatcher(args.keypoints).inliers(reranker.query_features(query), f) for f in
               [reranker._features(h) for h in hits[:10]] if f is not None]  # fmt: skip
    print(f"{args.keypoints} keypoints; inliers of the last query's first 10: {inliers}")
    for name, took in (("cold", cold), ("stored", stored), ("warm", warm)):
        print(
            f"{name}: p50 {np.percentile(took, 50):.0f} ms, p99 {np.percentile(took, 99):.0f} ms "
            f"({args.queries} queries, K = {RERANK_K})"
        )


if __name__ == "__main__":
    main()
