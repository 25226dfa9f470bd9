"""The small interface every vector index backend implements, and the types it speaks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from pixseek.photos.text import TextVector

EDGE_BACKEND, SERVER_BACKEND = "qdrant-edge", "qdrant-server"  # as stats and backups name them
Shape = Literal["landscape", "portrait", "square"]
Quantization = Literal["none", "int8", "binary", "pq"]


@dataclass(frozen=True)
class IndexTuning:
    """How the HNSW graph is built and searched, and whether vectors are quantized.

    m and ef_construct apply when a collection or shard is created; ef on every search.
    int8 keeps a quantized copy of each vector in memory, the originals on disk, and rescores
    the best candidates with the originals (a quarter of the vector memory, about the same
    recall; see docs/performance.md). binary (1 bit a dimension) and pq (product quantization,
    16x smaller) keep less in memory still and rescore the same way, with more candidates
    (OVERSAMPLING); their recall is in docs/quality.md. exact: every search scans every vector
    (the eval's baseline), never the HNSW.
    """

    m: int = 16
    ef_construct: int = 100
    ef: int = 256
    quantization: Quantization = "int8"
    exact: bool = False


# Candidates taken by the quantized vectors, as a multiple of the limit, before the originals
# rescore them: the coarser the code, the more candidates it takes to keep the true best.
OVERSAMPLING: dict[str, float] = {"none": 1.0, "int8": 2.0, "binary": 4.0, "pq": 4.0}


# Payload fields and the index type each gets (see docs/architecture.md, "Point schema").
PAYLOAD_INDEXES: dict[str, str] = {
    "taken_at": "datetime",
    "camera_keys": "keyword",
    "camera_make": "keyword",
    "camera_model": "keyword",
    "folders": "keyword",
    "format": "keyword",
    "shape": "keyword",
    "tags": "keyword",
    "width": "integer",
    "height": "integer",
    "gps": "geo",
    "city": "keyword",
    "region": "keyword",
    "country": "keyword",
    "place_keys": "keyword",
}


@dataclass(frozen=True)
class GeoRadius:
    """Photos within km kilometres of (lat, lon), decimal degrees."""

    lat: float
    lon: float
    km: float


@dataclass(frozen=True)
class GeoBox:
    """Photos inside the box between two corners: north-west (top-left) and south-east; a
    box whose west edge lies east of its east edge crosses the 180th meridian."""

    north: float
    west: float
    south: float
    east: float

    @classmethod
    def from_corners(cls, lat1: float, lon1: float, lat2: float, lon2: float) -> GeoBox:
        """The box between two opposite corners, given in any order (west: the smaller
        longitude, so such a box never crosses the 180th meridian)."""
        return cls(max(lat1, lat2), min(lon1, lon2), min(lat1, lat2), max(lon1, lon2))


@dataclass(frozen=True)
class SearchFilters:
    """Metadata conditions a result must meet; empty fields do not filter.

    taken_from is inclusive and taken_until exclusive, both wall-clock ISO-8601 datetimes
    without offset (photos keep the local time they were taken at). Each tuple matches any of
    its values (OR); the fields combine with AND.
    """

    taken_from: str | None = None
    taken_until: str | None = None
    cameras: tuple[str, ...] = ()  # lower-case make, model or "make model"
    folders: tuple[str, ...] = ()  # absolute folder paths; a folder matches its subfolders too
    formats: tuple[str, ...] = ()  # lower-case Pillow format names: jpeg, png, webp, ...
    shapes: tuple[Shape, ...] = ()
    has_location: bool | None = None
    near: GeoRadius | None = None
    box: GeoBox | None = None
    places: tuple[str, ...] = ()  # city, region or country names, as place_key writes them
    unnamed_places: bool = False  # photos with coordinates whose place was never looked up
    exclude_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return self == SearchFilters()


@dataclass(frozen=True)
class IndexPoint:
    """A point to upsert: id, one vector per named model vector, and its payload."""

    id: str
    vectors: dict[str, np.ndarray]
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    """A point read back by id; vector is set only when it was asked for."""

    id: str
    payload: dict[str, Any]
    vector: np.ndarray | None = None


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


class VectorIndex(Protocol):
    """What pixseek needs of a vector store. Every backend passes tests/integration's contract."""

    def ensure_vector(self, name: str, dim: int) -> None:
        """Make sure a named cosine vector of this size exists; create it if missing."""

    def vector_names(self) -> dict[str, int]:
        """The named vectors the index holds, with their sizes."""

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        """Insert or replace points (same id: the point is replaced whole); each gets the
        text vector of its payload too."""

    def set_payload(self, point_id: str, payload: dict[str, Any]) -> None:
        """Merge these payload keys into one point (its text vector follows its words)."""

    def update_vectors(self, name: str, vectors: dict[str, np.ndarray]) -> None:
        """Give existing points (by id) a vector of this name, keeping their payload and their
        other vectors; ids not in the index are ignored."""

    def lacking_vector(
        self, name: str, limit: int, start: str | None = None
    ) -> tuple[list[StoredPoint], str | None]:
        """Up to limit points without a vector of this name (payload only), in id order from
        start (None: the beginning), and where the next call starts (None once every point
        was looked at). A backend may answer fewer, even none, before the walk ends."""

    def lacking_text(
        self, limit: int, start: str | None = None
    ) -> tuple[list[StoredPoint], str | None]:
        """Like lacking_vector, for the sparse text vector: points of the index searches use
        that have no words yet (made before text search), with their payload."""

    def set_text(self, points: Sequence[StoredPoint]) -> None:
        """Give these points (by id) the text vector of their payload as the index holds it
        now (a write since they were read wins); ids not in the index are ignored. Every write
        of a payload does this itself (upsert, set_payload): this is for points written before
        text search."""

    def scroll(
        self,
        vector: str | None,
        limit: int,
        start: str | None = None,
        filters: SearchFilters | None = None,
    ) -> tuple[list[StoredPoint], str | None]:
        """Up to limit points (those passing filters, when given) in id order from start (None:
        the beginning), with their payload and the named vector when given (points without it
        come with vector None), and where the next call starts (None at the end)."""

    def drop_vector(self, name: str) -> None:
        """Delete this named vector from every point, and its space (a no-op when absent)."""

    def set_active_vector(self, name: str) -> None:
        """Say which named vector searches use now (a server points its alias at it)."""

    def delete(self, point_ids: Sequence[str]) -> None:
        """Remove points; unknown ids are ignored."""

    def retrieve(self, point_ids: Sequence[str], vector: str | None = None) -> list[StoredPoint]:
        """Points by id (missing ids are left out), with the named vector when given."""

    def search(
        self,
        vector_name: str,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
        score_threshold: float | None = None,
    ) -> list[Hit]:
        """Nearest points by cosine similarity among those the filters let through."""

    def search_text(
        self, query: TextVector, filters: SearchFilters, limit: int, offset: int = 0
    ) -> list[Hit]:
        """Points whose words (pixseek.photos.text) match the query's, best first by the
        sparse dot product with IDF (BM25-like), among those the filters let through."""

    def recommend(
        self,
        vector_name: str,
        positives: Sequence[np.ndarray],
        negatives: Sequence[np.ndarray],
        filters: SearchFilters,
        limit: int,
        offset: int = 0,
    ) -> list[Hit]:
        """Best-score recommendation from example vectors (negatives alone work too) among
        points the filters let through.

        A point's score is its similarity to the nearest positive when that beats its
        similarity to the nearest negative, else a negative number: the closer to a negative,
        the lower.
        """

    def count(self, filters: SearchFilters | None = None) -> int:
        """How many points pass the filters (all points when None)."""

    def facet(
        self, field: str, filters: SearchFilters | None = None, limit: int = 100
    ) -> list[tuple[str, int]]:
        """The values of a keyword payload field among the points passing the filters, with
        how many points hold each, most first (at most limit values)."""

    def by_date(
        self, filters: SearchFilters, newest_first: bool, limit: int, start: str | None = None
    ) -> list[StoredPoint]:
        """Points passing the filters in the order they were taken (`taken_at`), from start
        (a taken_at, included) on; points without a date are not among them."""

    def optimize(self) -> None:
        """Build the search structures (HNSW) for what was written; may take long."""

    def flush(self) -> None:
        """Make written points durable."""

    def save_to(self, directory: Path) -> dict[str, Any]:
        """Write a consistent copy of the index into directory (which must not exist yet) and
        answer what restore_from needs besides its files; its "backend" names the backend."""

    def restore_from(self, directory: Path, saved: dict[str, Any], active: str) -> None:
        """Replace the index's content by the copy save_to wrote into directory; active: the
        named vector searches use."""

    def close(self) -> None:
        """Release files and connections."""


def valid_point_ids(point_ids: Sequence[str]) -> list[str]:
    """The ids that can name a point (UUIDs); others can match nothing, so they are dropped
    here rather than failing inside the backend."""
    valid = []
    for point_id in point_ids:
        try:
            uuid.UUID(str(point_id))
        except ValueError:
            continue
        valid.append(str(point_id))
    return valid


def stored_point(point_id: Any, payload: Any, vectors: Any, name: str | None) -> StoredPoint:
    """A StoredPoint from a backend record, keeping only the named vector asked for."""
    vector = None
    if name and isinstance(vectors, dict) and name in vectors:
        vector = np.asarray(vectors[name], dtype=np.float32)
    return StoredPoint(str(point_id), payload or {}, vector)
