"""Search latency while the embedded mode imports a library.

`pixseek serve` imports with its in-process worker while the same process answers searches.
This measures text-search latency (encode the query, search Qdrant Edge, read payloads) every
500 ms during a 10 000-image import and during the HNSW build that follows, twice in one run:
pixseek's way (HNSW built aside in a child process, then swapped in) and the baseline (Edge's
optimize() called in the serving process, which holds the GIL for the whole build).

    .venv/bin/python -m bench.search_during_import [--images 10000] [--model ViT-B-32:none]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from celery.worker import state as worker_state
from PIL import Image

from pixseek.index.edge.shard import EdgeIndex
from pixseek.indexing.ingest import Ingester
from pixseek.jobs.job import JobStore
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.search.search import QueryTerm, SearchRequest, search
from pixseek.settings import load_settings
from workers.app import make_celery
from workers.context import WorkerContext, install
from workers.inprocess import InProcessWorker
from workers.tasks import SCAN

WORDS = [
    "red",
    "bicycle",
    "canal",
    "night",
    "dog",
    "beach",
    "sunset",
    "mountain",
    "snow",
    "city",
    "street",
    "cat",
    "car",
    "tree",
]
TICK = 0.5  # a query every half second: a busy user, without starving the import


@dataclass
class Latencies:
    by_phase: dict[str, list[float]] = field(default_factory=lambda: {"import": [], "build": []})

    def line(self, phase: str) -> str:
        values = np.array(self.by_phase[phase]) * 1000
        if not len(values):
            return f"{phase}: no queries"
        p50, p99, worst = np.percentile(values, 50), np.percentile(values, 99), values.max()
        return f"{phase}: n {len(values)}, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.0f} ms"


def make_library(folder: Path, count: int, size: tuple[int, int] = (640, 480)) -> None:
    """count distinct JPEGs: 50 textured bases, each copy marked with its own coloured block."""
    rng = np.random.default_rng(0)
    bases = []
    for _ in range(50):
        noise = rng.integers(0, 255, size=(size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        bases.append(Image.fromarray(noise).resize(size, Image.Resampling.BILINEAR))
    for i in range(count):
        image = bases[i % 50].copy()
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, size[0] - 64)), int(rng.integers(0, size[1] - 64))
        image.paste(colour, (x, y, x + 64, y + 64))
        path = folder / f"{i // 1000:02d}" / f"img{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=85)


def measure(images: Path, data: Path, model: str, build_aside: bool) -> Latencies:
    """Import images with the in-process worker, querying every TICK until the HNSW is built."""
    settings = load_settings(data_dir=data, model=model)
    library = Library(settings, serving=build_aside).open()
    index = library.index
    assert isinstance(index, EdgeIndex)
    library.embedder.embed_texts(["warm up"])
    jobs = open_job_store(settings)
    app = make_celery(settings)
    install(
        app,
        WorkerContext(
            settings,
            library,
            jobs,
            Ingester(settings, index, library.catalog, lambda: [library.embedder]),
        ),
    )
    worker = InProcessWorker(app)
    worker.start()
    job = jobs.create("index", {"paths": [str(images)]})
    app.send_task(SCAN, args=[job.id, [str(images)]])
    latencies = Latencies()
    try:
        _query_until_built(library, jobs, job.id, latencies)
        print(f"  the HNSW covers {index.indexed_fraction():.0%} of the points")
    finally:
        worker.stop()
        library.close()
    return latencies


def _query_until_built(library: Library, jobs: JobStore, job_id: str, latencies: Latencies) -> None:
    """Query every TICK: "import" while the job runs, "build" until the worker is idle.

    Latency counts from when a query was due, so a query that could not even start (a build
    holding the GIL) is charged for the wait; the query due when the work ends is measured too.
    """
    index = library.index
    rng = random.Random(1)
    due = time.monotonic()
    while True:
        job = jobs.get(job_id)
        assert job is not None
        phase = "import" if not job.finished else "build"
        text = " ".join(rng.sample(WORDS, 3))
        hits = search(SearchRequest((QueryTerm("text", text),), limit=20), library.embedder, index)
        latencies.by_phase[phase].append(time.monotonic() - due)
        assert hits or index.count() == 0
        if job.finished and not worker_state.active_requests:
            return
        due += TICK
        time.sleep(max(0.0, due - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--model", default="ViT-B-32:none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixseek-bench-") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        make_library(root / "library", args.images)
        print(f"generated {args.images} JPEGs 640x480 in {time.monotonic() - started:.0f} s")
        results = {}
        for name, aside in (
            ("pixseek (HNSW built aside)", True),
            ("baseline (optimize in process)", False),
        ):
            started = time.monotonic()
            results[name] = measure(root / "library", root / f"data-{aside}", args.model, aside)
            print(f"{name}: import and build took {time.monotonic() - started:.0f} s")
            for phase in ("import", "build"):
                print(f"  {results[name].line(phase)}")
    ours, base = results["pixseek (HNSW built aside)"], results["baseline (optimize in process)"]
    print(
        f"search during import: p99 {np.percentile(ours.by_phase['import'], 99) * 1000:.0f} ms; "
        f"during the HNSW build: p99 {_p99(ours, 'build'):.0f} ms, "
        f"baseline {_p99(base, 'build'):.0f} ms ({args.images} images, {args.model})"
    )


def _p99(latencies: Latencies, phase: str) -> float:
    values = latencies.by_phase[phase]
    return float(np.percentile(values, 99) * 1000) if values else float("nan")


if __name__ == "__main__":
    main()
