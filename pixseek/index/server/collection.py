"""The index on qdrant-client: a Qdrant server by URL, or qdrant-client's local mode by path."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from pixseek.errors import IndexBackendError
from pixseek.index.base import (
    OVERSAMPLING,
    PAYLOAD_INDEXES,
    SERVER_BACKEND,
    Hit,
    IndexPoint,
    IndexTuning,
    SearchFilters,
    StoredPoint,
    stored_point,
    valid_point_ids,
)
from pixseek.index.server.filter import server_filter
from pixseek.index.server.layout import CollectionLayout, vector_sizes
from pixseek.index.server.snapshots import SnapshotTransfer
from pixseek.photos.text import TEXT_KEYS, TEXT_VECTOR, TextVector, text_vector

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "collection.snapshot"
TEXT_RECHECK = 30.0  # seconds before a collection without the text vector is looked at again
SCHEMA_TYPES = {
    "datetime": models.PayloadSchemaType.DATETIME,
    "keyword": models.PayloadSchemaType.KEYWORD,
    "integer": models.PayloadSchemaType.INTEGER,
    "geo": models.PayloadSchemaType.GEO,
}


class QdrantServerIndex:
    """VectorIndex on a Qdrant server through qdrant-client: one collection per model behind
    the alias `collection` (see server_layout.py). Searches go to the collection of the vector
    they name; payload writes go to every model's collection, so a collection being filled for
    a model switch stays in step. transfer: how snapshots reach the server (None in
    qdrant-client's local mode, which has no snapshots)."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        tuning: IndexTuning | None = None,
        transfer: SnapshotTransfer | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.tuning = tuning or IndexTuning()
        self.transfer = transfer
        self.layout = CollectionLayout(client, collection)
        self._payload_indexes_checked: set[str] = set()
        # collection -> holds the text vector; "no" is asked again after TEXT_RECHECK seconds,
        # as another process (a worker's first scan after an upgrade) may add it
        self._text_spaces: dict[str, bool] = {}
        self._text_checked_at: dict[str, float] = {}

    def ensure_vector(self, name: str, dim: int) -> None:
        self.layout.refresh()
        existing = self.vector_names()
        if name in existing and existing[name] != dim:
            raise IndexBackendError(
                f"collection {self.layout.collection_for(name)!r} holds vector {name!r} of "
                f"size {existing[name]}, not {dim}"
            )
        collection = self.layout.collection_for(name)
        if name not in existing:
            self._create_collection(collection, name, dim)
        if collection not in self._payload_indexes_checked:  # made elsewhere, or an older one
            self._create_payload_indexes(collection)
            self._ensure_text_space(collection)
        if self.layout.active() is None:
            self.layout.point_alias_at(name)  # the first model: searches start with it

    def _create_collection(self, collection: str, name: str, dim: int) -> None:
        quantization = _quantization_config(self.tuning.quantization)
        params = models.VectorParams(
            size=dim, distance=models.Distance.COSINE, on_disk=quantization is not None or None
        )
        try:
            self.client.create_collection(
                collection,
                vectors_config={name: params},
                hnsw_config=models.HnswConfigDiff(
                    m=self.tuning.m, ef_construct=self.tuning.ef_construct
                ),
                quantization_config=quantization,
                sparse_vectors_config={
                    TEXT_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
        except (UnexpectedResponse, ValueError):
            if not self.client.collection_exists(collection):
                raise
            log.info("collection %s was made by another process meanwhile", collection)

    def vector_names(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for name, collection in self.layout.collections().items():
            held = vector_sizes(self.client, collection)
            if name in held:
                sizes[name] = held[name]
        return sizes

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        # each model's collection gets its own vector; a dropped model's vector is left out
        for name, collection in self.layout.collections().items():
            structs = [
                self._struct(collection, p.id, {name: p.vectors[name].tolist()}, p.payload)
                for p in points
                if name in p.vectors
            ]
            if structs:
                self.client.upsert(collection, structs, wait=True)

    def _struct(
        self, collection: str, point_id: str, vectors: dict[str, Any], payload: dict[str, Any]
    ) -> models.PointStruct:
        """A point for this collection, with its words when the collection holds them."""
        if self._has_text(collection):
            vectors = vectors | {TEXT_VECTOR: _sparse(text_vector(payload))}
        return models.PointStruct(id=point_id, vector=vectors, payload=payload)

    def _has_text(self, collection: str) -> bool:
        """Whether the collection holds the text vector (one made before text search gains it
        at the first scan, on a server that can add a named vector: see _ensure_text_space)."""
        known = self._text_spaces.get(collection)
        stale = time.monotonic() - self._text_checked_at.get(collection, 0.0) > TEXT_RECHECK
        if known is None or (not known and stale):
            params = self.client.get_collection(collection).config.params
            self._text_spaces[collection] = TEXT_VECTOR in (params.sparse_vectors or {})
            self._text_checked_at[collection] = time.monotonic()
        return self._text_spaces[collection]

    def _ensure_text_space(self, collection: str) -> bool:
        """Adds the sparse text vector to a collection made before text search; its points get
        their words from the text backfill. A server older than Qdrant 1.18 cannot add a named
        vector: that collection stays without words until the next model switch makes a new one.
        Whether the collection holds the text vector now."""
        if self._has_text(collection):
            return True
        space = models.SparseVectorNameConfig(
            sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF)
        )
        try:  # the same space twice is a no-op on the server, so two processes may both ask
            self.client.create_vector_name(collection, TEXT_VECTOR, space, wait=True)
        except UnexpectedResponse as error:
            log.warning(
                "collection %s has no word search: this Qdrant server cannot add a vector to a "
                "collection (Qdrant >= 1.18 can; %s); a model switch or a newer server brings it",
                collection, error.status_code,
            )  # fmt: skip
            return False
        self._text_spaces[collection] = True
        return True

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        # by filter: a collection still being filled may not hold the point yet
        selector = models.Filter(must=[models.HasIdCondition(has_id=[point_id])])
        for collection in set(self.layout.collections().values()):
            self.client.set_payload(collection, payload, points=selector, wait=True)
            if TEXT_KEYS & payload.keys():
                self._write_text(collection, self._payloads(collection, [point_id]))

    def set_text(self, points: Sequence[StoredPoint]) -> None:
        ids = valid_point_ids([p.id for p in points])
        for collection in set(self.layout.collections().values()) if ids else ():
            self._write_text(collection, self._payloads(collection, ids))

    def _write_text(self, collection: str, payloads: dict[str, dict[str, Any]]) -> None:
        if not payloads or not self._has_text(collection):
            return
        updates = [
            models.PointVectors(id=i, vector={TEXT_VECTOR: _sparse(text_vector(payload))})
            for i, payload in payloads.items()
        ]
        self.client.update_vectors(collection, updates, wait=True)

    def delete(self, point_ids: Sequence[str]) -> None:
        point_ids = valid_point_ids(point_ids)
        if not point_ids:
            return
        for collection in set(self.layout.collections().values()):
            selector = models.PointIdsList(points=list(point_ids))
            self.client.delete(collection, selector, wait=True)

    def update_vectors(self, name: str, vectors: dict[str, np.ndarray]) -> None:
        """The points' payloads come from the collection searches use; writes that reached it
        while the copy was on its way are applied to the copy again."""
        ids = valid_point_ids(list(vectors))
        source, target = self.layout.active(), self.layout.collection_for(name)
        if not ids or source is None or not self.client.collection_exists(target):
            return
        before = self._payloads(source, ids)
        structs = [self._struct(target, i, {name: vectors[i].tolist()}, before[i]) for i in before]
        if not structs:
            return
        if source == target:
            self.client.update_vectors(
                target, [models.PointVectors(id=s.id, vector=s.vector) for s in structs], wait=True
            )
            return
        self.client.upsert(target, structs, wait=True)
        self._catch_up(source, target, before)

    def _catch_up(self, source: str, target: str, before: dict[str, dict[str, Any]]) -> None:
        after = self._payloads(source, list(before))
        gone = [i for i in before if i not in after]
        if gone:
            self.client.delete(target, models.PointIdsList(points=list(gone)), wait=True)
        for point_id, payload in after.items():
            if payload != before[point_id]:
                self.client.overwrite_payload(target, payload, points=[point_id], wait=True)
                self._write_text(target, {point_id: payload})

    def _payloads(self, collection: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        records = self.client.retrieve(collection, ids, with_payload=True, with_vectors=False)
        return {str(r.id): r.payload or {} for r in records}

    def lacking_vector(
        self, name: str, limit: int, start: str | None = None
    ) -> tuple[list[StoredPoint], str | None]:
        """Walks the collection searches use, `limit` points a call, and answers those the
        model's own collection lacks."""
        source, target = self.layout.active(), self.layout.collection_for(name)
        if source is None or source == target:
            return [], None
        records, following = self.client.scroll(
            source, limit=limit, offset=start, with_payload=True, with_vectors=False
        )
        ids = [str(r.id) for r in records]
        present: set[str] = set()
        if ids and self.client.collection_exists(target):
            present = {str(r.id) for r in self.client.retrieve(target, ids, with_payload=False)}
        lacking = [
            stored_point(r.id, r.payload, None, None) for r in records if str(r.id) not in present
        ]
        return lacking, str(following) if following is not None else None

    def lacking_text(
        self, limit: int, start: str | None = None
    ) -> tuple[list[StoredPoint], str | None]:
        """Points of the collection searches use without their words (a collection made before
        text search gains the text vector here, before its first backfill)."""
        collection = self.layout.active()
        if collection is None or not self._ensure_text_space(collection):
            return [], None
        lacking = models.Filter(must_not=[models.HasVectorCondition(has_vector=TEXT_VECTOR)])
        records, following = self.client.scroll(
            collection, scroll_filter=lacking, limit=limit, offset=start, with_payload=True,
            with_vectors=False,
        )  # fmt: skip
        points = [stored_point(r.id, r.payload, None, None) for r in records]
        return points, str(following) if following is not None else None

    def scroll(
        self,
        vector: str | None,
        limit: int,
        start: str | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[list[StoredPoint], str | None]:
        collection = self.layout.collection_for(vector) if vector else self.layout.active()
        if collection is None or not self.client.collection_exists(collection):
            return [], None
        records, following = self.client.scroll(
            collection, scroll_filter=server_filter(filters), limit=limit, offset=start,
            with_payload=True, with_vectors=[vector] if vector else False,
        )  # fmt: skip
        points = [stored_point(r.id, r.payload, r.vector, vector) for r in records]
        return points, str(following) if following is not None else None

    def by_date(
        self, filters: SearchFilters, newest_first: bool, limit: int, start: str | None = None
    ) -> list[StoredPoint]:
        collection = self.layout.active()
        if collection is None or not self.client.collection_exists(collection):
            return []
        direction = models.Direction.DESC if newest_first else models.Direction.ASC
        since = datetime.fromisoformat(start) if start else None
        order = models.OrderBy(key="taken_at", direction=direction, start_from=since)
        records, _ = self.client.scroll(
            collection, scroll_filter=server_filter(filters), limit=limit, with_payload=True,
            with_vectors=False, order_by=order,
        )  # fmt: skip
        return [stored_point(r.id, r.payload, None, None) for r in records]

    def drop_vector(self, name: str) -> None:
        collection = self.layout.collection_for(name)
        if self.client.collection_exists(collection):
            self.client.delete_collection(collection)
        self._text_spaces.pop(collection, None)
        self.layout.refresh()

    def set_active_vector(self, name: str) -> None:
        self.layout.point_alias_at(name)

    def retrieve(self, point_ids: Sequence[str], vector: str | None = None) -> list[StoredPoint]:
        point_ids = valid_point_ids(point_ids)
        collection = self.layout.collection_for(vector) if vector else self.layout.active()
        if not point_ids or collection is None or not self.client.collection_exists(collection):
            return []
        records = self.client.retrieve(
            collection,
            list(point_ids),
            with_payload=True,
            with_vectors=[vector] if vector else False,
        )
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
        query = vector.astype(np.float32).tolist()
        return self._query(query, vector_name, filters, limit, offset, score_threshold)

    def search_text(
        self, query: TextVector, filters: SearchFilters, limit: int, offset: int = 0
    ) -> list[Hit]:
        collection = self.layout.active()
        if not query.indices or collection is None or not self._has_text(collection):
            return []
        response = self.client.query_points(
            collection, query=_sparse(query), using=TEXT_VECTOR,
            query_filter=server_filter(filters), limit=limit, offset=offset, with_payload=True,
        )  # fmt: skip
        return [Hit(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def recommend(
        self,
        vector_name: str,
        positives: Sequence[np.ndarray],
        negatives: Sequence[np.ndarray],
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
    ) -> list[Hit]:
        examples = models.RecommendInput(
            positive=[v.astype(np.float32).tolist() for v in positives],
            negative=[v.astype(np.float32).tolist() for v in negatives],
            strategy=models.RecommendStrategy.BEST_SCORE,
        )
        query = models.RecommendQuery(recommend=examples)
        return self._query(query, vector_name, filters, limit, offset, None)

    def _query(
        self,
        query: Any,
        vector_name: str,
        filters: SearchFilters,
        limit: int,
        offset: int,
        score_threshold: float | None,
    ) -> list[Hit]:
        collection = self.layout.collection_for(vector_name)
        if not self.client.collection_exists(collection):
            return []
        response = self.client.query_points(
            collection,
            query=query,
            using=vector_name,
            query_filter=server_filter(filters),
            limit=limit,
            offset=offset,
            score_threshold=score_threshold,
            with_payload=True,
            search_params=models.SearchParams(
                hnsw_ef=self.tuning.ef,
                exact=self.tuning.exact,
                quantization=models.QuantizationSearchParams(
                    rescore=True, oversampling=OVERSAMPLING[self.tuning.quantization]
                ),
            ),
        )
        return [Hit(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def count(self, filters: SearchFilters | None = None) -> int:
        collection = self.layout.active()
        if collection is None or not self.client.collection_exists(collection):
            return 0
        result = self.client.count(collection, count_filter=server_filter(filters), exact=True)
        return int(result.count)

    def facet(
        self, field: str, filters: SearchFilters | None = None, limit: int = 100
    ) -> list[tuple[str, int]]:
        collection = self.layout.active()
        if collection is None or not self.client.collection_exists(collection):
            return []
        if collection not in self._payload_indexes_checked:
            self._create_payload_indexes(collection)  # a facet needs its field's index
        try:
            found = self.client.facet(
                collection, key=field, facet_filter=server_filter(filters), limit=limit,
                exact=True,
            )  # fmt: skip
        except UnexpectedResponse as error:
            message = f"the Qdrant server refused a facet of {field!r}: {error}"
            raise IndexBackendError(message) from error
        return [(str(hit.value), int(hit.count)) for hit in found.hits]

    def save_to(self, directory: Path) -> dict[str, Any]:
        """A snapshot of the collection searches use, made on the server and downloaded."""
        transfer = self._require_transfer()
        directory.mkdir(parents=True)
        self.layout.refresh()
        collection = self.layout.active()
        if collection is None:
            return {"backend": SERVER_BACKEND, "collection": None}
        vectors = vector_sizes(self.client, collection)
        snapshot = self.client.create_snapshot(collection, wait=True)
        assert snapshot is not None, "wait=True answers the snapshot made"
        try:
            transfer.download(
                collection, snapshot.name, directory / SNAPSHOT_FILE, snapshot.checksum
            )
        finally:
            self.client.delete_snapshot(collection, snapshot.name, wait=True)
        return {
            "backend": SERVER_BACKEND,
            "collection": collection,
            "vectors": vectors,
            "file": SNAPSHOT_FILE,
            "checksum": snapshot.checksum,
        }

    def restore_from(self, directory: Path, saved: dict[str, Any], active: str) -> None:
        """Recover the active model's collection from the snapshot, drop every other
        collection of this index, and point the alias at the recovered one."""
        transfer = self._require_transfer()
        target = f"{self.collection}-{active}" if saved.get("collection") else None
        if target is not None:
            transfer.upload(target, directory / saved["file"], saved.get("checksum"))
        self.layout.refresh()
        for collection in set(self.layout.collections().values()) - {target}:
            self.client.delete_collection(collection)
        self.layout.refresh()
        self._payload_indexes_checked.clear()
        self._text_spaces.clear()
        if target is not None:
            self.layout.point_alias_at(active)

    def _require_transfer(self) -> SnapshotTransfer:
        if self.transfer is None:
            raise IndexBackendError(
                "backups of a Qdrant server index are Qdrant snapshots, which qdrant-client's "
                "local mode does not make"
            )
        return self.transfer

    def optimize(self) -> None:
        """The server builds its HNSW in the background; nothing to do here."""

    def flush(self) -> None:
        """Writes are acknowledged with wait=True, so they are durable already."""

    def close(self) -> None:
        self.client.close()

    def _create_payload_indexes(self, collection: str) -> None:
        with warnings.catch_warnings():
            # local mode warns that payload indexes have no effect there; a server uses them
            warnings.simplefilter("ignore", UserWarning)
            for field_name, kind in PAYLOAD_INDEXES.items():  # idempotent on a server
                self.client.create_payload_index(collection, field_name, SCHEMA_TYPES[kind])
        self._payload_indexes_checked.add(collection)


def _sparse(vector: TextVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


def _quantization_config(kind: str) -> models.QuantizationConfig | None:
    """The collection's quantization for IndexTuning.quantization (None: vectors as they are)."""
    if kind == "int8":
        return models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=True
            )
        )
    if kind == "binary":
        return models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))
    if kind == "pq":
        return models.ProductQuantization(
            product=models.ProductQuantizationConfig(
                compression=models.CompressionRatio.X16, always_ram=True
            )
        )
    return None
