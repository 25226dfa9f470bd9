"""Search: compose one vector from weighted text, images and photos, then ask the index.

Liked and disliked photos turn the search into a best-score recommendation: the composed vector
(if any) and the liked photos are the positive examples, the disliked ones the negative. Text
terms also search the photos' words, fused with the picture search (hybrid.py). Date
sorts take the best MAX_LIMIT candidates, keep those scoring close to the best one (the cutoff),
and order them by when they were taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from PIL import Image

from embed.decode import decode_rgb, open_image
from pixseek.errors import NotFoundError, QueryError
from pixseek.index.base import Hit, SearchFilters, VectorIndex
from pixseek.photos.text import query_vector
from pixseek.search.folders import resolve_folder_names
from pixseek.search.hybrid import FUSIONS, Candidates, Fusion, fuse, visual_only
from pixseek.search.query import parse_query_text
from pixseek.search.rerank import FEATURE_SIDE, Features, Reranker

if TYPE_CHECKING:
    from embed.model import Embedder

MAX_LIMIT = 1000  # the most results one request sees; date sorts order this many candidates
FUSION_WINDOW = 100  # a text query's results fused over the same lists for pages within it
Sort = Literal["relevance", "date_desc", "date_asc"]
SORTS: tuple[str, ...] = get_args(Sort)


@dataclass(frozen=True)
class QueryTerm:
    """One part of a query. value: text, an image file path or its bytes, or a photo id."""

    kind: Literal["text", "image", "photo"]
    value: str | bytes | Path
    weight: float = 1.0


@dataclass(frozen=True)
class SearchRequest:
    """What to search for, among which photos, and which page of the results in which order."""

    terms: tuple[QueryTerm, ...]
    filters: SearchFilters = field(default_factory=SearchFilters)
    limit: int = 20
    offset: int = 0
    score_threshold: float | None = None
    sort: Sort = "relevance"
    cutoff: float = 0.9  # date sorts keep hits with score >= cutoff * best score; 0 keeps all
    liked: tuple[str, ...] = ()  # photo ids: like/dislike refinement
    disliked: tuple[str, ...] = ()
    # image terms decoding to more pixels (after JPEG scaling) are refused: a small PNG can
    # hold a picture whose decode takes gigabytes
    image_max_pixels: int | None = None
    # image queries: re-rank the best candidates by local features and geometry (rerank.py)
    rerank: bool = False
    # text terms: fuse the picture and the word searches (rrf, weighted), or use one alone
    fusion: Fusion = "rrf"

    @property
    def query_text(self) -> str:
        """The words the word search looks for: the positive text terms."""
        return " ".join(str(t.value) for t in self.terms if t.kind == "text" and t.weight > 0)

    @property
    def searches_words(self) -> bool:
        """Whether the word search runs beside (or instead of) the picture's: positive text
        terms, no ratings, a fusion other than visual-only."""
        return bool(self.query_text) and not self.rated and self.fusion != "visual"

    @property
    def rated(self) -> bool:
        return bool(self.liked or self.disliked)

    @property
    def by_example(self) -> bool:
        """An image or "more like this" query: positive image or photo terms, no text, no
        ratings, by relevance; the queries spatial re-ranking applies to."""
        examples = [t for t in self.terms if t.kind in ("image", "photo") and t.weight > 0]
        texts = [t for t in self.terms if t.kind == "text"]
        return bool(examples) and not texts and not self.rated and self.sort == "relevance"


@dataclass(frozen=True)
class SearchResult:
    id: str
    score: float
    path: str | None
    payload: dict[str, Any]
    # what made it a result: name, folder, keyword, caption, place, text (words), visual
    matched: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "path": self.path, "score": self.score, "payload": self.payload,
            "matched": list(self.matched),
        }  # fmt: skip


def text_terms(query: str | None) -> list[QueryTerm]:
    """The query-text part of a request as terms (none for empty text)."""
    if not query or not query.strip():
        return []
    return [QueryTerm("text", term.text, term.weight) for term in parse_query_text(query)]


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    # date sorts: how many of the best MAX_LIMIT candidates score below the cutoff, unshown
    hidden_by_cutoff: int = 0


def search(
    request: SearchRequest,
    embedder: Embedder,
    index: VectorIndex,
    reranker: Reranker | None = None,
) -> list[SearchResult]:
    """One page of results, best first or by date (search_page, without the page's counts)."""
    return search_page(request, embedder, index, reranker).results


def search_page(
    request: SearchRequest,
    embedder: Embedder,
    index: VectorIndex,
    reranker: Reranker | None = None,
) -> SearchPage:
    """One page of results, best first or by date. Photos used as positive query terms and
    every liked or disliked photo are left out of the results. With request.rerank and a
    reranker, an image query's best reranker.k candidates are re-ranked before the page is cut.

    Raises QueryError for a malformed request and NotFoundError for an unknown photo id.
    """
    _validate(request)
    request = replace(request, filters=resolve_folder_names(request.filters, index))
    hidden = 0
    if reranker is not None and request.rerank and request.by_example:
        depth = max(reranker.k, request.offset + request.limit)
        found = _candidates(request, embedder, index, depth, 0)
        hits = reranker.rerank(query_features(request, reranker, index), found.hits)
        hits = hits[request.offset : request.offset + request.limit]
    elif request.sort == "relevance":
        found = _candidates(request, embedder, index, request.limit, request.offset)
        hits = found.hits
    else:
        found, hidden = _dated_candidates(request, embedder, index)
        hits = found.hits[request.offset : request.offset + request.limit]
    results = [
        SearchResult(h.id, h.score, first_path(h.payload), h.payload,
                     tuple(found.matched(h, request.query_text)))
        for h in hits
    ]  # fmt: skip
    return SearchPage(results, hidden)


def _candidates(
    request: SearchRequest, embedder: Embedder, index: VectorIndex, limit: int, offset: int
) -> Candidates:
    """The best hits from offset on: the picture search's fused with the word search's for a
    text query, else the picture search's alone."""
    # the fused page needs both lists from the top, as deep for every page of the first
    # FUSION_WINDOW results: a deeper list would lift a hit that a shallower one ranked on the
    # next page onto a page already shown, and it would never be seen. The word search (a few
    # ms at 1 M photos) goes first: without a word hit the picture's page is asked as it is,
    # since its deeper search costs more (the rescoring reads of a quantized index)
    depth = max(offset + limit, FUSION_WINDOW)
    text = _text_hits(request, index, depth) if request.searches_words else []
    if not request.searches_words or (not text and request.fusion != "text"):
        return visual_only(_visual_hits(request, embedder, index, limit, offset))
    visual = _visual_hits(request, embedder, index, depth, 0) if request.fusion != "text" else []
    fused = fuse(visual, text, request.fusion, request.query_text)
    return replace(fused, hits=fused.hits[offset : offset + limit])


def _dated_candidates(
    request: SearchRequest, embedder: Embedder, index: VectorIndex
) -> tuple[Candidates, int]:
    """The best MAX_LIMIT candidates of each search kept by the cutoff, each list against its
    own best score, by date; and how many the cutoff left out."""
    words = request.searches_words
    text_only = words and request.fusion == "text"
    visual = [] if text_only else _visual_hits(request, embedder, index, MAX_LIMIT, 0)
    text = _text_hits(request, index, MAX_LIMIT) if words else []
    kept_visual = sort_by_date(visual, request.sort, request.cutoff)
    kept_text = sort_by_date(text, request.sort, request.cutoff)
    kept = {h.id: h for h in [*kept_text, *kept_visual]}  # the picture's score where both
    hidden = len({h.id for h in [*visual, *text]}) - len(kept)
    hits = sort_by_date(list(kept.values()), request.sort, 0)
    return Candidates(hits, frozenset(h.id for h in kept_visual)), hidden


def _text_hits(request: SearchRequest, index: VectorIndex, limit: int) -> list[Hit]:
    filters = _replace_exclusions(request.filters, _excluded_ids(request))
    return index.search_text(query_vector(request.query_text), filters, limit)


def _visual_hits(
    request: SearchRequest, embedder: Embedder, index: VectorIndex, limit: int, offset: int
) -> list[Hit]:
    """The index's answer, best first: a recommendation when photos were rated, else a
    nearest-neighbour search for the composed vector."""
    filters = _replace_exclusions(request.filters, _excluded_ids(request))
    if not request.rated:
        vector = compose_vector(request.terms, embedder, index, request.image_max_pixels)
        threshold = request.score_threshold
        return index.search(embedder.model_id, vector, filters, limit, offset, threshold)
    positives, negatives = _examples(request, embedder, index)
    hits = index.recommend(embedder.model_id, positives, negatives, filters, limit, offset)
    if request.score_threshold is not None:
        # hits come best first, so dropping those below the threshold keeps pages consistent
        hits = [h for h in hits if h.score >= request.score_threshold]
    return hits


def _examples(
    request: SearchRequest, embedder: Embedder, index: VectorIndex
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Positive examples (the query's vector, if it has terms, and the liked photos) and
    negative ones (the disliked photos)."""
    positives = list(_stored_vectors(request.liked, embedder, index))
    if request.terms:
        vector = compose_vector(request.terms, embedder, index, request.image_max_pixels)
        positives.insert(0, vector)
    return positives, list(_stored_vectors(request.disliked, embedder, index))


def query_features(request: SearchRequest, reranker: Reranker, index: VectorIndex) -> Features:
    """The local features of the query's first positive example: an image term decoded, or a
    photo term's stored small image."""
    example = next(t for t in request.terms if t.kind in ("image", "photo") and t.weight > 0)
    if example.kind == "image":
        image = _decode(example.value, FEATURE_SIDE, request.image_max_pixels)
        return reranker.query_features(image)
    photo = str(example.value)
    stored = index.retrieve([photo])
    if not stored:
        raise NotFoundError(f"no indexed photo with id {photo}")
    loaded = reranker.load(Hit(stored[0].id, 0.0, stored[0].payload))
    if loaded is None:
        return reranker.query_features(Image.new("L", (1, 1)))  # no image: nothing matches
    return reranker.query_features(loaded)


def collapse_groups(
    results: Sequence[SearchResult], group_of: Callable[[str], str | None]
) -> list[tuple[SearchResult, list[str]]]:
    """One result per duplicate group (its best), with the ids of the group's other results
    folded under it, in the order of the first of each group. group_of(id) names a photo's
    group (None: in none). Works within the results given: a group spread over two pages
    shows once on each."""
    kept: dict[str, tuple[SearchResult, list[str]]] = {}
    for result in results:
        key = group_of(result.id) or result.id
        if key in kept:
            kept[key][1].append(result.id)
        else:
            kept[key] = (result, [])
    return list(kept.values())


def _excluded_ids(request: SearchRequest) -> tuple[str, ...]:
    query_photos = tuple(str(t.value) for t in request.terms if t.kind == "photo" and t.weight > 0)
    return query_photos + request.liked + request.disliked


def sort_by_date(hits: Sequence[Hit], sort: Sort, cutoff: float) -> list[Hit]:
    """The hits scoring within the cutoff of the best one, by taken_at (newest first for
    date_desc); photos without a date come last. Ties (and the undated) stay in score order.

    The cutoff is relative: with a positive best score s a hit needs cutoff * s. Scores of a
    recommendation from dislikes alone are all negative; there a hit needs s - (1 - cutoff) * |s|,
    the same distance below the best, so the best hit is always kept. A cutoff of 0 keeps all.
    """
    if not hits:
        return []
    best = max(h.score for h in hits)
    floor = best - (1.0 - cutoff) * abs(best) if cutoff > 0 else -math.inf
    kept = sorted((h for h in hits if h.score >= floor), key=_score, reverse=True)
    dated = [h for h in kept if h.payload.get("taken_at")]
    undated = [h for h in kept if not h.payload.get("taken_at")]
    dated.sort(key=_taken_at, reverse=sort == "date_desc")
    return dated + undated


def _score(hit: Hit) -> float:
    return hit.score


def _taken_at(hit: Hit) -> str:
    # wall-clock ISO datetimes without offset, all written alike: text order is time order
    return str(hit.payload["taken_at"])


def compose_vector(
    terms: Sequence[QueryTerm],
    embedder: Embedder,
    index: VectorIndex,
    image_max_pixels: int | None = None,
) -> np.ndarray:
    """The normalised weighted sum of the terms' embeddings."""
    vectors = np.concatenate(
        [
            _text_vectors(terms, embedder),
            _image_vectors(terms, embedder, image_max_pixels),
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


def _image_vectors(
    terms: Sequence[QueryTerm], embedder: Embedder, max_pixels: int | None
) -> np.ndarray:
    images = [_decode(t.value, embedder.image_size, max_pixels) for t in terms if t.kind == "image"]
    return embedder.embed_images(images)


def _decode(source: str | bytes | Path, min_side: int, max_pixels: int | None) -> Image.Image:
    with open_image(source) as image:
        return decode_rgb(image, min_side=min_side, max_decoded_pixels=max_pixels)


def _photo_vectors(
    terms: Sequence[QueryTerm], embedder: Embedder, index: VectorIndex
) -> np.ndarray:
    return _stored_vectors([str(t.value) for t in terms if t.kind == "photo"], embedder, index)


def _stored_vectors(ids: Sequence[str], embedder: Embedder, index: VectorIndex) -> np.ndarray:
    """The indexed vectors of these photos, in order; NotFoundError names any that is missing."""
    if not ids:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    stored = index.retrieve(ids, vector=embedder.model_id)
    found = {p.id: p.vector for p in stored if p.vector is not None}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"no indexed photo with id {', '.join(missing)} (for this model)")
    return np.stack([found[i] for i in ids])


def _validate(request: SearchRequest) -> None:
    if not request.terms and not request.rated:
        raise QueryError("give a text, an image or a photo id to search for, or rate a photo")
    if set(request.liked) & set(request.disliked):
        raise QueryError("a photo cannot be both liked and disliked")
    _validate_page(request)
    _validate_sort(request)


def _validate_page(request: SearchRequest) -> None:
    if not 1 <= request.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    if request.offset < 0:
        raise QueryError("offset must not be negative")


def _validate_sort(request: SearchRequest) -> None:
    if request.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {request.sort!r}")
    if request.fusion not in FUSIONS:
        raise QueryError(f"fusion must be one of {', '.join(FUSIONS)}, not {request.fusion!r}")
    if not 0 <= request.cutoff <= 1:
        raise QueryError("cutoff must be from 0 to 1")
    if request.sort != "relevance" and request.offset + request.limit > MAX_LIMIT:
        raise QueryError(f"offset + limit must be at most {MAX_LIMIT} when sorting by date")


def _replace_exclusions(filters: SearchFilters, ids: tuple[str, ...]) -> SearchFilters:
    return replace(filters, exclude_ids=tuple(dict.fromkeys(filters.exclude_ids + ids)))


def first_path(payload: dict[str, Any]) -> str | None:
    """The first path of a photo's payload; None when it has none."""
    paths = payload.get("paths") or []
    return str(paths[0]) if paths else None
