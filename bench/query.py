"""Text-query latency over HTTP and recall@10 on a large embedded index.

Fills a Qdrant Edge index (pixseek's own, as `pixseek serve` opens it) with N synthetic photos:
vectors shaped like CLIP embeddings (cluster centres plus a low-rank spread plus small noise,
normalised; isotropic noise in 512-d is unrealistically hard for any graph index) and payloads
like real ones (paths, folders, dates, cameras, formats, sizes, GPS for some). It builds the
HNSW once (timed, and kept in the cache folder for later runs), then:

- starts `pixseek serve` on that data folder and sends text queries over HTTP with an API token
  (the page's own request: encode the text, search, payloads of a page of 40) at concurrency 1
  and 8, with and without a filter; the server's resident memory after the queries;
- recall@10 of the HNSW search against exact search (numpy over the same vectors, the same
  filter) for those text queries and for image-like queries drawn from the data's distribution,
  at several hnsw_ef values; the baseline is that exact search's own latency.

ViT-B-32 with random weights costs what the published one does.

    .venv/bin/python -m bench.query --points 100000 [--quantization int8] [--queries 400]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embed import Embedder, parse_model_spec
from pixseek.index import IndexPoint, tuning_from
from pixseek.index.base import SearchFilters
from pixseek.index.edge.shard import EdgeIndex
from pixseek.photos.identity import build_payload, point_id
from pixseek.photos.metadata import PhotoMetadata
from pixseek.search.filters import build_filters
from pixseek.settings import Settings, load_settings
from pixseek.store.schema import open_database
from pixseek.store.users import UserStore

DIM = 512
SEED = 7
CAMERAS = [
    ("Canon", "Canon EOS R5"), ("Canon", "Canon EOS 5D Mark IV"), ("NIKON", "NIKON Z 6"),
    ("SONY", "ILCE-7M3"), ("FUJIFILM", "X-T3"), ("Apple", "iPhone 13"),
    ("Apple", "iPhone 15 Pro"), ("Google", "Pixel 7"),
]  # fmt: skip
FILTER_CAMERA = "canon eos r5"  # one camera of eight: an eighth of the library
WORDS = [
    "red", "bicycle", "canal", "night", "dog", "beach", "sunset", "mountain", "snow", "city",
    "street", "cat", "car", "tree", "river", "bridge", "market", "children", "birthday", "cake",
    "wedding", "forest", "lake", "boat", "train", "station", "rain", "fog", "kitchen", "garden",
    "flowers", "portrait", "friends", "concert", "stage", "museum", "castle", "desert", "road",
]  # fmt: skip
PAGE = 40  # results a search page asks for
CACHE = Path(tempfile.gettempdir()) / "pixseek-bench-query"


class ClipShaped:
    """Unit vectors with low intrinsic dimension, as CLIP embeddings have: 64 cluster centres,
    a 32-d spread around them and a little noise. One shape, any number of samples."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.centres = rng.normal(size=(64, DIM)).astype(np.float32)
        self.basis = rng.normal(size=(32, DIM)).astype(np.float32)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        vectors = (
            self.centres[rng.integers(0, 64, count)]
            + rng.normal(size=(count, 32)).astype(np.float32) @ self.basis * 0.3
            + rng.normal(size=(count, DIM)).astype(np.float32) * 0.05
        )
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def text_like(shape: ClipShaped, count: int, rng: np.random.Generator) -> np.ndarray:
    """Queries shaped like CLIP text embeddings: the content of a photo (a sample of the data's
    distribution) seen across the modality gap, a direction every text shares, plus noise; a
    query's cosine to the photo it describes is then about 0.3, as CLIP's is. (A random-weight
    text tower gives vectors near-orthogonal to every photo: near-ties, a worst case.)"""
    gap = np.random.default_rng(SEED + 3).normal(size=DIM).astype(np.float32)
    noise = rng.normal(size=(count, DIM)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = 0.3 * shape.sample(count, rng) + 0.75 * gap / np.linalg.norm(gap) + 0.55 * noise
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


@dataclass(frozen=True)
class Library:
    """The synthetic photos: vectors and the one payload field the filtered queries use."""

    vectors: np.ndarray
    cameras: np.ndarray  # index into CAMERAS per point

    @classmethod
    def make(cls, count: int) -> Library:
        rng = np.random.default_rng(SEED)
        chunks = [
            ClipShaped(SEED).sample(min(100_000, count - i), rng) for i in range(0, count, 100_000)
        ]
        return cls(np.concatenate(chunks), np.random.default_rng(SEED + 1).integers(0, 8, count))


def payload(number: int, camera: int) -> dict[str, Any]:
    rng = np.random.default_rng(number)
    year, month, day = 2012 + number % 12, 1 + number % 12, 1 + number % 28
    make, model = CAMERAS[camera]
    landscape = rng.random() < 0.7
    meta = PhotoMetadata(
        width=4000 if landscape else 3000, height=3000 if landscape else 4000,
        format="jpeg" if rng.random() < 0.9 else "heif", orientation=1,
        taken_at=f"{year}-{month:02d}-{day:02d}T{number % 24:02d}:{number % 60:02d}:00",
        taken_at_offset=None, taken_at_source="exif", camera_make=make, camera_model=model,
        lens=None,
        gps={"lat": float(rng.uniform(-60, 70)), "lon": float(rng.uniform(-180, 180))}
        if rng.random() < 0.3 else None,
    )  # fmt: skip
    path = f"/photos/{year}/{year}-{month:02d}/IMG_{number:07d}.jpg"
    return build_payload(f"{number:064x}", [path], 3_000_000 + number % 2_000_000, meta)


def settings_for(data_dir: Path, model: str, quantization: str, ef: int) -> Settings:
    return load_settings(data_dir=data_dir, model=model, quantization=quantization, hnsw_ef=ef)


def build(settings: Settings, library: Library, vector_name: str) -> dict[str, float]:
    """Fill and optimize the index; the timings, also saved beside it for later runs."""
    marker = settings.data_dir / "bench-built.json"
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    index = EdgeIndex(settings.index_dir, tuning_from(settings))
    index.ensure_vector(vector_name, DIM)
    started = time.perf_counter()
    for first in range(0, len(library.vectors), 2000):
        last = min(first + 2000, len(library.vectors))
        index.upsert([
            IndexPoint(point_id(f"{n:064x}"), {vector_name: library.vectors[n]},
                       payload(n, int(library.cameras[n])))
            for n in range(first, last)
        ])  # fmt: skip
    index.flush()
    upserted = time.perf_counter()
    index.optimize()
    timings = {"upsert_s": upserted - started, "build_s": time.perf_counter() - upserted}
    index.close()
    marker.write_text(json.dumps(timings))
    return timings


def query_texts(count: int) -> list[str]:
    rng = np.random.default_rng(SEED)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 6)))) for _ in range(count)]


# ------------------------------------------------------------------------------- the server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    token: str

    def resident_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def start_server(settings: Settings, log: Path) -> Server:
    database = open_database(settings)
    users = UserStore(database)
    admin = users.set_user("admin", "bench-admin-password", "admin")
    token = users.create_token(admin, "bench", "viewer")[1]
    database.close()
    env = os.environ | {
        "PIXSEEK_DATA_DIR": str(settings.data_dir), "PIXSEEK_MODEL": settings.model,
        "PIXSEEK_HNSW_EF": str(settings.hnsw_ef), "PIXSEEK_QUANTIZATION": settings.quantization,
        "PIXSEEK_AUTH": "on", "PIXSEEK_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "PIXSEEK_ADMIN_PASSWORD": "bench-admin-password", "PIXSEEK_PORT": "0",
    }  # fmt: skip
    entry_point = Path(sys.executable).with_name("pixseek")
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(entry_point), "serve"], env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"pixseek serve exited:\n{log.read_text()}")
        for line in log.read_text().splitlines():
            if "serving http://" in line:
                port = int(line.rsplit(":", 1)[1].strip("/ "))
                server = Server(process, port, token)
                if _ready(server):
                    return server
        time.sleep(0.5)
    raise SystemExit(f"pixseek serve did not get ready:\n{log.read_text()}")


def _ready(server: Server) -> bool:
    try:
        url = f"http://127.0.0.1:{server.port}/api/v1/ready"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def latencies(server: Server, texts: list[str], concurrency: int, filtered: bool) -> np.ndarray:
    """Seconds per query, each client thread on its own keep-alive connection."""
    filters = {"cameras": [FILTER_CAMERA]} if filtered else {}
    results: list[float] = []
    lock = threading.Lock()
    pending = iter(texts)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
        while True:
            with lock:
                text = next(pending, None)
            if text is None:
                break
            body = json.dumps({"query": text, "filters": filters, "limit": PAGE})
            started = time.perf_counter()
            connection.request("POST", "/api/v1/search", body, headers)
            answer = connection.getresponse()
            data = answer.read()
            elapsed = time.perf_counter() - started
            assert answer.status == 200, data[:300]
            with lock:
                results.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return np.array(results)


# ------------------------------------------------------------------------------- recall


def exact_top(library: Library, query: np.ndarray, mask: np.ndarray | None, k: int) -> list[int]:
    scores = library.vectors @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, k)[:k]
    return [int(i) for i in top[np.argsort(-scores[top])]]


@dataclass(frozen=True)
class Truth:
    """Exact top-10 ids of each query (numpy over every vector), and what that search cost."""

    queries: np.ndarray
    filtered: bool
    top_ids: list[set[str]]
    exact_ms_p50: float

    @classmethod
    def of(cls, library: Library, queries: np.ndarray, filtered: bool) -> Truth:
        mask = library.cameras == 0 if filtered else None
        top_ids, seconds = [], []
        for query in queries:
            started = time.perf_counter()
            top = exact_top(library, query, mask, 10)
            seconds.append(time.perf_counter() - started)
            top_ids.append({point_id(f"{n:064x}") for n in top})
        return cls(queries, filtered, top_ids, _ms(seconds, 50))


def recall_at_10(index: EdgeIndex, vector_name: str, truth: Truth) -> tuple[float, float]:
    """(recall@10, HNSW search ms p50) of the index against the exact answers."""
    filters = build_filters(cameras=[FILTER_CAMERA]) if truth.filtered else SearchFilters()
    found_share, seconds = [], []
    for query, expected in zip(truth.queries, truth.top_ids, strict=True):
        started = time.perf_counter()
        hits = index.search(vector_name, query, filters, 10)
        seconds.append(time.perf_counter() - started)
        found_share.append(len({hit.id for hit in hits} & expected) / 10)
    return float(np.mean(found_share)), _ms(seconds, 50)


def _ms(seconds: list[float] | np.ndarray, percentile: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, percentile))


def _stopped(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--quantization", choices=["none", "int8"], default="int8")
    parser.add_argument("--queries", type=int, default=400, help="per latency run")
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--ef", default="32,64,128,256", help="hnsw_ef values for recall")
    parser.add_argument(
        "--serve-ef", type=int, default=Settings.model_fields["hnsw_ef"].default,
        help="hnsw_ef of the served index (default: PIXSEEK_HNSW_EF's)",
    )  # fmt: skip
    parser.add_argument("--model", default="ViT-B-32:none")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--build-only", action="store_true", help="build the index and stop")
    parser.add_argument("--recall-only", action="store_true", help="skip the HTTP latencies")
    args = parser.parse_args()

    data_dir = args.cache / f"{args.points}-{args.quantization}"
    settings = settings_for(data_dir, args.model, args.quantization, args.serve_ef)
    vector_name = parse_model_spec(args.model).model_id
    print(f"{args.points:,} points, quantization {args.quantization}, {os.cpu_count()} CPUs")
    library = Library.make(args.points)
    timings = build(settings, library, vector_name)
    print(f"build: upsert {timings['upsert_s']:.0f} s, HNSW {timings['build_s']:.0f} s "
          f"(m {settings.hnsw_m}, ef_construct {settings.hnsw_ef_construct})")  # fmt: skip
    if args.build_only:
        return

    texts = query_texts(args.queries * 4 + 8)
    figures = {} if args.recall_only else http_latencies(settings, texts, args.queries)
    recall = recalls(args, settings, library, vector_name, texts)
    if figures:
        seconds = figures[(8, True)]
        size = (
            f"{args.points // 1_000_000}M"
            if args.points >= 1_000_000
            else f"{args.points // 1000}k"
        )
        print(f"query: p50 {_ms(seconds, 50):.1f} ms, p99 {_ms(seconds, 99):.1f} ms, "
              f"recall@10 {recall:.3f} ({size}, filtered, concurrency 8)")  # fmt: skip


def http_latencies(
    settings: Settings, texts: list[str], per_run: int
) -> dict[tuple[int, bool], np.ndarray]:
    """Seconds per text query over HTTP, by (concurrency, filtered); prints each run."""
    server = start_server(settings, settings.data_dir / "serve.log")
    figures: dict[tuple[int, bool], np.ndarray] = {}
    try:
        print(f"server up; resident {server.resident_mb():.0f} MB before queries")
        latencies(server, texts[:8], 1, False)  # the connection and first-request costs
        batches = chunks(texts[8:], per_run)
        for concurrency in (1, 8):
            for filtered in (False, True):
                seconds = latencies(server, next(batches), concurrency, filtered)
                figures[(concurrency, filtered)] = seconds
                print(f"  concurrency {concurrency}, {'filtered' if filtered else 'no filter'}: "
                      f"p50 {_ms(seconds, 50):.1f} ms, p99 {_ms(seconds, 99):.1f} ms, "
                      f"{len(seconds) / seconds.sum() * concurrency:.0f} queries/s")  # fmt: skip
        print(f"server resident memory after the queries: {server.resident_mb():.0f} MB")
    finally:
        _stopped(server.process)
    return figures


def recalls(
    args: argparse.Namespace,
    settings: Settings,
    library: Library,
    vector_name: str,
    texts: list[str],
) -> float:
    """Prints recall@10 per hnsw_ef and query kind; returns the text-like filtered one at the
    served ef."""
    embedder = Embedder(parse_model_spec(args.model), device="cpu")
    tower = [embedder.embed_texts(c) for c in chunks(texts[: args.recall_queries], 32)]
    shape = ClipShaped(SEED)
    kinds = {
        "text-like": text_like(shape, args.recall_queries, np.random.default_rng(SEED + 4)),
        "image-like": shape.sample(args.recall_queries, np.random.default_rng(SEED + 2)),
        "random-tower text": np.concatenate(tower),
    }
    truths = {
        (name, filtered): Truth.of(library, queries, filtered)
        for name, queries in kinds.items()
        for filtered in (False, True)
    }
    for (name, filtered), truth in truths.items():
        print(
            f"  exact search (the baseline), {name} queries, "
            f"{'filtered' if filtered else 'no filter'}: p50 {truth.exact_ms_p50:.1f} ms"
        )
    served = 0.0
    for ef in [int(e) for e in args.ef.split(",")]:
        tuning = tuning_from(settings_for(settings.data_dir, args.model, args.quantization, ef))
        index = EdgeIndex(settings.index_dir, tuning)
        for (name, filtered), truth in truths.items():
            recall, hnsw_ms = recall_at_10(index, vector_name, truth)
            print(f"  ef {ef}, {name} queries, {'filtered' if filtered else 'no filter'}: "
                  f"recall@10 {recall:.3f}, search p50 {hnsw_ms:.2f} ms")  # fmt: skip
            if ef == args.serve_ef and name == "text-like" and filtered:
                served = recall
        index.close()
    return served


if __name__ == "__main__":
    main()
