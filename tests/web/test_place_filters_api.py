"""Location filters in the API (near a point, in a box, by place name) and the place a photo
answers with."""

from __future__ import annotations

from typing import Any

import pytest

from pixseek.photos.identity import file_sha256, point_id
from tests.web.conftest import Site, Visitor, assert_error
from tests.web.photos import taken_in_tokyo


def timeline(visitor: Visitor, filters: dict[str, Any]) -> list[dict[str, Any]]:
    answer = visitor.post("/api/v1/timeline", json={"filters": filters})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json["results"]  # type: ignore[index]
    return results


def test_photos_taken_in_tokyo_are_found_by_place_radius_and_box(
    site: Site, viewer: Visitor
) -> None:
    in_library = {"folders": [str(site.library[0].parent)]}  # other tests add photos elsewhere
    ids = [point_id(file_sha256(path)) for path in site.library]
    in_tokyo = {ids[seed] for seed in range(len(ids)) if taken_in_tokyo(seed)}
    assert 0 < len(in_tokyo) < len(ids)
    for filters in (
        {"places": ["TOKYO"]},
        {"near": {"lat": 35.68, "lon": 139.76, "km": 20}},
        {"box": [{"lat": 35.0, "lon": 140.0}, {"lat": 36.0, "lon": 139.0}]},
    ):
        assert {r["id"] for r in timeline(viewer, in_library | filters)} == in_tokyo, filters
    assert timeline(viewer, in_library | {"places": ["paris"]}) == []
    assert timeline(viewer, in_library | {"near": {"lat": 48.86, "lon": 2.35, "km": 50}}) == []
    tokyo_photo, elsewhere = sorted(in_tokyo)[0], next(i for i in ids if i not in in_tokyo)
    assert viewer.get(f"/api/v1/images/{tokyo_photo}").json["place"] == "Tokyo, Japan"  # type: ignore[index]
    assert viewer.get(f"/api/v1/images/{elsewhere}").json["place"] is None  # type: ignore[index]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"near": {"lat": 35.0, "lon": 139.0, "km": 0}}, "filters.near.km"),
        ({"near": {"lat": 35.0, "lon": 139.0, "km": -5}}, "filters.near.km"),
        ({"near": {"lat": 35.0, "lon": 139.0, "km": 30000}}, "filters.near.km"),
        ({"near": {"lat": 91, "lon": 139.0, "km": 5}}, "filters.near.lat"),
        ({"near": {"lat": "35", "lon": 139.0, "km": 5}}, "filters.near.lat"),
        ({"near": {"lat": 35.0, "lon": 139.0}}, "filters.near.km"),
        ({"box": [{"lat": 35.0, "lon": 139.0}]}, "filters.box"),
        ({"box": [{"lat": 35.0, "lon": 139.0}, {"lat": 36.0, "lon": 181}]}, "filters.box.1.lon"),
        ({"places": ["a\x00b"]}, "filters.places.0"),
    ],
)
def test_a_bad_point_radius_or_box_is_422_naming_the_field(
    viewer: Visitor, filters: dict[str, Any], field: str
) -> None:
    assert_error(viewer.post("/api/v1/timeline", json={"filters": filters}), 422, field)
    body = {"query": "beach", "filters": filters}
    assert_error(viewer.post("/api/v1/search", json=body), 422, field)
