"""POST /search and the photo routes: answers, filters, paging, files, and every bad request."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from pixseek.photos.identity import file_sha256, point_id
from tests.web.conftest import LIBRARY_PHOTOS, PICTURE_SIZE, Site, Visitor, assert_error
from tests.web.photos import camera_of

PHOTO_FIELDS = {
    "id", "path", "filename", "taken_at", "width", "height", "format", "camera", "place",
    "thumbnail_url", "preview_url", "original_url", "payload",
}  # fmt: skip


def in_library(site: Site, **body: Any) -> dict[str, Any]:
    """A search body restricted to the generated library (tests elsewhere upload more)."""
    filters = {"folders": [str(site.library[0].parent)]} | body.pop("filters", {})
    return {"filters": filters, **body}


def search(visitor: Visitor, body: dict[str, Any]) -> dict[str, Any]:
    answer = visitor.post("/api/v1/search", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json  # type: ignore[assignment]
    return found


def ids(found: dict[str, Any]) -> list[str]:
    return [r["id"] for r in found["results"]]


def library_id(site: Site, index: int) -> str:
    return point_id(file_sha256(site.library[index]))


def test_a_text_search_answers_every_photo_with_its_fields_and_scores(
    site: Site, viewer: Visitor
) -> None:
    found = search(viewer, in_library(site, query="a picture"))
    assert (found["offset"], found["limit"], found["next_offset"]) == (0, 40, None)
    assert found["took_ms"] >= 0
    results = found["results"]
    assert len(results) == LIBRARY_PHOTOS
    assert {r["path"] for r in results} == {str(p) for p in site.library}
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    for result in results:
        assert set(result) == PHOTO_FIELDS | {"score", "matched", "similar"}  # similar: copies
        assert result["matched"] == ["visual"]  # no file is named "a picture"
        seed = int(result["filename"].removeprefix("photo").removesuffix(".jpg"))
        assert result["camera"] == camera_of(seed)
        assert result["taken_at"] == f"2021-06-{1 + seed:02d}T10:30:00"
        assert (result["width"], result["height"]) == PICTURE_SIZE
        assert result["thumbnail_url"] == f"/api/v1/images/{result['id']}/thumbnail?size=grid"
        assert result["original_url"] == f"/api/v1/images/{result['id']}/original"


def test_pages_of_results_follow_on_from_each_other(site: Site, viewer: Visitor) -> None:
    everything = ids(search(viewer, in_library(site, query="a picture")))
    first = search(viewer, in_library(site, query="a picture", limit=3))
    assert first["next_offset"] == 3
    second = search(viewer, in_library(site, query="a picture", limit=3, offset=3))
    last = search(viewer, in_library(site, query="a picture", limit=3, offset=6))
    assert ids(first) + ids(second) + ids(last) == everything
    assert last["next_offset"] is None


def test_an_image_finds_itself_and_a_photo_finds_others(site: Site, viewer: Visitor) -> None:
    data = base64.b64encode(site.library[3].read_bytes()).decode()
    by_image = search(viewer, in_library(site, images=[{"data": data}], limit=1))
    assert by_image["results"][0]["path"] == str(site.library[3])
    assert by_image["results"][0]["score"] > 0.99

    chosen = library_id(site, 3)
    like = search(viewer, in_library(site, photos=[{"id": chosen}]))
    assert chosen not in ids(like)
    assert len(like["results"]) == LIBRARY_PHOTOS - 1
    unlike = search(viewer, in_library(site, photos=[{"id": chosen, "weight": -1}]))
    assert ids(unlike)[-1] == chosen, "a negative weight moves away from the photo"


def test_feedback_leaves_out_rated_photos(site: Site, viewer: Visitor) -> None:
    liked, disliked = library_id(site, 1), library_id(site, 2)
    found = search(viewer, in_library(site, feedback={"liked": [liked], "disliked": [disliked]}))
    assert liked not in ids(found) and disliked not in ids(found)
    assert len(found["results"]) == LIBRARY_PHOTOS - 2
    alone = search(viewer, in_library(site, feedback={"disliked": [disliked]}))
    assert alone["results"] and disliked not in ids(alone), "dislikes alone work too"


def test_filters_and_date_sorts(site: Site, viewer: Visitor) -> None:
    canon = search(viewer, in_library(site, query="x", filters={"cameras": ["canon eos 5d"]}))
    assert {r["camera"] for r in canon["results"]} == {"Canon EOS 5D"}
    assert len(canon["results"]) == LIBRARY_PHOTOS // 2
    dated = search(
        viewer, in_library(site, query="x", filters={"after": "2021-06-03", "before": "2021-06-05"})
    )
    assert sorted(r["taken_at"][:10] for r in dated["results"]) == [
        "2021-06-03", "2021-06-04", "2021-06-05",
    ]  # fmt: skip
    none = search(viewer, in_library(site, query="x", filters={"formats": ["png"]}))
    assert none["results"] == []


@pytest.mark.parametrize("cutoff", [0.5, 0.9, 1.0])
def test_date_sorts_keep_the_results_above_the_cutoff(
    site: Site, viewer: Visitor, cutoff: float
) -> None:
    ranked = search(viewer, in_library(site, query="x", limit=LIBRARY_PHOTOS))["results"]
    best = ranked[0]["score"]
    above = {r["id"] for r in ranked if r["score"] >= best - (1 - cutoff) * abs(best)}
    for sort, newest_first in (("date_desc", True), ("date_asc", False)):
        answer = search(viewer, in_library(site, query="x", sort=sort, cutoff=cutoff))
        dated = answer["results"]
        assert set(ids({"results": dated})) == above
        assert answer["hidden_by_cutoff"] == len(ranked) - len(above), "the cut is counted"
        dates = [r["taken_at"] for r in dated]
        assert dates == sorted(dates, reverse=newest_first)


def test_a_relevance_sort_hides_nothing_by_the_cutoff(site: Site, viewer: Visitor) -> None:
    answer = search(viewer, in_library(site, query="x", cutoff=0.99))
    assert answer["hidden_by_cutoff"] == 0 and len(answer["results"]) == LIBRARY_PHOTOS


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 201}, "limit"),
        ({"query": "x", "offset": -1}, "offset"),
        ({"query": "x", "offset": 990, "limit": 20}, "(body)"),
        ({}, "(body)"),
        ({"query": "   "}, "(body)"),
        ({"qurey": "typo"}, "qurey"),
        ({"query": "x", "sort": "best"}, "sort"),
        ({"query": "x", "cutoff": -0.1}, "cutoff"),
        ({"query": "x", "filters": {"after": "last tuesday"}}, "filters.after"),
        ({"query": "x", "filters": {"before": "2021-13-40"}}, "filters.before"),
        ({"query": "x", "filters": {"shapes": ["round"]}}, "filters.shapes.0"),
        ({"query": "x", "filters": {"has_location": "maybe"}}, "filters.has_location"),
        ({"images": [{"data": "not base64!"}]}, "images.0.data"),
        ({"photos": [{"id": "abc", "weight": 0}]}, "photos.0.weight"),
        ({"photos": [{"id": "abc", "weight": 101}]}, "photos.0.weight"),
        ({"photos": [{"id": ""}]}, "photos.0.id"),
        ({"feedback": {"liked": "abc"}}, "feedback.liked"),
        ({"query": 5}, "query"),
    ],
)
def test_a_bad_search_answers_422_naming_the_field(
    viewer: Visitor, body: dict[str, Any], field_name: str
) -> None:
    assert_error(viewer.post("/api/v1/search", json=body), 422, field_name)


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("", "application/json", 400),  # no body: the document marks it required
        ("", None, 400),
        ('{"query": "dog"', "application/json", 400),
        ('{"query": "dog", "cutoff": NaN}', "application/json", 400),  # Python reads NaN
        ("[" * 100_000 + "]" * 100_000, "application/json", 400),  # deeper than the stack
        ("query=dog", "text/plain", 415),
        ('{"query": "dog"}', "application/x-www-form-urlencoded", 415),
        ("null", "application/json", 422),  # JSON, but not an object
    ],
)
def test_a_search_body_that_cannot_be_read_answers_400_or_415(
    viewer: Visitor, data: str, content_type: str | None, status: int
) -> None:
    answer = viewer.post("/api/v1/search", data=data, content_type=content_type)
    assert_error(answer, status, "(body)" if status == 422 else None)


# Issue 11 item 12: a NUL byte in filters.folders answered 500 (ValueError: embedded null
# byte). Every string of the body refuses it, naming the field.
@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"query": "x", "filters": {"folders": ["/photos\x00/trips"]}}, "filters.folders.0"),
        ({"query": "x", "filters": {"cameras": ["canon\x00"]}}, "filters.cameras.0"),
        ({"query": "x", "filters": {"formats": ["jp\x00g"]}}, "filters.formats.0"),
        ({"query": "x", "filters": {"after": "2021-01-01\x00"}}, "filters.after"),
        ({"query": "x", "filters": {"before": "9999-12-31"}}, "filters.before"),  # overflowed
        ({"query": "dog\x00"}, "query"),
        ({"photos": [{"id": "\x00"}]}, "photos.0.id"),
        ({"feedback": {"liked": ["a\x00"]}}, "feedback.liked.0"),
        ({"feedback": {"disliked": ["a\x00"]}}, "feedback.disliked.0"),
        ({"query": "x", "filters": {"folders": ["/" + "a" * 5000]}}, "filters.folders.0"),
    ],
)
def test_a_nul_byte_or_a_value_no_filesystem_takes_answers_422_naming_the_field(
    viewer: Visitor, body: dict[str, Any], field_name: str
) -> None:
    assert_error(viewer.post("/api/v1/search", json=body), 422, field_name)


@pytest.mark.parametrize(
    "folder", ["~nobody-of-this-name/photos", "~", "relative/folder", "/no/such/folder"]
)
def test_a_folder_filter_that_names_no_library_folder_finds_nothing(
    site: Site, viewer: Visitor, folder: str
) -> None:
    """An unknown ~user (Path.expanduser raised: a 500) or a folder that is nowhere matches
    nothing; it is not an error."""
    found = search(viewer, {"query": "photo", "filters": {"folders": [folder]}})
    assert found["results"] == []


def test_bad_query_content_answers_422_or_404_not_500(site: Site, viewer: Visitor) -> None:
    text = base64.b64encode(b"just some text, not a picture").decode()
    assert_error(viewer.post("/api/v1/search", json={"images": [{"data": text}]}), 422)
    unknown = point_id("0" * 64)
    assert_error(viewer.post("/api/v1/search", json={"photos": [{"id": unknown}]}), 404)
    assert_error(viewer.post("/api/v1/search", json={"photos": [{"id": "../../etc"}]}), 404)


def test_a_photo_answers_its_fields_and_whole_payload(site: Site, viewer: Visitor) -> None:
    answer = viewer.get(f"/api/v1/images/{library_id(site, 5)}")
    assert answer.status_code == 200
    photo: dict[str, Any] = answer.json  # type: ignore[assignment]
    assert set(photo) == PHOTO_FIELDS
    assert (photo["path"], photo["filename"]) == (str(site.library[5]), "photo005.jpg")
    assert photo["format"].lower() == "jpeg"
    assert photo["payload"]["sha256"] == file_sha256(site.library[5])
    assert photo["payload"]["camera_model"] == "X-T3"


def test_thumbnails_are_webp_immutable_and_made_again_when_lost(
    site: Site, viewer: Visitor
) -> None:
    photo_id, sha = library_id(site, 0), file_sha256(site.library[0])
    preview = site.settings.thumbs_dir / sha[:2] / f"{sha}-preview.webp"
    assert not preview.exists(), "ingest leaves the preview to the first view"
    sides = {}
    for size in ("grid", "preview"):
        answer = viewer.get(f"/api/v1/images/{photo_id}/thumbnail?size={size}")
        assert answer.status_code == 200
        assert answer.mimetype == "image/webp"
        cache = answer.headers["Cache-Control"]
        assert {"private", "max-age=31536000", "immutable"} <= {p.strip() for p in cache.split(",")}
        with Image.open(io.BytesIO(answer.data)) as image:
            assert image.format == "WEBP"
            sides[size] = image.size
        again = viewer.get(
            f"/api/v1/images/{photo_id}/thumbnail?size={size}",
            headers={"If-None-Match": answer.headers["ETag"]},
        )
        assert again.status_code == 304
    assert sides == {"grid": (320, 240), "preview": PICTURE_SIZE}
    assert preview.exists()

    for path in (site.settings.thumbs_dir / sha[:2]).glob(f"{sha}-*.webp"):
        path.unlink()
    remade = viewer.get(f"/api/v1/images/{photo_id}/thumbnail")
    assert remade.status_code == 200 and remade.mimetype == "image/webp"
    assert (site.settings.thumbs_dir / sha[:2] / f"{sha}-grid.webp").is_file()
    assert_error(viewer.get(f"/api/v1/images/{photo_id}/thumbnail?size=huge"), 422, "size")


def test_the_original_is_the_file_itself(site: Site, viewer: Visitor) -> None:
    answer = viewer.get(f"/api/v1/images/{library_id(site, 4)}/original")
    assert answer.status_code == 200
    assert answer.data == site.library[4].read_bytes()
    assert answer.mimetype == "image/jpeg"
    assert answer.headers["ETag"]
    cache = {p.strip() for p in answer.headers["Cache-Control"].split(",")}
    assert cache == {"private", "max-age=3600"}


TRAVERSALS = [
    "../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "..",
    "%2e%2e",
    "etc%00passwd",
    "not-a-photo-id",
    "C:%5Cwindows%5Cwin.ini",
    point_id("0" * 64),
]


@pytest.mark.parametrize("photo_id", TRAVERSALS)
@pytest.mark.parametrize("route", ["", "/thumbnail", "/thumbnail?size=preview", "/original"])
def test_unknown_and_path_like_photo_ids_answer_404(
    viewer: Visitor, photo_id: str, route: str
) -> None:
    answer = viewer.get(f"/api/v1/images/{photo_id}{route}")
    assert answer.status_code == 404, answer.text
    assert b"root:" not in answer.data
