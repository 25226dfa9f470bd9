"""`pixseek eval`: several search configurations measured on one eval set in one run.

For each model (and embedding precision) the eval's pictures are embedded once; for each
quantization a temporary Qdrant Edge index is built in the eval's own folder (never the
library's index) holding those vectors and, as distractors, up to N of the library's photos by
their stored vectors; then every query runs exactly (a full scan) and through the HNSW at each
hnsw_ef, and once more with spatial re-ranking. Latency is the index search (and the
re-ranking) per query: the query's embedding costs the same in every configuration.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from embed.decode import decode_rgb, open_image
from embed.errors import ImageDecodeError
from pixseek.errors import QueryError
from pixseek.index.base import Hit, IndexPoint, IndexTuning, SearchFilters, VectorIndex
from pixseek.index.edge.shard import EdgeIndex
from pixseek.photos.identity import file_sha256, perceptual_hashes, point_id
from pixseek.photos.pipeline import shrink_for_model
from pixseek.quality.evalset import EvalQuery, EvalSet
from pixseek.quality.metrics import Judged, recall_curve, score
from pixseek.search.rerank import FEATURE_SIDE, ImageLoader, Reranker

log = logging.getLogger(__name__)

RESULTS = 100  # results asked per query: Recall@100 and mAP@100 need that many
KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "pixseek:eval")
QUANTIZATIONS = ("none", "int8", "binary", "pq")
# Bytes of RAM per vector of d dimensions that each quantization keeps for searching (the
# originals of a quantized index stay on disk, read to rescore the best candidates).
RAM_BYTES_PER_DIM = {"none": 4.0, "int8": 1.0, "binary": 1 / 8, "pq": 4 / 16}
Progress = Callable[[str], None]
SEARCHING = "searching: "  # the progress message that begins each configuration


class VectorModel(Protocol):
    """What the eval needs of a model: embed.Embedder, or a test's deliberately broken one."""

    @property
    def model_id(self) -> str: ...

    @property
    def image_size(self) -> int: ...

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Configuration:
    """One way of searching: a model in a precision, a quantization, exact or HNSW (ef), and
    whether image queries are re-ranked spatially."""

    model: str
    precision: str
    quantization: str
    ef: int | None  # None: exact search
    rerank: bool = False

    @property
    def label(self) -> str:
        how = "exact" if self.ef is None else f"hnsw ef={self.ef}"
        rerank = " +rerank" if self.rerank else ""
        return f"{self.model} {self.precision} q={self.quantization} {how}{rerank}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "model": self.model, "precision": self.precision,
            "quantization": self.quantization, "search": "exact" if self.ef is None else "hnsw",
            "hnsw_ef": self.ef, "rerank": self.rerank,
        }  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Which configurations a run compares, for every model."""

    efs: tuple[int, ...] = (16, 64, 256)
    quantizations: tuple[str, ...] = QUANTIZATIONS
    precisions: tuple[str, ...] = ("fp32", "int8")
    rerank: bool = True
    ef: int = 256  # quantized configurations search with this hnsw_ef
    m: int = 16
    ef_construct: int = 100

    def configurations(self, model: str) -> list[Configuration]:
        found = [Configuration(model, "fp32", "none", None)]
        found += [Configuration(model, "fp32", "none", ef) for ef in self.efs]
        if self.rerank:
            found.append(Configuration(model, "fp32", "none", None, rerank=True))
        found += [
            Configuration(model, "fp32", q, self.ef) for q in self.quantizations if q != "none"
        ]
        found += [Configuration(model, p, "none", None) for p in self.precisions if p != "fp32"]
        return found


@dataclass
class Outcome:
    """One configuration's figures: overall, by query kind and by group (transform)."""

    configuration: Configuration
    overall: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    by_group: dict[str, dict[str, float]]
    curve: dict[int, float]
    latency_ms: dict[str, float]
    ram_bytes_per_vector: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "configuration": self.configuration.as_dict(),
            "overall": _rounded(self.overall),
            "by_kind": {k: _rounded(v) for k, v in self.by_kind.items()},
            "by_group": {k: _rounded(v) for k, v in self.by_group.items()},
            "recall_curve": {str(k): round(v, 4) for k, v in self.curve.items()},
            "latency_ms": _rounded(self.latency_ms),
            "ram_bytes_per_vector": round(self.ram_bytes_per_vector, 2),
        }


@dataclass
class Report:
    """A whole run: what was measured on, and each configuration's outcome."""

    name: str
    corpus: int
    queries: int
    details: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the duplicate figures

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "corpus": self.corpus, "queries": self.queries,
            "details": self.details, "configurations": [o.as_dict() for o in self.outcomes],
        } | self.extra  # fmt: skip


@dataclass
class Embedded:
    """An eval set's documents embedded by one model: vectors by document key."""

    vectors: dict[str, np.ndarray]
    texts: dict[str, np.ndarray]
    hashes: dict[str, dict[str, str]]
    failed: list[str]


@dataclass
class Distractors:
    """Library photos joining the corpus, by their stored vectors."""

    points: list[IndexPoint]


class Evaluator:
    """Runs a plan over an eval set. models: model id -> precision -> VectorModel. library:
    the library's index (read only: distractor vectors) and a loader of its photos' small
    images (re-ranking them), both optional. work_dir: where the temporary indexes go."""

    def __init__(
        self,
        evalset: EvalSet,
        models: Mapping[str, Mapping[str, VectorModel]],
        plan: Plan,
        work_dir: Path,
        library: VectorIndex | None = None,
        library_images: ImageLoader | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.evalset = evalset
        self.models = models
        self.plan = plan
        self.work_dir = work_dir
        self.library = library
        self.library_images = library_images
        self.say = progress or (lambda message: None)
        # every picture is described once for the whole run (at most its corpus is cached)
        self.reranker = Reranker(self._candidate_image, cache_size=200_000)
        self.embedded: dict[tuple[str, str], Embedded] = {}

    def run(self) -> Report:
        queries = self.evalset.queries
        report = Report(self.evalset.name, 0, len(queries), dict(self.evalset.details))
        for model, precisions in self.models.items():
            configurations = self.plan.configurations(model)
            wanted = dict.fromkeys(c.precision for c in configurations)  # fp32 first, as planned
            for precision in [p for p in wanted if p in precisions]:
                embedded = self._embedded(model, precision)
                distractors = self._distractors(model)
                report.corpus = len(embedded.vectors) + len(distractors.points)
                chosen = [c for c in configurations if c.precision == precision]
                report.outcomes += self._measure(chosen, embedded, distractors)
        report.details["failed"] = sorted({f for e in self.embedded.values() for f in e.failed})
        return report

    def _embedded(self, model: str, precision: str) -> Embedded:
        key = (model, precision)
        if key not in self.embedded:
            self.say(f"embedding {len(self.evalset.images)} pictures with {model} ({precision})")
            self.embedded[key] = embed_set(self.evalset, self.models[model][precision])
        return self.embedded[key]

    def _distractors(self, model: str) -> Distractors:
        wanted = self.evalset.distractors
        if not wanted or self.library is None:
            return Distractors([])
        taken = {point_id(file_sha256(p)) for p in self.evalset.images if p.is_file()}
        points: list[IndexPoint] = []
        start: str | None = None
        while len(points) < wanted:
            batch, start = self.library.scroll(model, 1000, start)
            for point in batch:
                if point.vector is not None and point.id not in taken and len(points) < wanted:
                    payload = point.payload | {"key": f"library:{point.id}"}
                    points.append(IndexPoint(point.id, {model: point.vector}, payload))
            if start is None:
                break
        return Distractors(points)

    def _measure(
        self, configurations: list[Configuration], embedded: Embedded, distractors: Distractors
    ) -> list[Outcome]:
        outcomes = []
        by_quantization: dict[str, list[Configuration]] = defaultdict(list)
        for configuration in configurations:
            by_quantization[configuration.quantization].append(configuration)
        for chosen in by_quantization.values():
            with self._temporary_index(chosen[0], embedded, distractors) as index:
                for configuration in chosen:
                    self.say(f"{SEARCHING}{configuration.label}")
                    outcomes.append(self._outcome(configuration, index, embedded))
        return outcomes

    @contextmanager
    def _temporary_index(
        self, configuration: Configuration, embedded: Embedded, distractors: Distractors
    ) -> Iterator[EdgeIndex]:
        folder = self.work_dir / f"index-{uuid.uuid4().hex[:8]}"
        tuning = IndexTuning(
            m=self.plan.m, ef_construct=self.plan.ef_construct,
            quantization=configuration.quantization,  # type: ignore[arg-type]
        )  # fmt: skip
        # a 1 KB threshold: the HNSW is built however small the set, so it is what is measured
        folder.mkdir(parents=True)
        index = EdgeIndex(folder, tuning, indexing_threshold_kb=1)
        try:
            name = configuration.model
            index.ensure_vector(name, _dimension(embedded, distractors, name))
            points = [
                IndexPoint(_doc_id(key), {name: vector}, {"key": key, "eval_path": key})
                for key, vector in embedded.vectors.items()
            ]
            for start in range(0, len(points), 512):
                index.upsert(points[start : start + 512])
            for start in range(0, len(distractors.points), 512):
                index.upsert(distractors.points[start : start + 512])
            index.optimize()
            yield index
        finally:
            index.close()
            shutil.rmtree(folder, ignore_errors=True)

    def _outcome(
        self, configuration: Configuration, index: EdgeIndex, embedded: Embedded
    ) -> Outcome:
        index.tuning = replace(
            index.tuning, exact=configuration.ef is None, ef=configuration.ef or self.plan.ef
        )
        rankings: dict[str, list[str]] = {}
        took: list[float] = []
        for query in self.evalset.queries:
            vector = _query_vector(query, embedded)
            if vector is None:
                continue  # its picture did not decode: it counts as finding nothing
            started = time.perf_counter()
            hits = self._search(configuration, index, query, vector)
            took.append((time.perf_counter() - started) * 1000)
            rankings[query.id] = [str(h.payload.get("key")) for h in hits]
        dim = len(next(iter(embedded.vectors.values()))) if embedded.vectors else 0
        return Outcome(
            configuration,
            score(_judged(self.evalset.queries), rankings),
            _grouped(self.evalset.queries, rankings, lambda q: q.kind),
            _grouped(self.evalset.queries, rankings, lambda q: q.group),
            recall_curve(_judged(self.evalset.queries), rankings),
            _latency(took),
            RAM_BYTES_PER_DIM[configuration.quantization] * dim,
        )

    def _search(
        self, configuration: Configuration, index: EdgeIndex, query: EvalQuery, vector: np.ndarray
    ) -> list[Hit]:
        exclude = (_doc_id(query.id),) if query.kind == "image" else ()
        filters = SearchFilters(exclude_ids=exclude)
        hits = index.search(configuration.model, vector, filters, RESULTS)
        if configuration.rerank and query.kind == "image" and query.image is not None:
            features = self.reranker.query_features(_small(query.image))
            hits = self.reranker.rerank(features, hits)
        return hits

    def _candidate_image(self, hit: Hit) -> Image.Image | None:
        path = hit.payload.get("eval_path")
        if path:
            try:
                return _small(Path(str(path)))
            except (ImageDecodeError, OSError):
                return None
        return self.library_images(hit) if self.library_images is not None else None


def embed_set(evalset: EvalSet, model: VectorModel, batch_size: int = 32) -> Embedded:
    """Every picture of the set decoded as ingest decodes it, embedded in batches, with its
    perceptual hashes; every text query embedded."""
    vectors: dict[str, np.ndarray] = {}
    hashes: dict[str, dict[str, str]] = {}
    failed: list[str] = []
    keys = list(dict.fromkeys(str(p.resolve()) for p in evalset.images))
    for start in range(0, len(keys), batch_size):
        batch: list[tuple[str, Image.Image]] = []
        for key in keys[start : start + batch_size]:
            try:
                picture = _decoded(Path(key), model.image_size)
            except (ImageDecodeError, OSError) as exc:
                log.warning("eval picture %s does not decode: %s", key, exc)
                failed.append(key)
                continue
            hashes[key] = perceptual_hashes(picture)
            batch.append((key, shrink_for_model(picture, model.image_size)))
        if batch:
            embedded = model.embed_images([picture for _, picture in batch])
            vectors.update({key: embedded[i] for i, (key, _) in enumerate(batch)})
    texts = [q.text for q in evalset.queries if q.kind == "text" and q.text is not None]
    text_vectors = model.embed_texts(texts) if texts else np.zeros((0, 1), np.float32)
    return Embedded(vectors, dict(zip(texts, text_vectors, strict=True)), hashes, failed)


def _decoded(path: Path, side: int) -> Image.Image:
    with open_image(path) as image:
        return decode_rgb(image, min_side=max(side, FEATURE_SIDE))


def _small(path: Path) -> Image.Image:
    """A picture at the re-ranker's size, as a library's grid thumbnail would hold it."""
    picture = _decoded(path, FEATURE_SIDE)
    picture.thumbnail((FEATURE_SIDE, FEATURE_SIDE), Image.Resampling.BILINEAR)
    return picture


def _doc_id(key: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, key))


def _dimension(embedded: Embedded, distractors: Distractors, name: str) -> int:
    for vector in embedded.vectors.values():
        return len(vector)
    for point in distractors.points:
        return len(point.vectors[name])
    raise QueryError("nothing to evaluate: no eval picture decoded")


def _query_vector(query: EvalQuery, embedded: Embedded) -> np.ndarray | None:
    if query.kind == "text":
        return embedded.texts.get(query.text or "")
    return embedded.vectors.get(query.id)


def _judged(queries: Sequence[EvalQuery]) -> list[Judged]:
    return [q.judged() for q in queries]


def _grouped(
    queries: Sequence[EvalQuery],
    rankings: Mapping[str, Sequence[str]],
    key: Callable[[EvalQuery], str],
) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Judged]] = defaultdict(list)
    for query in queries:
        groups[key(query)].append(query.judged())
    return {
        name: score(members, rankings) | {"queries": len(members)}
        for name, members in sorted(groups.items())
    }


def _latency(took: Sequence[float]) -> dict[str, float]:
    if not took:
        return {"p50": 0.0, "p99": 0.0}
    return {"p50": float(np.percentile(took, 50)), "p99": float(np.percentile(took, 99))}


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in values.items()}
