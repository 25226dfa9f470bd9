"""POST /api/v1/timeline: browsing without a query, by date, with months and cursors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import LIBRARY_PHOTOS, Site, Visitor, assert_error


def timeline(visitor: Visitor, body: dict[str, Any]) -> dict[str, Any]:
    answer = visitor.post("/api/v1/timeline", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json  # type: ignore[assignment]
    return found


def in_library(site: Site, **filters: Any) -> dict[str, Any]:
    return {"folders": [str(site.library[0].parent)], **filters}


def test_the_library_by_date_a_page_at_a_time_with_its_months(site: Site, viewer: Visitor) -> None:
    pages = [timeline(viewer, {"filters": in_library(site), "limit": 3})]
    while pages[-1]["next"]:
        body = {"filters": in_library(site), "limit": 3, "cursor": pages[-1]["next"]}
        pages.append(timeline(viewer, body))
        assert len(pages) <= LIBRARY_PHOTOS
    shown = [r for page in pages for r in page["results"]]
    assert sorted(r["path"] for r in shown) == sorted(str(p) for p in site.library)
    dates = [r["taken_at"] for r in shown]
    assert dates == sorted(dates, reverse=True)
    assert pages[0]["months"] == [{"month": "2021-06", "photos": LIBRARY_PHOTOS}]
    assert shown[0]["thumbnail_url"].startswith(f"/api/v1/images/{shown[0]['id']}/thumbnail")
    oldest = timeline(viewer, {"filters": in_library(site), "order": "oldest", "limit": 1})
    assert oldest["results"][0]["taken_at"] == min(dates)


def test_a_camera_and_a_folder_name_without_its_path(site: Site, viewer: Visitor) -> None:
    name = site.library[0].parent.name  # "trips" for /somewhere/trips
    canon = timeline(viewer, {"filters": {"folders": [name], "cameras": ["canon eos 5d"]}})
    assert {r["camera"] for r in canon["results"]} == {"Canon EOS 5D"}
    assert len(canon["results"]) == LIBRARY_PHOTOS // 2
    assert canon["months"] == [{"month": "2021-06", "photos": LIBRARY_PHOTOS // 2}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cursor": "nonsense"}, None),
        ({"order": "sideways"}, "order"),
        ({"limit": 0}, "limit"),
        ({"filters": {"after": "last tuesday"}}, "filters.after"),
        ({"query": "beach"}, "query"),
    ],
)
def test_bad_requests_are_422_saying_what_was_wrong(
    viewer: Visitor, body: dict[str, Any], field: str | None
) -> None:
    error = assert_error(viewer.post("/api/v1/timeline", json=body), 422, field)
    if field is None:
        assert "cursor" in error["message"]


def test_strangers_are_refused(nobody: Visitor) -> None:
    assert nobody.post("/api/v1/timeline", json={}).status_code in (401, 403)
