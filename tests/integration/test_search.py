"""Search on real files, the real Edge index and the tiny real model: like/dislike refinement,
date sorts with a relative cutoff, and request validation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageEnhance

from embed import Embedder
from pixseek.errors import NotFoundError, QueryError
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.library import Library
from pixseek.photos.identity import file_sha256, point_id
from pixseek.search.search import (
    MAX_LIMIT,
    QueryTerm,
    SearchRequest,
    SearchResult,
    search,
    search_page,
)
from pixseek.settings import Settings
from tests.imagegen import ExifSpec, textured_rgb, write_image

OTHERS = range(10, 30)


@dataclass(frozen=True)
class Photos:
    """The indexed library: name -> point id, and name -> file."""

    ids: dict[str, str]
    files: dict[str, Path]


def _variants(seed: int, brightness: tuple[float, ...]) -> list[Image.Image]:
    """A picture and near-duplicates of it, each a little brighter than the one before."""
    base = textured_rgb(seed)
    return [base] + [ImageEnhance.Brightness(base).enhance(f) for f in brightness]


def _pictures() -> dict[str, Image.Image]:
    # a1..a3 are barely changed copies of a0; b1..b3 resemble each other more than b0
    pictures = {f"a{i}": image for i, image in enumerate(_variants(1, (1.01, 1.02, 1.03)))}
    pictures |= {f"b{i}": image for i, image in enumerate(_variants(2, (1.3, 1.32, 1.34)))}
    return pictures | {f"other{seed}": textured_rgb(seed) for seed in OTHERS}


def _taken(position: int, name: str) -> str:
    if name == "a3":
        position -= 1  # the same time as a2: ties keep the score order
    return f"20{10 + position // 12}:{1 + position % 12:02d}:15 12:00:00"


@pytest.fixture
def library(settings: Settings, tiny_embedder: Embedder) -> Iterator[Library]:
    with Library(settings) as opened:
        opened.use_embedder(tiny_embedder)  # the session's model: loading it again adds nothing
        yield opened


@pytest.fixture
def photos(tmp_path: Path, library: Library) -> Photos:
    files = {}
    for position, (name, image) in enumerate(_pictures().items()):
        # PNG: lossless, so near-duplicates stay as near as they were made
        exif = ExifSpec(taken=_taken(position, name))
        files[name] = write_image(tmp_path / "lib" / f"{name}.png", image, exif)
    indexer = Indexer(Ingester.of(library))
    assert indexer.run([str(tmp_path / "lib")]).embedded == len(files)
    return Photos({name: point_id(file_sha256(f)) for name, f in files.items()}, files)


def find(library: Library, **request: Any) -> list[SearchResult]:
    terms = tuple(request.pop("terms", ()))
    return search(SearchRequest(terms, **request), library.embedder, library.index)


def ids(results: list[SearchResult]) -> list[str]:
    return [r.id for r in results]


def dates(results: list[SearchResult]) -> list[str]:
    return [r.payload["taken_at"] for r in results]


def image(photos: Photos, name: str) -> QueryTerm:
    return QueryTerm("image", photos.files[name])


def test_a_liked_photo_pulls_its_near_duplicates_up(library: Library, photos: Photos) -> None:
    p = photos.ids
    results = find(library, liked=(p["a0"],), limit=3)
    assert set(ids(results)) == {p["a1"], p["a2"], p["a3"]}
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    page = find(library, liked=(p["a0"],), limit=2, offset=1)
    assert ids(page) == ids(results)[1:3]


def test_a_disliked_photo_pushes_its_near_duplicates_down(library: Library, photos: Photos) -> None:
    p = photos.ids
    liked = (p["a0"], p["b0"])
    before = ids(find(library, liked=liked, limit=100))
    after_results = find(library, liked=liked, disliked=(p["b1"],), limit=100)
    after = ids(after_results)
    for name in ("b2", "b3"):
        assert before.index(p[name]) < 10  # among the first third
        assert after.index(p[name]) >= len(after) - 2, "the disliked photo's neighbours sink"
    assert next(r for r in after_results if r.id == p["b2"]).score < 0
    assert after.index(p["a1"]) < after.index(p["b2"])


def test_rated_photos_and_query_photos_are_left_out(library: Library, photos: Photos) -> None:
    p = photos.ids
    rated = {p["a0"], p["b1"], p["other10"]}
    terms = (QueryTerm("photo", p["b0"]),)
    results = find(
        library, terms=terms, liked=(p["a0"], p["other10"]), disliked=(p["b1"],), limit=100
    )
    assert len(results) == len(p) - 4
    assert not set(ids(results)) & (rated | {p["b0"]})


def test_dislikes_alone_rank_the_disliked_photos_neighbours_last(
    library: Library, photos: Photos
) -> None:
    p = photos.ids
    results = ids(find(library, disliked=(p["a0"],), limit=100))
    assert len(results) == len(p) - 1 and p["a0"] not in results
    assert set(results[-3:]) == {p["a1"], p["a2"], p["a3"]}


def test_query_terms_are_a_positive_example_beside_the_liked_photos(
    library: Library, photos: Photos
) -> None:
    p = photos.ids
    alone = ids(find(library, terms=[image(photos, "b0")], limit=100))
    refined = ids(find(library, terms=[image(photos, "b0")], liked=(p["a0"],), limit=100))
    assert refined[0] == p["b0"], "the query's own picture is the best match"
    assert refined.index(p["a1"]) < alone.index(p["a1"])


def test_unknown_rated_ids_are_not_found(library: Library, photos: Photos) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match=unknown):
        find(library, liked=(photos.ids["a0"], unknown))
    with pytest.raises(NotFoundError, match=unknown):
        find(library, disliked=(unknown,))


@pytest.mark.parametrize("liked", [False, True], ids=["search", "recommend"])
def test_date_sorts_order_every_candidate_by_date(
    library: Library, photos: Photos, liked: bool
) -> None:
    p = photos.ids
    request: dict[str, Any] = {"cutoff": 0.01, "limit": 100}
    request |= {"liked": (p["a0"],)} if liked else {"terms": [image(photos, "a0")]}
    newest = find(library, sort="date_desc", **request)
    oldest = find(library, sort="date_asc", **request)
    assert len(newest) == len(p) - (1 if liked else 0)
    assert dates(newest) == sorted(dates(newest), reverse=True)
    assert dates(oldest) == sorted(dates(oldest))
    assert set(ids(oldest)) == set(ids(newest)) == set(ids(find(library, **request)))
    for ordered in (newest, oldest):  # a2 and a3 were taken at the same time
        assert ids(ordered).index(p["a2"]) + 1 == ids(ordered).index(p["a3"])


def test_date_sorts_keep_only_hits_near_the_best_score(library: Library, photos: Photos) -> None:
    terms = [image(photos, "a0")]
    ranked = find(library, terms=terms, limit=100)
    best = ranked[0].score
    kept = find(library, terms=terms, sort="date_asc", cutoff=0.98, limit=100)
    assert {photos.ids[f"a{i}"] for i in range(4)} <= set(ids(kept))
    assert all(r.score >= 0.98 * best for r in kept)
    dropped = [r.id for r in ranked if r.score < 0.98 * best]
    assert dropped and not set(dropped) & set(ids(kept))
    assert ids(find(library, terms=terms, sort="date_desc", cutoff=1.0)) == [photos.ids["a0"]]


def test_a_date_sort_counts_what_its_cutoff_hides_and_a_cutoff_of_0_hides_nothing(
    library: Library, photos: Photos
) -> None:
    terms = (image(photos, "a0"),)
    everything = find(library, terms=terms, limit=100)
    for cutoff, hidden in ((0.98, sum(r.score < 0.98 * everything[0].score for r in everything)),
                           (0.0, 0)):  # fmt: skip
        request = SearchRequest(terms, sort="date_desc", cutoff=cutoff, limit=100)
        page = search_page(request, library.embedder, library.index)
        assert hidden > 0 or cutoff == 0
        assert page.hidden_by_cutoff == hidden
        assert len(page.results) == len(everything) - hidden


def test_date_sorts_page_through_the_sorted_candidates(library: Library, photos: Photos) -> None:
    request: dict[str, Any] = {"terms": [image(photos, "b0")], "cutoff": 0.01, "sort": "date_asc"}
    everything = ids(find(library, limit=30, **request))
    assert ids(find(library, limit=10, offset=10, **request)) == everything[10:20]
    assert ids(find(library, limit=10, offset=25, **request)) == everything[25:]


def test_photos_without_a_date_come_last_in_score_order(library: Library, photos: Photos) -> None:
    p = photos.ids
    for name in ("a1", "other20"):
        library.index.set_payload(p[name], {"taken_at": None})
    terms = [image(photos, "a0")]
    for sort in ("date_desc", "date_asc"):
        results = find(library, terms=terms, sort=sort, cutoff=0.01, limit=100)
        assert ids(results)[-2:] == [p["a1"], p["other20"]]  # a1 is nearer to a0


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({}, "give a text"),
        ({"terms": [QueryTerm("text", "x")], "limit": 0}, "limit must be between 1 and 1000"),
        ({"terms": [QueryTerm("text", "x")], "limit": MAX_LIMIT + 1}, "limit must be"),
        ({"terms": [QueryTerm("text", "x")], "offset": -1}, "offset must not be negative"),
        ({"terms": [QueryTerm("text", "x")], "cutoff": -0.1}, "cutoff must be from 0 to 1"),
        ({"terms": [QueryTerm("text", "x")], "cutoff": 1.5}, "cutoff must be"),
        ({"terms": [QueryTerm("text", "x")], "sort": "name"}, "sort must be one of"),
        (
            {"terms": [QueryTerm("text", "x")], "sort": "date_asc", "offset": 990, "limit": 20},
            "offset \\+ limit must be at most 1000",
        ),
        ({"liked": ("x",), "disliked": ("x",)}, "both liked and disliked"),
    ],
)
def test_malformed_requests_are_refused(
    library: Library, request_fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        find(library, **request_fields)


def test_a_relevance_page_may_reach_past_the_date_sorts_window(
    library: Library, photos: Photos
) -> None:
    far = find(library, terms=[image(photos, "a0")], offset=990, limit=20)
    assert far == []


def test_a_date_sort_of_dislikes_alone_keeps_the_best_hits(
    library: Library, photos: Photos
) -> None:
    """Dislikes alone give negative scores; the cutoff still keeps those nearest the best."""
    disliked = (photos.ids["a0"],)
    ranked = find(library, disliked=disliked, limit=100)
    best = ranked[0].score
    assert best < 0
    kept = find(library, disliked=disliked, sort="date_desc", cutoff=0.999, limit=100)
    assert ranked[0].id in ids(kept) and len(kept) < len(ranked)
    assert all(r.score >= best - 0.001 * abs(best) for r in kept)
