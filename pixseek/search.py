"""Search: compose one vector from weighted text, images and photos, then ask the index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from embed.decode import decode_rgb, open_image
from pixseek.errors import NotFoundError, QueryError
from pixseek.index.base import SearchFilters, VectorIndex
from pixseek.query import parse_query_text

if TYPE_CHECKING:
    from embed.model import Embedder

MAX_LIMIT = 1000


@dataclass(frozen=True)
class QueryTerm:
    """One part of a query. value: text, an image file path or its bytes, or a photo id."""

    kind: Literal["text", "image", "photo"]
    value: str | bytes | Path
    weight: float = 1.0


@dataclass(frozen=True)
class SearchRequest:
    terms: tuple[QueryTerm, ...]
    filters: SearchFilters = field(default_factory=SearchFilters)
    limit: int = 20
    offset: int = 0
    score_threshold: float | None = None


@dataclass(frozen=True)
class SearchResult:
    id: str
    score: float
    path: str | None
    payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "score": self.score, "payload": self.payload}


def text_terms(query: str | None) -> list[QueryTerm]:
    """The query-text part of a request as terms (none for empty text)."""
    if not query or not query.strip():
        return []
    return [QueryTerm("text", term.text, term.weight) for term in parse_query_text(query)]


def search(request: SearchRequest, embedder: Embedder, index: VectorIndex) -> list[SearchResult]:
    """Results of a composed query, best first. Photos used as query terms are left out."""
    _validate(request)
    vector = compose_vector(request.terms, embedder, index)
    query_photos = tuple(str(t.value) for t in request.terms if t.kind == "photo" and t.weight > 0)
    filters = request.filters
    if query_photos:
        filters = _replace_exclusions(filters, query_photos)
    hits = index.search(
        embedder.model_id, vector, filters, request.limit, request.offset, request.score_threshold
    )
    return [SearchResult(h.id, h.score, _first_path(h.payload), h.payload) for h in hits]


def compose_vector(
    terms: Sequence[QueryTerm], embedder: Embedder, index: VectorIndex
) -> np.ndarray:
    """The normalised weighted sum of the terms' embeddings."""
    vectors = np.concatenate(
        [
            _text_vectors(terms, embedder),
            _image_vectors(terms, embedder),
            _photo_vectors(terms, embedder, index),
        ]
    )
    weights = np.array(
        [t.weight for kind in ("text", "image", "photo") for t in terms if t.kind == kind],
        dtype=np.float32,
    )
    combined = weights @ vectors
    norm = float(np.linalg.norm(combined))
    if norm < 1e-6:
        raise QueryError("the query terms cancel each other out; change a weight or a term")
    return (combined / norm).astype(np.float32)


def _text_vectors(terms: Sequence[QueryTerm], embedder: Embedder) -> np.ndarray:
    return embedder.embed_texts([str(t.value) for t in terms if t.kind == "text"])


def _image_vectors(terms: Sequence[QueryTerm], embedder: Embedder) -> np.ndarray:
    images = [_decode(t.value, embedder.image_size) for t in terms if t.kind == "image"]
    return embedder.embed_images(images)


def _decode(source: str | bytes | Path, min_side: int) -> Image.Image:
    with open_image(source) as image:
        return decode_rgb(image, min_side=min_side)


def _photo_vectors(
    terms: Sequence[QueryTerm], embedder: Embedder, index: VectorIndex
) -> np.ndarray:
    ids = [str(t.value) for t in terms if t.kind == "photo"]
    if not ids:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    stored = index.retrieve(ids, vector=embedder.model_id)
    found = {p.id: p.vector for p in stored if p.vector is not None}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"no indexed photo with id {', '.join(missing)} (for this model)")
    return np.stack([found[i] for i in ids])


def _validate(request: SearchRequest) -> None:
    if not request.terms:
        raise QueryError("give a text, an image or a photo id to search for")
    if not 1 <= request.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    if request.offset < 0:
        raise QueryError("offset must not be negative")


def _replace_exclusions(filters: SearchFilters, ids: tuple[str, ...]) -> SearchFilters:
    return replace(filters, exclude_ids=tuple(dict.fromkeys(filters.exclude_ids + ids)))


def _first_path(payload: dict[str, Any]) -> str | None:
    paths = payload.get("paths") or []
    return str(paths[0]) if paths else None
