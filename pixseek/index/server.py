"""The index on qdrant-client: a Qdrant server by URL, or qdrant-client's local mode by path."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from pixseek.errors import IndexBackendError
from pixseek.index.base import (
    PAYLOAD_INDEXES,
    Hit,
    IndexPoint,
    IndexTuning,
    SearchFilters,
    StoredPoint,
    stored_point,
    valid_point_ids,
)
from pixseek.index.conditions import Condition, to_clauses

log = logging.getLogger(__name__)

SCHEMA_TYPES = {
    "datetime": models.PayloadSchemaType.DATETIME,
    "keyword": models.PayloadSchemaType.KEYWORD,
    "integer": models.PayloadSchemaType.INTEGER,
    "geo": models.PayloadSchemaType.GEO,
}


class QdrantServerIndex:
    """VectorIndex on one collection, reached through qdrant-client."""

    def __init__(
        self, client: QdrantClient, collection: str, tuning: IndexTuning | None = None
    ) -> None:
        self.client = client
        self.collection = collection
        self.tuning = tuning or IndexTuning()
        self._payload_indexes_checked = False

    def ensure_vector(self, name: str, dim: int) -> None:
        existing = self.vector_names()
        if existing.get(name) == dim:
            if not self._payload_indexes_checked:  # a collection made elsewhere, or an older one
                self._create_payload_indexes()
            return
        if existing:
            # A server collection cannot gain a named vector; a model switch builds a new
            # collection behind an alias instead.
            raise IndexBackendError(
                f"collection {self.collection!r} holds vectors {sorted(existing)}, not {name!r} "
                f"of size {dim}; a different model needs a new collection"
            )
        int8 = self.tuning.quantization == "int8"
        params = models.VectorParams(
            size=dim, distance=models.Distance.COSINE, on_disk=int8 or None
        )
        quantization = (
            models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True
                )
            )
            if int8
            else None
        )
        self.client.create_collection(
            self.collection,
            vectors_config={name: params},
            hnsw_config=models.HnswConfigDiff(
                m=self.tuning.m, ef_construct=self.tuning.ef_construct
            ),
            quantization_config=quantization,
        )
        self._create_payload_indexes()

    def vector_names(self) -> dict[str, int]:
        if not self.client.collection_exists(self.collection):
            return {}
        vectors = self.client.get_collection(self.collection).config.params.vectors
        if not isinstance(vectors, dict):
            return {}
        return {name: int(params.size) for name, params in vectors.items()}

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        if not points:
            return
        structs = [
            models.PointStruct(
                id=p.id, vector={n: v.tolist() for n, v in p.vectors.items()}, payload=p.payload
            )
            for p in points
        ]
        self.client.upsert(self.collection, structs, wait=True)

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        self.client.set_payload(self.collection, payload, points=[point_id], wait=True)

    def delete(self, point_ids: Sequence[str]) -> None:
        point_ids = valid_point_ids(point_ids)
        if point_ids and self.client.collection_exists(self.collection):
            selector = models.PointIdsList(points=list(point_ids))
            self.client.delete(self.collection, selector, wait=True)

    def retrieve(self, point_ids: Sequence[str], vector: str | None = None) -> list[StoredPoint]:
        point_ids = valid_point_ids(point_ids)
        if not point_ids or not self.client.collection_exists(self.collection):
            return []
        records = self.client.retrieve(
            self.collection,
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
        if not self.client.collection_exists(self.collection):
            return []
        response = self.client.query_points(
            self.collection,
            query=query,
            using=vector_name,
            query_filter=server_filter(filters),
            limit=limit,
            offset=offset,
            score_threshold=score_threshold,
            with_payload=True,
            search_params=models.SearchParams(
                hnsw_ef=self.tuning.ef,
                quantization=models.QuantizationSearchParams(rescore=True, oversampling=2.0),
            ),
        )
        return [Hit(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def count(self, filters: SearchFilters | None = None) -> int:
        if not self.client.collection_exists(self.collection):
            return 0
        result = self.client.count(self.collection, count_filter=server_filter(filters), exact=True)
        return int(result.count)

    def optimize(self) -> None:
        """The server builds its HNSW in the background; nothing to do here."""

    def flush(self) -> None:
        """Writes are acknowledged with wait=True, so they are durable already."""

    def close(self) -> None:
        self.client.close()

    def _create_payload_indexes(self) -> None:
        with warnings.catch_warnings():
            # local mode warns that payload indexes have no effect there; a server uses them
            warnings.simplefilter("ignore", UserWarning)
            for field_name, kind in PAYLOAD_INDEXES.items():  # idempotent on a server
                self.client.create_payload_index(self.collection, field_name, SCHEMA_TYPES[kind])
        self._payload_indexes_checked = True


def server_filter(filters: SearchFilters | None) -> models.Filter | None:
    """SearchFilters as a qdrant-client filter (None when nothing filters)."""
    if filters is None or filters.is_empty():
        return None
    clauses = to_clauses(filters)
    return models.Filter(
        must=[_server_condition(c) for c in clauses.must] or None,
        must_not=[_server_condition(c) for c in clauses.must_not] or None,
    )


def _datetime(value: str | None) -> datetime | None:
    # stored wall-clock times carry no offset; the server reads those as UTC, so bounds match
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc) if value else None


def _server_condition(condition: Condition) -> Any:
    if condition.kind == "any":
        return models.FieldCondition(
            key=condition.key, match=models.MatchAny(any=list(condition.values))
        )
    if condition.kind == "datetime":
        return models.FieldCondition(
            key=condition.key,
            range=models.DatetimeRange(gte=_datetime(condition.gte), lt=_datetime(condition.lt)),
        )
    if condition.kind == "is_empty":
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=condition.key))
    return models.HasIdCondition(has_id=list(condition.values))
