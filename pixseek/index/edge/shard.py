"""The embedded index: a Qdrant Edge shard in the data directory, in this process.

Edge holds the GIL for the whole of each call, and optimize() (the HNSW build) took 15 s for
100 k points and 26 min for 1 M here: run in the serving process it would freeze every search.
So a serving process builds aside (see build.py): a child process optimizes a copy of the
shard while this one keeps answering, then the copy is swapped in and the writes made meanwhile
are applied to it again.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from pixseek.errors import DataDirLockedError, IndexBackendError
from pixseek.index.base import (
    EDGE_BACKEND,
    OVERSAMPLING,
    PAYLOAD_INDEXES,
    Hit,
    IndexPoint,
    IndexTuning,
    SearchFilters,
    StoredPoint,
    stored_point,
    valid_point_ids,
)
from pixseek.index.edge.build import (
    CONFIG_FILE,
    PointId,
    building_copy,
    has_text_space,
    optimize_in_child,
    recover_interrupted_swap,
    replace_shard,
    swap_in,
    vector_spaces,
)
from pixseek.index.edge.filter import edge_filter
from pixseek.photos.text import TEXT_KEYS, TEXT_VECTOR, TextVector, text_vector

log = logging.getLogger(__name__)

# With quantized vectors: take more candidates by the quantized vectors (OVERSAMPLING), rescore
# them with the originals (ignored where nothing is quantized).
RESCORE = {
    kind: qe.QuantizationSearchParams(rescore=True, oversampling=factor)
    for kind, factor in OVERSAMPLING.items()
}
SCHEMA_TYPES = {
    "datetime": qe.PayloadSchemaType.Datetime,
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "geo": qe.PayloadSchemaType.Geo,
}


class EdgeIndex:
    """VectorIndex on a Qdrant Edge shard. The shard is created by the first ensure_vector."""

    def __init__(
        self,
        path: Path,
        tuning: IndexTuning | None = None,
        build_aside: bool = False,
        indexing_threshold_kb: int | None = None,
    ) -> None:
        self.path = path
        self.tuning = tuning or IndexTuning()
        self.build_aside = build_aside
        # below this segment size Qdrant searches exhaustively instead of building an HNSW
        self.indexing_threshold_kb = indexing_threshold_kb
        self._shard: qe.EdgeShard | None = None
        # One lock for every shard call: the swap after an aside build replaces the shard.
        # Edge holds the GIL during each call anyway, so the lock costs no parallelism.
        self._lock = threading.RLock()
        self._touched: set[str] | None = None  # ids written while an aside build runs
        recover_interrupted_swap(path)
        self._has_text = False  # whether the shard holds the text vector (has_text_space)
        if (path / CONFIG_FILE).exists():
            self._shard = _open(lambda: qe.EdgeShard.load(str(path)), path)
            self._ensure_text_space()
            self._create_payload_indexes()  # an older shard gets the fields added since

    def ensure_vector(self, name: str, dim: int) -> None:
        with self._lock:
            self._ensure_vector(name, dim)

    def _ensure_vector(self, name: str, dim: int) -> None:
        existing = self.vector_names()
        if name in existing and existing[name] != dim:
            raise IndexBackendError(
                f"the index holds vector {name!r} of size {existing[name]}, not {dim}"
            )
        if self._shard is None:
            config = self._shard_config(name, dim)
            self._shard = _open(lambda: qe.EdgeShard.create(str(self.path), config), self.path)
            self._create_payload_indexes()
        elif name not in existing:
            self._shard.update(
                qe.UpdateOperation.create_dense_vector(name, dim, qe.Distance.Cosine)
            )
        self._ensure_text_space()

    def _ensure_text_space(self) -> None:
        """The sparse text vector beside the models' vectors; a shard made before text search
        gains it here (its points get their words from the text backfill)."""
        if self._shard is not None and not has_text_space(self.path):
            self._shard.update(
                qe.UpdateOperation.create_sparse_vector(TEXT_VECTOR, modifier=qe.Modifier.Idf)
            )
        self._has_text = self._shard is not None

    def _shard_config(self, name: str, dim: int) -> qe.EdgeConfig:
        quantization = _quantization_config(self.tuning.quantization)
        # quantized: the originals stay on disk, read only to rescore the best candidates
        on_disk = quantization is not None or None
        params = qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, on_disk=on_disk)
        hnsw = qe.HnswIndexConfig(
            m=self.tuning.m, ef_construct=self.tuning.ef_construct, full_scan_threshold=10_000
        )
        optimizers = qe.EdgeOptimizersConfig(indexing_threshold=self.indexing_threshold_kb)
        return qe.EdgeConfig(
            vectors={name: params},
            sparse_vectors={TEXT_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=hnsw,
            quantization_config=quantization,
            optimizers=optimizers,
        )

    def vector_names(self) -> dict[str, int]:
        return vector_spaces(self.path) if self._shard is not None else {}

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        if not points:
            return
        # a vector whose space was dropped meanwhile (a retired model) is left out
        names = self.vector_names()
        edge_points = [qe.Point(p.id, self._point_vectors(p, names), p.payload) for p in points]
        self._write([p.id for p in points], qe.UpdateOperation.upsert_points(edge_points))

    def _point_vectors(self, point: IndexPoint, names: dict[str, int]) -> dict[str, Any]:
        vectors: dict[str, Any] = {n: v.tolist() for n, v in point.vectors.items() if n in names}
        if self._has_text:
            vectors[TEXT_VECTOR] = _sparse(text_vector(point.payload))
        return vectors

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        with self._lock:  # the words are read back and rewritten before another write
            self._write([point_id], qe.UpdateOperation.set_payload([point_id], payload))
            if TEXT_KEYS & payload.keys():
                self.set_text(self.retrieve([point_id]))

    def set_text(self, points: Sequence[StoredPoint]) -> None:
        with self._lock:
            if self._shard is None or not self._has_text:
                return
            ids: list[PointId] = [*valid_point_ids([p.id for p in points])]
            stored = self._shard.retrieve(ids, True, False) if ids else []
            updates = [
                qe.PointVectors(str(r.id), {TEXT_VECTOR: _sparse(text_vector(r.payload or {}))})
                for r in stored
            ]
            if updates:
                written = [str(r.id) for r in stored]
                self._write(written, qe.UpdateOperation.update_vectors(updates))

    def lacking_text(
        self, limit: int, start: str | None = None
    ) -> tuple[list[StoredPoint], str | None]:
        return self.lacking_vector(TEXT_VECTOR, limit, start)

    def update_vectors(self, name: str, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:  # Edge refuses the whole update for one id it lacks: check under lock
            if name not in self.vector_names():
                return  # dropped meanwhile: a switch was cancelled
            ids: list[PointId] = [*valid_point_ids(list(vectors))]
            found = self._require().retrieve(ids, False, False) if ids else []
            present = [str(r.id) for r in found]
            if present:
                updates = [qe.PointVectors(i, {name: _floats(vectors[i])}) for i in present]
                self._write(present, qe.UpdateOperation.update_vectors(updates))

    def lacking_vector(
        self, name: str, limit: int, start: str | None = None
    ) -> tuple[list[StoredPoint], str | None]:
        request = qe.ScrollRequest(
            offset=start,
            limit=limit,
            filter=qe.Filter(must_not=[qe.HasVectorCondition(name)]),
            with_payload=True,
            with_vector=False,
        )
        with self._lock:  # checked under the lock: a swap empties _shard for a moment
            if self._shard is None:
                return [], None
            records, following = self._shard.scroll(request)
        points = [stored_point(r.id, r.payload, None, None) for r in records]
        return points, str(following) if following is not None else None

    def scroll(
        self,
        vector: str | None,
        limit: int,
        start: str | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[list[StoredPoint], str | None]:
        request = qe.ScrollRequest(
            offset=start, limit=limit, filter=edge_filter(filters), with_payload=True,
            with_vector=[vector] if vector else False,
        )  # fmt: skip
        with self._lock:  # checked under the lock: a swap empties _shard for a moment
            if self._shard is None:
                return [], None
            records, following = self._shard.scroll(request)
        points = [stored_point(r.id, r.payload, r.vector, vector) for r in records]
        return points, str(following) if following is not None else None

    def drop_vector(self, name: str) -> None:
        with self._lock:
            if name in self.vector_names():
                self._require().update(qe.UpdateOperation.delete_vector_name(name))

    def set_active_vector(self, name: str) -> None:
        """Every named vector of the shard is searchable: nothing to point anywhere."""

    def delete(self, point_ids: Sequence[str]) -> None:
        point_ids = valid_point_ids(point_ids)
        if point_ids and self._shard is not None:
            self._write(point_ids, qe.UpdateOperation.delete_points(list(point_ids)))

    def retrieve(self, point_ids: Sequence[str], vector: str | None = None) -> list[StoredPoint]:
        point_ids = valid_point_ids(point_ids)
        if not point_ids:
            return []
        with_vector: bool | list[str] = [vector] if vector else False
        with self._lock:  # checked under the lock: a swap empties _shard for a moment
            if self._shard is None:
                return []
            records = self._shard.retrieve(list(point_ids), True, with_vector)
        return [stored_point(r.id, r.payload, r.vector, vector) for r in records]

    def search(
        self,
        vector_name: str,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        query = qe.Query.Nearest(_floats(vector), using=vector_name)
        return self._query(query, filters, limit, offset, score_threshold)

    def search_text(
        self, query: TextVector, filters: SearchFilters, limit: int, offset: int = 0
    ) -> list[Hit]:
        if not query.indices or not self._has_text:
            return []
        return self._query(qe.Query.Nearest(_sparse(query), using=TEXT_VECTOR), filters, limit,
                           offset, None)  # fmt: skip

    def recommend(
        self,
        vector_name: str,
        positives: Sequence[np.ndarray],
        negatives: Sequence[np.ndarray],
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
    ) -> list[Hit]:
        examples = qe.RecommendQuery(
            positives=[_floats(v) for v in positives], negatives=[_floats(v) for v in negatives]
        )
        query = qe.Query.RecommendBestScore(examples, using=vector_name)
        return self._query(query, filters, limit, offset, None)

    def _query(
        self,
        query: qe.Query,
        filters: SearchFilters,
        limit: int,
        offset: int,
        score_threshold: float | None,
    ) -> list[Hit]:
        request = qe.QueryRequest(
            limit=limit,
            offset=offset,
            query=query,
            filter=edge_filter(filters),
            with_payload=True,
            score_threshold=score_threshold,
            params=qe.SearchParams(
                hnsw_ef=self.tuning.ef,
                exact=self.tuning.exact,
                quantization=RESCORE[self.tuning.quantization],
            ),
        )
        with self._lock:  # checked under the lock: a swap empties _shard for a moment
            if self._shard is None:
                return []
            found = self._shard.query(request)
        return [Hit(str(p.id), float(p.score), p.payload or {}) for p in found]

    def count(self, filters: SearchFilters | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=edge_filter(filters))
        with self._lock:
            return int(self._shard.count(request)) if self._shard is not None else 0

    def facet(
        self, field: str, filters: SearchFilters | None = None, limit: int = 100
    ) -> list[tuple[str, int]]:
        request = qe.FacetRequest(key=field, limit=limit, exact=True, filter=edge_filter(filters))
        with self._lock:
            if self._shard is None:
                return []
            found = self._shard.facet(request)
        return [(str(hit.value), int(hit.count)) for hit in found.hits]

    def by_date(
        self, filters: SearchFilters, newest_first: bool, limit: int, start: str | None = None
    ) -> list[StoredPoint]:
        direction = qe.Direction.Desc if newest_first else qe.Direction.Asc
        order = qe.OrderBy(key="taken_at", direction=direction, start_from=start)
        request = qe.ScrollRequest(
            limit=limit, filter=edge_filter(filters), with_payload=True, with_vector=False,
            order_by=order,
        )  # fmt: skip
        with self._lock:
            if self._shard is None:
                return []
            records, _ = self._shard.scroll(request)
        return [stored_point(r.id, r.payload, None, None) for r in records]

    def indexed_fraction(self) -> float:
        """The share of points already in the HNSW (1.0 when none need it); below 1 searches
        still answer, scanning the rest exhaustively."""
        with self._lock:
            if self._shard is None:
                return 1.0
            info = self._shard.info()
        if info.points_count == 0 or info.indexed_vectors_count == 0:
            return 1.0 if info.points_count == 0 else 0.0
        return min(info.indexed_vectors_count / info.points_count, 1.0)

    def optimize(self) -> None:
        """Build the HNSW for what was written: in place, or aside in a child process."""
        if self._shard is None:
            return
        if self.build_aside:
            self._build_aside()
        else:
            with self._lock:
                self._require().optimize()

    def _build_aside(self) -> None:
        """Optimize a copy in a child process while this one answers, then swap it in and
        apply again the writes made meanwhile (their ids are kept in _touched)."""
        started = time.monotonic()
        with ExitStack() as cleanup:
            with self._lock:  # the copy and the record of writes start at the same moment
                self._require().flush()
                copy = cleanup.enter_context(building_copy(self.path))
                self._touched = set()
            try:
                optimize_in_child(copy)
                with self._lock:
                    live, self._shard = self._require(), None  # swap_in closes it
                    touched: list[PointId] = sorted(self._touched)
                    self._shard = swap_in(self.path, copy, live, touched)
            finally:
                self._touched = None
        log.info("HNSW built aside and swapped in after %.1f s", time.monotonic() - started)

    def flush(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()

    def save_to(self, directory: Path) -> dict[str, Any]:
        """A copy of the shard's files, taken flushed and with every write held back (searches
        wait too, for as long as the copy takes: about a second per GB)."""
        with self._lock:
            if self._shard is None:
                directory.mkdir(parents=True)
            else:
                self._shard.flush()
                shutil.copytree(self.path, directory)
            vectors = self.vector_names()
        return {"backend": EDGE_BACKEND, "vectors": vectors}

    def restore_from(self, directory: Path, saved: dict[str, Any], active: str) -> None:
        """Replace the shard by a copy save_to made (every model's vectors come back)."""
        with self._lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None
            replace_shard(self.path, directory)
            if (self.path / CONFIG_FILE).exists():
                self._shard = _open(lambda: qe.EdgeShard.load(str(self.path)), self.path)
            self._ensure_text_space()

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None

    def _write(self, point_ids: Sequence[str], operation: Any) -> None:
        with self._lock:
            self._require().update(operation)
            if self._touched is not None:
                self._touched.update(point_ids)

    def _require(self) -> qe.EdgeShard:
        if self._shard is None:
            raise IndexBackendError("the index has no vectors yet; call ensure_vector first")
        return self._shard

    def _create_payload_indexes(self) -> None:
        """The payload indexes of PAYLOAD_INDEXES the shard lacks (built over its points)."""
        shard = self._require()
        present = shard.info().payload_schema
        for field_name, kind in PAYLOAD_INDEXES.items():
            if field_name not in present:
                operation = qe.UpdateOperation.create_field_index(field_name, SCHEMA_TYPES[kind])
                shard.update(operation)


def _quantization_config(kind: str) -> Any:
    """The shard's quantization for IndexTuning.quantization (None: vectors as they are)."""
    if kind == "int8":
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, always_ram=True)
    if kind == "binary":
        return qe.BinaryQuantizationConfig(always_ram=True)
    if kind == "pq":
        return qe.ProductQuantizationConfig(compression=qe.CompressionRatio.X16, always_ram=True)
    return None


def _sparse(vector: TextVector) -> qe.SparseVector:
    return qe.SparseVector(vector.indices, vector.values)


def _floats(vector: np.ndarray) -> list[float]:
    values: list[float] = vector.astype(np.float32).tolist()
    return values


def _open(opener: Any, path: Path) -> qe.EdgeShard:
    try:
        return opener()
    except Exception as exc:  # Edge raises plain Exception for every failure
        if "WouldBlock" in str(exc):
            raise DataDirLockedError(f"the index at {path} is open in another process") from exc
        raise IndexBackendError(f"cannot open the index at {path}: {exc}") from exc
