"""One contract, every backend: Qdrant Edge, qdrant-client local mode, and a real Qdrant server
when PIXSEEK_TEST_QDRANT_URL names one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import IndexBackendError
from pixseek.index.base import (
    PAYLOAD_INDEXES,
    GeoBox,
    GeoRadius,
    IndexPoint,
    IndexTuning,
    SearchFilters,
    StoredPoint,
    VectorIndex,
)
from pixseek.index.edge.shard import EdgeIndex
from pixseek.index.server import collection as collection_module
from pixseek.index.server.collection import QdrantServerIndex
from pixseek.index.server.snapshots import SnapshotTransfer
from pixseek.photos.text import query_vector

DIM = 8
VECTOR = "model-a"
Opener = Callable[[], VectorIndex]


def _edge(tmp_path: Path) -> Opener:
    return lambda: EdgeIndex(tmp_path / "edge")


def _edge_plain(tmp_path: Path) -> Opener:
    return lambda: EdgeIndex(tmp_path / "edge", IndexTuning(m=8, quantization="none"))


def _local(tmp_path: Path) -> Opener:
    from qdrant_client import QdrantClient

    return lambda: QdrantServerIndex(QdrantClient(path=str(tmp_path / "local")), "photos")


def _server(tmp_path: Path) -> Opener:
    from qdrant_client import QdrantClient

    url = os.environ.get("PIXSEEK_TEST_QDRANT_URL")
    if not url:
        pytest.skip("set PIXSEEK_TEST_QDRANT_URL to run the contract against a Qdrant server")
    collection = f"pixseek-test-{uuid.uuid4().hex[:8]}"
    transfer = SnapshotTransfer(url.rstrip("/"), None, timeout=60, retries=2)
    return lambda: QdrantServerIndex(QdrantClient(url=url), collection, transfer=transfer)


@pytest.fixture(
    params=[_edge, _edge_plain, _local, pytest.param(_server, marks=pytest.mark.qdrant_server)],
    ids=["edge", "edge-no-quantization", "qdrant-local", "qdrant-server"],
)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    return request.param(tmp_path)


@pytest.fixture
def index(opener: Opener) -> Iterator[VectorIndex]:
    idx = opener()
    yield idx
    if isinstance(idx, QdrantServerIndex) and os.environ.get("PIXSEEK_TEST_QDRANT_URL"):
        for collection in set(idx.layout.collections().values()):
            idx.client.delete_collection(collection)
    idx.close()


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def photo(seed: int, **payload: object) -> IndexPoint:
    base = {
        "taken_at": None, "camera_keys": [], "folders": [], "format": "jpeg",
        "shape": "landscape", "gps": None, "paths": [f"/lib/{seed}.jpg"],
    }  # fmt: skip
    base.update(payload)
    return IndexPoint(str(uuid.uuid5(uuid.NAMESPACE_OID, str(seed))), {VECTOR: unit(seed)}, base)


def ids(hits: list) -> set[str]:
    return {h.id for h in hits}


def test_an_empty_index_answers_with_nothing(index: VectorIndex) -> None:
    assert index.vector_names() == {}
    assert index.count() == 0
    assert index.search(VECTOR, unit(0), SearchFilters(), limit=5) == []
    assert index.retrieve([photo(0).id]) == []


def test_ensure_vector_is_idempotent_and_refuses_another_size(index: VectorIndex) -> None:
    index.ensure_vector(VECTOR, DIM)
    index.ensure_vector(VECTOR, DIM)
    assert index.vector_names() == {VECTOR: DIM}
    with pytest.raises(IndexBackendError):
        index.ensure_vector(VECTOR, DIM + 1)


def test_upsert_then_retrieve_and_search_nearest_first(index: VectorIndex) -> None:
    index.ensure_vector(VECTOR, DIM)
    points = [photo(seed) for seed in range(20)]
    index.upsert(points)
    assert index.count() == 20
    hits = index.search(VECTOR, unit(7), SearchFilters(), limit=5)
    assert hits[0].id == points[7].id
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].payload["paths"] == ["/lib/7.jpg"]
    stored = index.retrieve([points[3].id, str(uuid.uuid4()), "not-a-photo-id"], vector=VECTOR)
    assert [s.id for s in stored] == [points[3].id]
    assert stored[0].vector is not None
    np.testing.assert_allclose(stored[0].vector, unit(3), atol=1e-5)


def test_upserting_the_same_id_twice_keeps_one_point(index: VectorIndex) -> None:
    index.ensure_vector(VECTOR, DIM)
    index.upsert([photo(1, format="png")])
    index.upsert([photo(1, format="webp")])
    assert index.count() == 1
    assert index.retrieve([photo(1).id])[0].payload["format"] == "webp"


def test_limit_offset_and_score_threshold(index: VectorIndex) -> None:
    index.ensure_vector(VECTOR, DIM)
    index.upsert([photo(seed) for seed in range(10)])
    first = index.search(VECTOR, unit(2), SearchFilters(), limit=4)
    second = index.search(VECTOR, unit(2), SearchFilters(), limit=4, offset=2)
    assert [h.id for h in second[:2]] == [h.id for h in first[2:]]
    above = index.search(VECTOR, unit(2), SearchFilters(), limit=10, score_threshold=0.999)
    assert [h.id for h in above] == [photo(2).id]


def _library(index: VectorIndex) -> dict[str, IndexPoint]:
    index.ensure_vector(VECTOR, DIM)
    trips = ["/", "/lib", "/lib/trips"]
    points = {
        "june_canon": photo(
            1,
            taken_at="2021-06-01T10:00:00",
            camera_keys=["canon", "canon eos 5d"],
            folders=trips,
            gps={"lat": 48.8, "lon": 2.3},
        ),
        "july_apple": photo(
            2,
            taken_at="2021-07-15T08:00:00",
            camera_keys=["apple", "iphone 12"],
            folders=["/", "/lib", "/lib/home"],
            format="png",
            shape="portrait",
        ),
        "midnight": photo(
            3,
            taken_at="2021-07-01T00:00:00",
            camera_keys=["canon"],
            folders=[*trips, "/lib/trips/paris"],
            format="webp",
        ),
        "undated": photo(4, folders=["/", "/other"], shape="square"),
    }
    index.upsert(list(points.values()))
    return points


def _matching(index: VectorIndex, filters: SearchFilters) -> set[str]:
    return ids(index.search(VECTOR, unit(0), filters, limit=50))


def test_facets_count_a_fields_values_among_the_filtered_points(index: VectorIndex) -> None:
    _library(index)
    assert dict(index.facet("folders", limit=50)) == {
        "/": 4, "/lib": 3, "/lib/trips": 2, "/lib/home": 1, "/lib/trips/paris": 1, "/other": 1,
    }  # fmt: skip
    jpegs = SearchFilters(formats=("jpeg",))
    assert dict(index.facet("camera_keys", jpegs)) == {"canon": 1, "canon eos 5d": 1}
    assert index.facet("folders", limit=1) == [("/", 4)]  # most first


def test_by_date_walks_the_filtered_points_in_the_order_they_were_taken(
    index: VectorIndex,
) -> None:
    p = _library(index)
    newest = [point.id for point in index.by_date(SearchFilters(), True, 10)]
    assert newest == [p["july_apple"].id, p["midnight"].id, p["june_canon"].id]  # undated: out
    oldest = index.by_date(SearchFilters(cameras=("canon",)), False, 10)
    assert [point.id for point in oldest] == [p["june_canon"].id, p["midnight"].id]
    assert oldest[0].payload["taken_at"] == "2021-06-01T10:00:00"
    after = index.by_date(SearchFilters(), True, 10, start="2021-07-01T00:00:00")
    assert [point.id for point in after] == [p["midnight"].id, p["june_canon"].id]  # included
    assert [point.id for point in index.by_date(SearchFilters(), True, 1)] == newest[:1]


def test_date_range_is_inclusive_from_and_exclusive_until(index: VectorIndex) -> None:
    p = _library(index)
    june = SearchFilters(taken_from="2021-06-01T00:00:00", taken_until="2021-07-01T00:00:00")
    assert _matching(index, june) == {p["june_canon"].id}
    july = SearchFilters(taken_from="2021-07-01T00:00:00")
    assert _matching(index, july) == {p["july_apple"].id, p["midnight"].id}
    assert index.count(june) == 1


def test_keyword_filters_match_any_value_and_combine_with_and(index: VectorIndex) -> None:
    p = _library(index)
    assert _matching(index, SearchFilters(cameras=("canon",))) == {
        p["june_canon"].id,
        p["midnight"].id,
    }
    assert _matching(index, SearchFilters(cameras=("iphone 12", "canon eos 5d"))) == {
        p["june_canon"].id, p["july_apple"].id}  # fmt: skip
    assert _matching(index, SearchFilters(folders=("/lib/trips",))) == {
        p["june_canon"].id, p["midnight"].id}  # fmt: skip
    assert _matching(index, SearchFilters(formats=("png", "webp"))) == {
        p["july_apple"].id, p["midnight"].id}  # fmt: skip
    assert _matching(index, SearchFilters(shapes=("square",))) == {p["undated"].id}
    both = SearchFilters(cameras=("canon",), formats=("jpeg",))
    assert _matching(index, both) == {p["june_canon"].id}


def test_location_and_excluded_ids(index: VectorIndex) -> None:
    p = _library(index)
    assert _matching(index, SearchFilters(has_location=True)) == {p["june_canon"].id}
    assert p["june_canon"].id not in _matching(index, SearchFilters(has_location=False))
    assert len(_matching(index, SearchFilters(has_location=False))) == 3
    rest = _matching(index, SearchFilters(exclude_ids=(p["undated"].id,)))
    assert rest == {p["june_canon"].id, p["july_apple"].id, p["midnight"].id}


def _places(index: VectorIndex) -> dict[str, IndexPoint]:
    index.ensure_vector(VECTOR, DIM)
    points = {
        "tokyo": photo(11, gps={"lat": 35.68, "lon": 139.69}, city="Tokyo", region="Tokyo",
                       country="Japan", country_code="JP", place_keys=["tokyo", "japan"]),
        "paris": photo(12, gps={"lat": 48.85, "lon": 2.35}, city="Paris", country="France",
                       country_code="FR", place_keys=["paris", "france"]),
        "ocean": photo(13, gps={"lat": 0.5, "lon": -150.0}, country_code="", place_keys=[]),
        "kyoto_unnamed": photo(14, gps={"lat": 35.01, "lon": 135.77}),  # before place names
        "nowhere": photo(15),
    }  # fmt: skip
    index.upsert(list(points.values()))
    return points


def test_near_a_point_within_a_radius_and_inside_a_box(index: VectorIndex) -> None:
    p = _places(index)
    tokyo = p["tokyo"].id
    assert _matching(index, SearchFilters(near=GeoRadius(35.69, 139.70, 5))) == {tokyo}
    wide = SearchFilters(near=GeoRadius(35.69, 139.70, 400))  # Kyoto is 365 km away
    assert _matching(index, wide) == {tokyo, p["kyoto_unnamed"].id}
    assert _matching(index, SearchFilters(near=GeoRadius(-33.9, 151.2, 500))) == set()
    box = GeoBox.from_corners(34.0, 140.0, 36.0, 135.0)  # any two opposite corners
    assert box == GeoBox(north=36.0, west=135.0, south=34.0, east=140.0)
    assert _matching(index, SearchFilters(box=box)) == {tokyo, p["kyoto_unnamed"].id}
    assert _matching(index, SearchFilters(box=box, places=("japan",))) == {tokyo}
    across = GeoBox(north=10.0, west=170.0, south=-10.0, east=-140.0)  # over the 180th meridian
    assert _matching(index, SearchFilters(box=across)) == {p["ocean"].id}


def test_place_names_match_city_region_or_country(index: VectorIndex) -> None:
    p = _places(index)
    assert _matching(index, SearchFilters(places=("japan",))) == {p["tokyo"].id}
    both = SearchFilters(places=("paris", "tokyo"))
    assert _matching(index, both) == {p["tokyo"].id, p["paris"].id}
    assert dict(index.facet("country")) == {"Japan": 1, "France": 1}


def test_unnamed_places_are_the_located_points_never_looked_up(index: VectorIndex) -> None:
    p = _places(index)
    unnamed = SearchFilters(unnamed_places=True)
    assert _matching(index, unnamed) == {p["kyoto_unnamed"].id}
    assert index.count(unnamed) == 1
    walked, following = index.scroll(None, 10, None, unnamed)
    assert [point.id for point in walked] == [p["kyoto_unnamed"].id] and following is None
    index.set_payload(p["kyoto_unnamed"].id, {"country": "Japan", "country_code": "JP"})
    assert index.count(unnamed) == 0


def test_set_payload_merges_and_delete_removes(index: VectorIndex) -> None:
    p = _library(index)
    index.set_payload(p["undated"].id, {"paths": ["/moved.jpg"], "format": "gif"})
    payload = index.retrieve([p["undated"].id])[0].payload
    assert payload["paths"] == ["/moved.jpg"] and payload["shape"] == "square"
    assert _matching(index, SearchFilters(formats=("gif",))) == {p["undated"].id}
    index.delete([p["undated"].id, str(uuid.uuid4()), "not-a-photo-id"])
    assert index.count() == 3
    assert index.retrieve([p["undated"].id]) == []


def test_points_survive_close_and_reopen(opener: Opener) -> None:
    first = opener()
    first.ensure_vector(VECTOR, DIM)
    first.upsert([photo(seed) for seed in range(5)])
    first.flush()
    first.close()
    again = opener()
    try:
        assert again.vector_names() == {VECTOR: DIM}
        assert again.count() == 5
        assert again.search(VECTOR, unit(4), SearchFilters(), limit=1)[0].id == photo(4).id
    finally:
        again.close()


def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[i] = 1.0
    return vector


def point(seed: int, vector: np.ndarray) -> IndexPoint:
    return IndexPoint(
        photo(seed).id, {VECTOR: vector / np.linalg.norm(vector)}, photo(seed).payload
    )


def _examples(index: VectorIndex) -> dict[str, IndexPoint]:
    """Photos a and b on two axes, a near-duplicate of each, and twenty others away from both."""
    index.ensure_vector(VECTOR, DIM)
    others = {
        f"other{seed}": point(seed, unit(seed) * [0, 0, 1, 1, 1, 1, 1, 1]) for seed in range(10, 30)
    }
    examples = {
        "a": point(1, axis(0)),
        "near_a": point(2, axis(0) + 0.3 * axis(2)),
        "b": point(3, axis(1)),
        "near_b": point(4, axis(1) + 0.3 * axis(3)),
    }
    points = others | examples
    index.upsert(list(points.values()))
    return points


def _rank(hits: list, point: IndexPoint) -> int:
    return [h.id for h in hits].index(point.id)


def test_recommend_pulls_the_liked_examples_neighbours_up(index: VectorIndex) -> None:
    p = _examples(index)
    liked = [axis(0), axis(1)]
    hits = index.recommend(VECTOR, liked, [], SearchFilters(), limit=4)
    assert ids(hits) == {p["a"].id, p["near_a"].id, p["b"].id, p["near_b"].id}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    page = index.recommend(VECTOR, liked, [], SearchFilters(), limit=2, offset=2)
    assert ids(page) == ids(hits[2:])  # a and b tie, and so do their near-duplicates


def test_recommend_pushes_a_disliked_examples_neighbours_down(index: VectorIndex) -> None:
    p = _examples(index)
    # a query between a and b: both of them and their near-duplicates rank high
    liked = (axis(0) + axis(1)) / np.sqrt(2)
    before = index.recommend(VECTOR, [liked], [], SearchFilters(), limit=30)
    after = index.recommend(VECTOR, [liked], [axis(1)], SearchFilters(), limit=30)
    assert _rank(before, p["near_b"]) < 4
    assert _rank(after, p["near_b"]) > _rank(before, p["near_b"])
    assert _rank(after, p["near_b"]) >= len(after) - 2  # b and its neighbour sink to the end
    assert _rank(after, p["near_a"]) < _rank(after, p["near_b"])
    assert next(h for h in after if h.id == p["near_b"].id).score < 0


def test_recommend_from_negatives_alone(index: VectorIndex) -> None:
    p = _examples(index)
    hits = index.recommend(VECTOR, [], [axis(0)], SearchFilters(), limit=30)
    assert len(hits) == len(p)
    assert {h.id for h in hits[-2:]} == {p["a"].id, p["near_a"].id}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_recommend_honours_the_filters(index: VectorIndex) -> None:
    p = _examples(index)
    index.set_payload(p["near_a"].id, {"format": "png"})
    index.set_payload(p["other10"].id, {"format": "png"})
    pngs = SearchFilters(formats=("png",))
    assert ids(index.recommend(VECTOR, [axis(0)], [], pngs, limit=10)) == {
        p["near_a"].id, p["other10"].id}  # fmt: skip
    rated = SearchFilters(exclude_ids=(p["a"].id, p["b"].id))
    hits = index.recommend(VECTOR, [axis(0)], [axis(1)], rated, limit=30)
    assert len(hits) == len(p) - 2 and not ids(hits) & {p["a"].id, p["b"].id}
    assert hits[0].id == p["near_a"].id


def test_recommend_on_an_empty_index_answers_with_nothing(index: VectorIndex) -> None:
    assert index.recommend(VECTOR, [axis(0)], [axis(1)], SearchFilters(), limit=5) == []


NEW = "model-b"


def _switching(index: VectorIndex, count: int) -> list[IndexPoint]:
    """An index of count photos with VECTOR, and the space for NEW made."""
    index.ensure_vector(VECTOR, DIM)
    points = [photo(seed) for seed in range(count)]
    index.upsert(points)
    index.ensure_vector(NEW, DIM // 2)
    return points


def half(seed: int) -> np.ndarray:
    vector = np.random.default_rng(1000 + seed).normal(size=DIM // 2).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_update_vectors_adds_a_model_keeping_payload_and_the_other_vector(
    index: VectorIndex,
) -> None:
    points = _switching(index, 6)
    assert index.vector_names() == {VECTOR: DIM, NEW: DIM // 2}
    index.update_vectors(NEW, {points[1].id: half(1), str(uuid.uuid4()): half(9)})
    stored = index.retrieve([points[1].id], vector=NEW)[0]
    np.testing.assert_allclose(stored.vector, half(1), atol=1e-5)
    assert stored.payload["paths"] == ["/lib/1.jpg"]
    old = index.retrieve([points[1].id], vector=VECTOR)[0].vector
    np.testing.assert_allclose(old, unit(1), atol=1e-5)
    assert index.search(NEW, half(1), SearchFilters(), limit=3)[0].id == points[1].id
    assert index.count() == 6, "the id no point has stays out"


def test_lacking_vector_walks_every_point_without_it(index: VectorIndex) -> None:
    points = _switching(index, 25)
    done = {p.id for p in points[::3]}
    index.update_vectors(NEW, {i: half(n) for n, i in enumerate(done)})
    found: list[str] = []
    start: str | None = None
    for _ in range(100):
        page, start = index.lacking_vector(NEW, 4, start)
        assert len(page) <= 4
        found += [p.id for p in page]
        if start is None:
            break
    assert sorted(found) == sorted(p.id for p in points if p.id not in done)
    assert all(p.payload["paths"] for p in index.lacking_vector(NEW, 100)[0])


def test_payload_writes_and_deletes_reach_every_models_vectors(index: VectorIndex) -> None:
    points = _switching(index, 4)
    index.update_vectors(NEW, {p.id: half(n) for n, p in enumerate(points)})
    index.set_payload(points[0].id, {"format": "gif"})
    index.delete([points[1].id])
    index.upsert([IndexPoint(photo(7).id, {VECTOR: unit(7), NEW: half(7)}, photo(7).payload)])
    index.set_active_vector(NEW)
    assert index.retrieve([points[0].id], vector=NEW)[0].payload["format"] == "gif"
    assert index.retrieve([points[1].id], vector=NEW) == []
    assert index.search(NEW, half(7), SearchFilters(), limit=1)[0].id == photo(7).id
    assert index.count() == 4


def test_drop_vector_leaves_the_other_model_searchable(index: VectorIndex) -> None:
    points = _switching(index, 5)
    index.update_vectors(NEW, {p.id: half(n) for n, p in enumerate(points)})
    index.set_active_vector(NEW)
    index.drop_vector(VECTOR)
    index.drop_vector("never-made")
    assert index.vector_names() == {NEW: DIM // 2}
    assert index.search(NEW, half(2), SearchFilters(), limit=1)[0].id == points[2].id
    assert index.count() == 5 and index.retrieve([points[2].id])[0].payload["paths"]
    # a batch embedded before the drop may still carry the dropped model's vector
    index.upsert([IndexPoint(photo(8).id, {VECTOR: unit(8), NEW: half(8)}, photo(8).payload)])
    assert index.count() == 6
    assert index.lacking_vector(NEW, 10) == ([], None)


def test_a_server_switch_moves_the_alias_from_a_collection_made_before_aliases(
    tmp_path: Path,
) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(tmp_path / "local"))
    params = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    client.create_collection("photos", vectors_config={VECTOR: params})
    index = QdrantServerIndex(client, "photos")
    points = _switching(index, 3)
    assert index.layout.collections() == {VECTOR: "photos", NEW: "photos-model-b"}
    index.update_vectors(NEW, {p.id: half(n) for n, p in enumerate(points)})
    index.set_active_vector(NEW)  # "photos" is a collection still: it cannot be the alias yet
    assert index.count() == 3
    index.drop_vector(VECTOR)
    index.set_active_vector(NEW)
    assert [(a.alias_name, a.collection_name) for a in client.get_aliases().aliases] == [
        ("photos", "photos-model-b")
    ]
    assert index.count() == 3 and index.vector_names() == {NEW: DIM // 2}
    index.close()


@pytest.mark.parametrize(
    "make", [_local, pytest.param(_server, marks=pytest.mark.qdrant_server)],
    ids=["qdrant-local", "qdrant-server"],
)  # fmt: skip
def test_a_server_collection_made_before_words_gains_them_at_the_first_scan(
    tmp_path: Path, make: Callable[[Path], Opener], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qdrant_client import models

    from pixseek.indexing.textfill import catch_up

    index = make(tmp_path)()
    assert isinstance(index, QdrantServerIndex)
    older = f"{index.collection}-{VECTOR}"  # as an earlier release made it: no text vector
    params = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    index.client.create_collection(older, vectors_config={VECTOR: params})
    alias = models.CreateAlias(collection_name=older, alias_name=index.collection)
    index.client.update_collection_aliases([models.CreateAliasOperation(create_alias=alias)])
    points = [photo(seed, paths=[f"/lib/trips/IMG_{2040 + seed}.jpg"]) for seed in range(3)]
    index.client.upsert(older, [
        models.PointStruct(id=p.id, vector={VECTOR: p.vectors[VECTOR].tolist()}, payload=p.payload)
        for p in points
    ])  # fmt: skip
    try:
        web = QdrantServerIndex(index.client, index.collection)  # another process's view
        assert web.search_text(query_vector("IMG_2041"), SearchFilters(), 5) == []
        catch_up(index)  # what every scan does first: the space is made, the words written
        [first, *_] = index.search_text(query_vector("IMG_2041"), SearchFilters(), 5)
        assert first.id == points[1].id
        monkeypatch.setattr(collection_module, "TEXT_RECHECK", 0.0)  # its "no" has aged
        assert web.search_text(query_vector("IMG_2041"), SearchFilters(), 5)[0].id == first.id
        assert ids(index.search_text(query_vector("img"), SearchFilters(), 5)) == ids(points)
        assert index.lacking_text(10) == ([], None)
        index.ensure_vector(VECTOR, DIM)  # as an indexing run does next
        index.upsert([photo(7, paths=["/lib/IMG_7.jpg"])])  # new points get their words at once
        assert index.search_text(query_vector("img_7"), SearchFilters(), 5)[0].id == photo(7).id
    finally:
        if os.environ.get("PIXSEEK_TEST_QDRANT_URL"):
            index.client.delete_collection(older)
        index.close()


@pytest.mark.qdrant_server
def test_a_server_collection_made_elsewhere_gets_its_payload_indexes(tmp_path: Path) -> None:
    from qdrant_client import models

    opener = _server(tmp_path)  # skips without PIXSEEK_TEST_QDRANT_URL
    index = opener()
    assert isinstance(index, QdrantServerIndex)
    params = models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    index.client.create_collection(index.collection, vectors_config={VECTOR: params})
    try:
        index.ensure_vector(VECTOR, DIM)
        schema = index.client.get_collection(index.collection).payload_schema
        assert set(PAYLOAD_INDEXES) <= set(schema)
    finally:
        index.client.delete_collection(index.collection)
        index.close()


def test_a_saved_copy_brings_back_the_points_as_they_were(
    index: VectorIndex, tmp_path: Path
) -> None:
    index.ensure_vector(VECTOR, DIM)
    points = [photo(seed) for seed in range(30)]
    index.upsert(points)
    if isinstance(index, QdrantServerIndex) and index.transfer is None:
        with pytest.raises(IndexBackendError, match="local mode"):
            index.save_to(tmp_path / "saved")
        return
    before = index.search(VECTOR, unit(4), SearchFilters(), limit=8)
    saved = index.save_to(tmp_path / "saved")
    assert saved["backend"] in {"qdrant-edge", "qdrant-server"}
    index.delete([p.id for p in points[:10]])  # what happens after the backup ...
    index.upsert([photo(99)])
    index.set_payload(points[20].id, {"format": "png"})

    index.restore_from(tmp_path / "saved", saved, VECTOR)  # ... is undone by the restore

    assert index.count() == 30
    assert index.retrieve([photo(99).id]) == []
    assert index.retrieve([points[20].id])[0].payload["format"] == "jpeg"
    after = index.search(VECTOR, unit(4), SearchFilters(), limit=8)
    assert [(h.id, round(h.score, 4)) for h in after] == [(h.id, round(h.score, 4)) for h in before]
    index.upsert([photo(100, format="png")])  # the restored index takes writes and filters
    assert index.count(SearchFilters(formats=("png",))) == 1
    assert index.vector_names() == {VECTOR: DIM}


def test_scroll_walks_every_point_with_its_vector_or_without(index: VectorIndex) -> None:
    """What near-duplicate grouping and the eval's distractors read the index with."""
    index.ensure_vector(VECTOR, DIM)
    points = [photo(seed) for seed in range(11)]
    index.upsert(points)
    found: dict[str, np.ndarray | None] = {}
    start: str | None = None
    for _ in range(100):
        page, start = index.scroll(VECTOR, 4, start)
        assert len(page) <= 4
        found |= {p.id: p.vector for p in page}
        if start is None:
            break
    assert set(found) == {p.id for p in points}
    by_id = {p.id: p for p in points}
    for point_id, vector in found.items():
        assert vector is not None
        np.testing.assert_allclose(vector, by_id[point_id].vectors[VECTOR], atol=1e-5)
    bare, _ = index.scroll(None, 100)
    assert len(bare) == 11 and all(p.vector is None and p.payload["paths"] for p in bare)


@pytest.mark.parametrize(
    ("quantization", "exact"),
    [("none", False), ("int8", False), ("binary", False), ("pq", False), ("pq", True)],
)
def test_every_quantization_finds_the_nearest_exactly_or_through_the_hnsw(
    tmp_path: Path, quantization: str, exact: bool
) -> None:
    """Binary and product quantization are index options (PIXSEEK_QUANTIZATION); exact search
    is the eval's baseline. Candidates are rescored with the originals, so the best comes first."""
    from qdrant_client import QdrantClient

    tuning = IndexTuning(quantization=quantization, exact=exact)  # type: ignore[arg-type]
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = [IndexPoint(str(uuid.uuid4()), {VECTOR: v}, {"n": n}) for n, v in enumerate(vectors)]
    for made in (
        EdgeIndex(tmp_path / "edge", tuning, indexing_threshold_kb=1),
        QdrantServerIndex(QdrantClient(path=str(tmp_path / "local")), "q", tuning),
    ):
        made.ensure_vector(VECTOR, 32)
        made.upsert(points)
        made.optimize()
        for target in (3, 150, 299):
            hits = made.search(VECTOR, vectors[target], SearchFilters(), limit=3)
            assert hits[0].payload["n"] == target, (made, quantization, exact)
            assert hits[0].score == pytest.approx(1.0, abs=1e-3)
        made.close()


def test_words_are_searched_beside_the_vectors_and_follow_payload_writes(
    index: VectorIndex,
) -> None:
    index.ensure_vector(VECTOR, DIM)
    assert index.search_text(query_vector("IMG_2041"), SearchFilters(), limit=5) == []
    points = [photo(seed, paths=[f"/lib/trips/IMG_{2040 + seed}.jpg"]) for seed in range(4)]
    points.append(photo(9, keywords=["Lighthouse"], format="png"))
    index.upsert(points)
    hits = index.search_text(query_vector("IMG_2041"), SearchFilters(), limit=5)
    assert hits[0].id == points[1].id and hits[0].score > hits[1].score  # rare 2041 beats img
    assert len(hits) == 4  # every IMG_ shares img; the lighthouse shares no word
    pngs = SearchFilters(formats=("png",))
    assert index.search_text(query_vector("img lighthouse"), pngs, limit=5)[0].id == points[4].id
    assert index.search_text(query_vector("img"), pngs, limit=5) == []
    index.set_payload(points[4].id, {"paths": ["/lib/IMG_7.jpg"], "filename": "IMG_7.jpg"})
    assert points[4].id in ids(index.search_text(query_vector("img_7"), SearchFilters(), 5))
    assert index.lacking_text(10) == ([], None)


def test_a_model_switch_keeps_the_words(index: VectorIndex) -> None:
    points = _switching(index, 3)
    index.update_vectors(NEW, {p.id: half(n) for n, p in enumerate(points)})
    index.set_active_vector(NEW)
    index.drop_vector(VECTOR)
    found = index.search_text(query_vector("2"), SearchFilters(), limit=5)  # /lib/2.jpg
    assert [h.id for h in found] == [points[2].id]


def test_set_text_gives_points_their_words(index: VectorIndex) -> None:
    index.ensure_vector(VECTOR, DIM)
    point = photo(1, paths=["/lib/harbour.jpg"])
    index.upsert([point])
    stale = StoredPoint(point.id, {"paths": ["/lib/lighthouse.jpg"]})  # read before a rename
    index.set_text([stale, StoredPoint(str(uuid.uuid4()), {"paths": ["/x/harbour.jpg"]})])
    assert ids(index.search_text(query_vector("harbour"), SearchFilters(), 5)) == {point.id}
    assert index.search_text(query_vector("lighthouse"), SearchFilters(), 5) == []  # stored wins
    assert index.retrieve([point.id])[0].payload["paths"] == ["/lib/harbour.jpg"]
