"""The store at scale, on SQLite and on PostgreSQL, in one run:

- claim/complete: 8 worker processes take queued files 32 at a time (a lease each), mark them
  indexed and renew their lease, until the queue is empty; files/s over the whole queue;
- a scan of a synthetic library of empty files (stat, compared with the catalog, queued: one
  upsert per file), its time and the catalog's size afterwards;
- the one read every search makes of the store (the model state), p50 and p99, on an empty
  catalog and on the full one (search payloads come from the index, never from the store).

    .venv/bin/python -m bench.store [--files 1000000] [--queue 50000] \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432]

The last line: `store: claim A files/s (PostgreSQL) / B (SQLite), scan N files in S s, ...`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from pixseek.photos.scan import scan
from pixseek.settings import load_settings
from pixseek.store.catalog import Catalog, FileState
from pixseek.store.db import Database
from pixseek.store.modelstate import ModelStore
from pixseek.store.schema import open_url

WORKERS = 8
CLAIM = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000, help="files in the scanned tree")
    parser.add_argument("--queue", type=int, default=50_000, help="files claimed and completed")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixseek-bench-store-") as scratch:
        root = Path(scratch)
        claims = {}
        for kind in ("postgresql", "sqlite"):
            with _store(kind, root, args.postgres) as url:
                claims[kind] = claim_throughput(url, args.queue)
                print(f"{kind}: claim/complete {claims[kind]:.0f} files/s with {WORKERS} workers")
        library = make_tree(root / "library", args.files)
        with _store("sqlite", root, args.postgres) as url:
            scanned, size, reads = scan_and_read(url, library, root / "data")
        print(
            f"store: claim {claims['postgresql']:.0f} files/s (PostgreSQL) / "
            f"{claims['sqlite']:.0f} (SQLite) with {WORKERS} workers, scan {args.files} files in "
            f"{scanned:.1f} s, catalog {size / 2**20:.0f} MB, model-state read p50 "
            f"{reads[0]:.2f} ms / p99 {reads[1]:.2f} ms (empty: {reads[2]:.2f} / {reads[3]:.2f})"
        )


class _store:
    """A fresh store of one kind; its URL."""

    def __init__(self, kind: str, root: Path, server: str) -> None:
        self.kind, self.root, self.server = kind, root, server
        self.name = f"pixseek_bench_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            folder = self.root / self.name
            folder.mkdir()
            return f"sqlite:///{folder / 'catalog.sqlite3'}"
        _admin(self.server, f'CREATE DATABASE "{self.name}"')
        return f"{self.server}/{self.name}"

    def __exit__(self, *_: object) -> None:
        if self.kind == "postgresql":
            _admin(self.server, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _admin(server: str, statement: str) -> None:
    plain = server.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain + "/postgres", autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def claim_throughput(url: str, count: int) -> float:
    database = open_url(url)
    Catalog(database).enqueue([FileState(f"/lib/{n:08d}.jpg", n, n) for n in range(count)], "job")
    database.close()
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
        done = sum(pool.starmap(_work, [(url, f"w{n}") for n in range(WORKERS)]))
    seconds = time.perf_counter() - started
    assert done == count, f"{done} of {count} files completed"
    return count / seconds


def _work(url: str, worker: str) -> int:
    database = Database(url)
    catalog = Catalog(database, lease=60)
    done = 0
    while claimed := catalog.claim(CLAIM, worker):
        catalog.mark_indexed([(c.record.state, f"{c.record.path}-sha") for c in claimed], "m")
        catalog.renew_claims(worker)
        done += len(claimed)
    database.close()
    return done


def make_tree(root: Path, count: int) -> Path:
    """count empty .jpg files, 1000 to a folder."""
    for start in range(0, count, 1000):
        folder = root / f"{start // 1000:05d}"
        folder.mkdir(parents=True)
        for n in range(start, min(start + 1000, count)):
            (folder / f"img_{n:07d}.jpg").touch()
    return root


def scan_and_read(url: str, library: Path, data: Path) -> tuple[float, int, tuple[float, ...]]:
    database = open_url(url)
    store = ModelStore(database, "pixseek-tiny")
    empty = _read_latency(store)
    catalog = Catalog(database)
    settings = load_settings(data_dir=data, model="pixseek-tiny")
    started = time.perf_counter()
    states = scan([str(library)], skip=settings.data_dir).images
    records = catalog.records_under([str(library)])
    todo = [s for s in states if s.path not in records]
    catalog.enqueue(todo, "scan")
    seconds = time.perf_counter() - started
    full = _read_latency(store)
    database.close()  # checkpoints the WAL into the file
    size = os.path.getsize(url.removeprefix("sqlite:///"))
    return seconds, size, (*full, *empty)


def _read_latency(store: ModelStore, count: int = 2000) -> tuple[float, float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        store.read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)]


if __name__ == "__main__":
    main()
