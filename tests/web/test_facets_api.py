"""POST /api/v1/facets: what the library holds, with counts, among the photos passing filters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.web.conftest import LIBRARY_PHOTOS, Site, Visitor, assert_error
from tests.web.photos import camera_of, taken_in_tokyo


def facets(visitor: Visitor, filters: dict[str, Any]) -> dict[str, Any]:
    answer = visitor.post("/api/v1/facets", json={"filters": filters})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json  # type: ignore[assignment]
    return found


def camera_counts(answer: dict[str, Any]) -> dict[str, tuple[int, dict[str, int]]]:
    return {
        make["name"]: (make["photos"], {m["name"]: m["photos"] for m in make["models"]})
        for make in answer["cameras"]
    }


def test_the_counts_are_the_librarys(site: Site, viewer: Visitor) -> None:
    library = site.library[0].parent
    found = facets(viewer, {"folders": [library.name]})
    per_camera = Counter(camera_of(seed) for seed in range(LIBRARY_PHOTOS))
    assert found["photos"] == LIBRARY_PHOTOS
    assert camera_counts(found) == {
        "Canon": (per_camera["Canon EOS 5D"], {"Canon EOS 5D": per_camera["Canon EOS 5D"]}),
        "FUJIFILM": (per_camera["FUJIFILM X-T3"], {"FUJIFILM X-T3": per_camera["FUJIFILM X-T3"]}),
    }
    assert found["formats"] == [{"value": "jpeg", "photos": LIBRARY_PHOTOS}]
    assert found["years"] == [
        {
            "period": "2021",
            "photos": LIBRARY_PHOTOS,
            "months": [{"period": "2021-06", "photos": LIBRARY_PHOTOS, "months": []}],
        }
    ]
    in_tokyo = sum(taken_in_tokyo(seed) for seed in range(LIBRARY_PHOTOS))
    assert 0 < in_tokyo < LIBRARY_PHOTOS
    tokyo = [{"value": "Tokyo", "photos": in_tokyo}]
    assert found["places"] == {"country": [{"value": "Japan", "photos": in_tokyo}],
                               "region": tokyo, "city": tokyo}  # fmt: skip
    tree = next(t for t in found["folders"] if t["path"] == str(library))
    assert (tree["name"], tree["filter"], tree["photos"]) == (library.name, library.name, 8)


def test_filters_narrow_every_facet_but_their_own(site: Site, viewer: Visitor) -> None:
    library = site.library[0].parent
    x_t3 = facets(viewer, {"folders": [str(library)], "cameras": ["fujifilm x-t3"]})
    fujifilm = sum(camera_of(seed) == "FUJIFILM X-T3" for seed in range(LIBRARY_PHOTOS))
    assert x_t3["photos"] == fujifilm < LIBRARY_PHOTOS
    assert x_t3["formats"] == [{"value": "jpeg", "photos": fujifilm}]
    assert x_t3["years"][0]["photos"] == fujifilm
    assert next(t for t in x_t3["folders"] if t["path"] == str(library))["photos"] == fujifilm
    assert set(camera_counts(x_t3)) == {"Canon", "FUJIFILM"}  # the camera box still offers both
    later = facets(viewer, {"folders": [str(library)], "after": "2021-06-05"})
    taken = sorted(1 + seed % 28 for seed in range(LIBRARY_PHOTOS))
    assert later["photos"] == sum(day >= 5 for day in taken) < LIBRARY_PHOTOS
    assert later["years"][0]["photos"] == LIBRARY_PHOTOS  # the dates offered ignore the dates


def test_a_cameras_filter_value_chooses_its_photos(site: Site, viewer: Visitor) -> None:
    library = site.library[0].parent
    everything = facets(viewer, {"folders": [str(library)]})
    for make in everything["cameras"]:
        for camera in [make, *make["models"]]:
            chosen = facets(viewer, {"folders": [str(library)], "cameras": [camera["filter"]]})
            assert chosen["photos"] == camera["photos"], camera


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": {"after": "last tuesday"}}, "filters.after"),
        ({"filters": {"cameras": "canon"}}, "filters.cameras"),
        ({"filters": {"has_location": 0}}, "filters.has_location"),
        ({"limit": 5}, "limit"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    viewer: Visitor, body: dict[str, Any], field: str
) -> None:
    assert_error(viewer.post("/api/v1/facets", json=body), 422, field)


def test_strangers_are_refused(nobody: Visitor) -> None:
    assert nobody.post("/api/v1/facets", json={}).status_code in (401, 403)
