"""What the HNSW build does to searches in a serving process, at library scale.

Fills a Qdrant Edge index with N CLIP-sized vectors (512-d, cluster centres plus a low-rank
spread plus noise: shaped like real embeddings), then builds its HNSW while a thread searches
every 50 ms, twice in one run: aside (pixseek: a child process optimizes a copy, then it is
swapped in) and in place (the baseline: Edge's optimize() in the serving process, which holds
the GIL for the whole build). Latency counts from when each query was due, so a query that
could not even start during a freeze is charged for the wait.

    .venv/bin/python -m bench.index_build_freeze [--points 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from pixseek.index.base import IndexPoint, IndexTuning, SearchFilters
from pixseek.index.edge.shard import EdgeIndex

DIM = 512
TICK = 0.05
VECTOR = "clip"


def clip_like(count: int, seed: int) -> np.ndarray:
    """Unit vectors with low intrinsic dimension, as CLIP embeddings have."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, DIM))
    basis = rng.normal(size=(32, DIM))
    vectors = (
        centres[rng.integers(0, 64, count)]
        + rng.normal(size=(count, 32)) @ basis * 0.3
        + rng.normal(size=(count, DIM)) * 0.05
    )
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def filled(path: Path, count: int, aside: bool) -> EdgeIndex:
    index = EdgeIndex(path, IndexTuning(ef=128), build_aside=aside)
    index.ensure_vector(VECTOR, DIM)
    vectors = clip_like(count, seed=0)
    for start in range(0, count, 5000):
        chunk = vectors[start : start + 5000]
        index.upsert(
            [
                IndexPoint(str(uuid.UUID(int=start + i)), {VECTOR: v}, {"n": start + i})
                for i, v in enumerate(chunk)
            ]
        )
    index.flush()
    return index


def latencies_during_build(index: EdgeIndex) -> tuple[np.ndarray, float]:
    """Search every TICK while optimize() runs on another thread; latencies in ms, build s."""
    queries = clip_like(2000, seed=1)
    build = threading.Thread(target=index.optimize)
    # the schedule starts before the build: a build holding the GIL may not let this thread
    # run again until it ends
    latencies, i = [], 0
    started = due = time.monotonic()
    build.start()
    while True:  # the query due when the build ends is still charged for waiting on it
        index.search(VECTOR, queries[i % len(queries)], SearchFilters(), limit=20)
        latencies.append(time.monotonic() - due)
        if not build.is_alive():
            break
        i += 1
        due += TICK
        time.sleep(max(0.0, due - time.monotonic()))
    build.join()
    return np.array(latencies) * 1000, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory(prefix="pixseek-bench-") as tmp:
        for name, aside in (("aside (pixseek)", True), ("in place (baseline)", False)):
            index = filled(Path(tmp) / f"index-{aside}", args.points, aside)
            values, seconds = latencies_during_build(index)
            covered = index.indexed_fraction()
            index.close()
            figures[name] = values
            print(
                f"{name}: build {seconds:.1f} s, HNSW covers {covered:.0%}; searches during it: "
                f"n {len(values)}, p50 {np.percentile(values, 50):.1f} ms, "
                f"p99 {np.percentile(values, 99):.1f} ms, max {values.max():.0f} ms"
            )
    ours, base = figures["aside (pixseek)"], figures["in place (baseline)"]
    print(
        f"build freeze: search p99 {np.percentile(ours, 99):.0f} ms aside vs "
        f"{np.percentile(base, 99):.0f} ms in place ({args.points} points, 512-d)"
    )


if __name__ == "__main__":
    main()
