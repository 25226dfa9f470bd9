"""The search half of the JSON API: search, photos, thumbnails and originals."""

from __future__ import annotations

import base64
import binascii
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from embed.decode import decode_rgb, open_image
from pixseek.errors import NotFoundError, QueryError
from pixseek.index.base import SearchFilters, StoredPoint
from pixseek.indexing.precision import follow_library
from pixseek.jobs.names import SCAN
from pixseek.photos.formats import mimetype as format_mimetype
from pixseek.photos.originals import (
    OpenedOriginal,
    StaleOriginalError,
    allowed_roots,
    open_original,
)
from pixseek.photos.places import place_label
from pixseek.photos.thumbnails import (
    PREVIEW_SIZE,
    decode_side_for,
    one_maker,
    thumbnail_path,
    write_thumbnails,
)
from pixseek.search.browse import browse
from pixseek.search.facets import facets
from pixseek.search.filters import MAX_RADIUS_KM, build_filters, date_bound
from pixseek.search.search import (
    MAX_LIMIT,
    QueryTerm,
    SearchRequest,
    collapse_groups,
    search_page,
    text_terms,
)
from web import answers, quality
from web.services import WebServices
from web.validation import Answer, Text, endpoint

bp = Blueprint("search_api", __name__, url_prefix="/api/v1")
MAX_QUERY_IMAGE_BYTES = 20 * 1024 * 1024
THUMBNAIL_CACHE = 365 * 24 * 3600  # a photo id names its content, so its thumbnails never change
ORIGINAL_CACHE = 3600  # the file at a path can be edited in place
RESCAN_AGAIN_AFTER = 600.0  # seconds before a stale path asked for again is rescanned again


# A file answer: conditional (ETag) and range requests as werkzeug serves them.
FILE_ANSWERS: dict[int, str | Answer] = {
    206: "the part of the file a Range header asked for",
    304: "not modified since the ETag sent in If-None-Match",
    404: "no indexed photo with this id, or its file is gone from disk",
    416: "a Range beyond the file",
    503: "the index does not answer",
}
CACHE_HEADERS = {"ETag": {"type": "string"}, "Cache-Control": {"type": "string"}}
NAME_HEADER = {"Content-Disposition": {"type": "string"}}  # inline; filename=<the photo's name>


def _weight(value: float) -> float:
    if value == 0:
        raise ValueError("a weight of 0 does nothing; leave the term out")
    return value


Weight = Annotated[float, Field(ge=-100, le=100), AfterValidator(_weight)]
PhotoId = Annotated[Text, Field(min_length=1, max_length=100)]
Camera = Annotated[Text, Field(max_length=200)]
Folder = Annotated[Text, Field(max_length=4096)]  # PATH_MAX
FormatName = Annotated[Text, Field(max_length=20)]
PlaceName = Annotated[Text, Field(max_length=200)]
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]


class ImageTerm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: str = Field(description="base64 of an image file (JPEG, PNG, WebP, HEIC, ...)")
    weight: Weight = 1.0

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        if "," in value[:100] and value.startswith("data:"):
            value = value.split(",", 1)[1]  # a data: URL as browsers make them
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
        if len(raw) > MAX_QUERY_IMAGE_BYTES:
            raise ValueError(f"larger than {MAX_QUERY_IMAGE_BYTES // 2**20} MB")
        return value

    def raw(self) -> bytes:
        return base64.b64decode(self.data)


class PhotoTerm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: PhotoId
    weight: Weight = 1.0


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    liked: list[PhotoId] = Field(default_factory=list, max_length=200)
    disliked: list[PhotoId] = Field(default_factory=list, max_length=200)


class Corner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Latitude
    lon: Longitude


class Near(Corner):
    """A point and a radius around it."""

    km: float = Field(
        strict=True, gt=0, le=MAX_RADIUS_KM, allow_inf_nan=False, description="the radius"
    )


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: Text | None = Field(default=None, description="YYYY-MM-DD or ISO datetime, inclusive")
    before: Text | None = Field(
        default=None, description="YYYY-MM-DD (the whole day) or ISO datetime"
    )
    cameras: list[Camera] = Field(default_factory=list, max_length=50)
    folders: list[Folder] = Field(
        default_factory=list,
        max_length=50,
        description="absolute paths on the server, or folder names (`trips`, `2019/japan`) "
        "matching every library folder ending with them",
    )
    formats: list[FormatName] = Field(default_factory=list, max_length=20)
    shapes: list[Literal["landscape", "portrait", "square"]] = Field(default_factory=list)
    has_location: StrictBool | None = None
    near: Near | None = Field(default=None, description="photos within km of (lat, lon)")
    box: list[Corner] | None = Field(
        default=None, min_length=2, max_length=2,
        description="photos inside the box between two opposite corners, in any order",
    )  # fmt: skip
    places: list[PlaceName] = Field(
        default_factory=list, max_length=50,
        description="city, region or country names (any of them, case-insensitive)",
    )  # fmt: skip

    @field_validator("after", "before")
    @classmethod
    def _date(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = str(info.field_name)
        try:  # as build_filters will read it: `before` a bare date is the end of that day
            date_bound(value, name, end_of_day=name == "before")
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        return value

    def to_filters(self) -> SearchFilters:
        return build_filters(
            self.after, self.before, self.cameras, self.folders, self.formats, self.shapes,
            self.has_location,
            (self.near.lat, self.near.lon, self.near.km) if self.near else None,
            (self.box[0].lat, self.box[0].lon, self.box[1].lat, self.box[1].lon)
            if self.box else None,
            self.places,
        )  # fmt: skip


class SearchBody(BaseModel):
    """A query: weighted text, images and photos, like/dislike feedback, filters, sort, page."""

    model_config = ConfigDict(extra="forbid")
    query: Text | None = Field(default=None, max_length=2000)
    images: list[ImageTerm] = Field(default_factory=list, max_length=8)
    photos: list[PhotoTerm] = Field(default_factory=list, max_length=200)
    feedback: Feedback = Field(default_factory=Feedback)
    filters: Filters = Field(default_factory=lambda: Filters())
    sort: Literal["relevance", "date_desc", "date_asc"] = "relevance"
    cutoff: float = Field(
        0.9, ge=0, le=1, description="date sorts: keep scores >= cutoff x best; 0 keeps every one"
    )
    limit: int = Field(40, ge=1, le=200)
    offset: int = Field(0, ge=0)
    rerank: bool = Field(
        True,
        strict=True,
        description="image and 'more like this' queries: re-rank the best 50 candidates by "
        "local features and geometry (on by default: it raised Recall@1 on cropped, rotated "
        "and perspective copies; docs/quality.md)",
    )
    collapse: bool = Field(
        True,
        strict=True,
        description="show one photo per near-duplicate group; the others are listed in the "
        "result's `similar`",
    )

    @model_validator(mode="after")
    def _something_to_search(self) -> SearchBody:
        has_text = bool(self.query and self.query.strip())
        rated = self.feedback.liked or self.feedback.disliked
        if not (has_text or self.images or self.photos or rated):
            raise ValueError("give a query, an image, a photo or liked/disliked photos")
        if self.offset + self.limit > MAX_LIMIT:
            raise ValueError(f"offset + limit must be at most {MAX_LIMIT}")
        return self

    def to_request(self, image_max_pixels: int | None = None) -> SearchRequest:
        terms = text_terms(self.query)
        terms += [QueryTerm("image", image.raw(), image.weight) for image in self.images]
        terms += [QueryTerm("photo", photo.id, photo.weight) for photo in self.photos]
        return SearchRequest(
            tuple(terms), self.filters.to_filters(), self.limit, self.offset, None,
            sort=self.sort, cutoff=self.cutoff,
            liked=tuple(self.feedback.liked), disliked=tuple(self.feedback.disliked),
            image_max_pixels=image_max_pixels, rerank=self.rerank,
        )  # fmt: skip


class TimelineBody(BaseModel):
    """Browsing without a query: the photos passing the filters in the order taken."""

    model_config = ConfigDict(extra="forbid")
    filters: Filters = Field(default_factory=lambda: Filters())
    order: Literal["newest", "oldest"] = "newest"
    limit: int = Field(40, ge=1, le=200)
    cursor: Text | None = Field(
        default=None, max_length=4096, description="the `next` of the page before; none: the first"
    )


class FacetsBody(BaseModel):
    """The filters whose photos the facets count."""

    model_config = ConfigDict(extra="forbid")
    filters: Filters = Field(default_factory=lambda: Filters())


class ThumbnailQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: Literal["grid", "preview"] = "grid"
    v: Text | None = Field(default=None, description="ignored; lets a page bust its cache")


def _alone(point_id: str) -> str | None:
    return None  # collapse off: every photo its own group


def services() -> WebServices:
    found: WebServices = current_app.extensions["pixseek"]
    return found


def photo_json(point_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A photo as the API shows it: the fields a page needs first, then the whole payload."""
    paths = payload.get("paths") or []
    make, model = payload.get("camera_make"), payload.get("camera_model")
    camera = model if make and model and model.lower().startswith(make.lower()) else None
    return {
        "id": point_id,
        "path": paths[0] if paths else None,
        "filename": payload.get("filename"),
        "taken_at": payload.get("taken_at"),
        "width": payload.get("width"),
        "height": payload.get("height"),
        "format": payload.get("format"),
        "camera": camera or " ".join(p for p in (make, model) if p) or None,
        "place": place_label(payload),
        "thumbnail_url": url_for("search_api.thumbnail", photo_id=point_id, size="grid"),
        "preview_url": url_for("search_api.thumbnail", photo_id=point_id, size="preview"),
        "original_url": url_for("search_api.original", photo_id=point_id),
        "payload": payload,
    }


@endpoint(
    bp, "/search", "POST", body=SearchBody, response=answers.SearchAnswer,
    answers={
        404: "a photo id of the query or the feedback names no indexed photo",
        422: "invalid: a field (details), or the query (no term, an image that does not "
        "decode, a malformed weight, a photo both liked and disliked)",
        503: "the index does not answer",
    },
)  # fmt: skip
def search_photos(body: SearchBody) -> Response:
    """Search by weighted text, images and photos, with filters; or refine by likes/dislikes."""
    started = time.perf_counter()
    library = services().library
    embedder = library.embedder  # the active model, read now: a model switch cuts over here
    follow_library(embedder, library.settings)  # texts in the precision checked on its photos
    request = body.to_request(services().settings.query_max_pixels)
    page = search_page(request, embedder, library.index, quality.reranker())
    results = page.results
    full_page = len(results) == body.limit and body.offset + body.limit < MAX_LIMIT
    group_of = quality.duplicates().group_of(embedder.model_id) if body.collapse else _alone
    shown = collapse_groups(results, group_of)
    return jsonify(
        {
            "results": [
                photo_json(r.id, r.payload)
                | {"score": r.score, "matched": list(r.matched), "similar": similar}
                for r, similar in shown
            ],
            "offset": body.offset,
            "limit": body.limit,
            "next_offset": body.offset + body.limit if full_page else None,
            "hidden_by_cutoff": page.hidden_by_cutoff,
            "model": embedder.model_id,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


@endpoint(
    bp, "/timeline", "POST", body=TimelineBody, response=answers.TimelineAnswer,
    answers={
        422: "invalid: a field (details), or a cursor no timeline page gave",
        503: "the index does not answer",
    },
)  # fmt: skip
def timeline(body: TimelineBody) -> Response:
    """The photos passing the filters by date, a page at a time, with each month's count."""
    started = time.perf_counter()
    page = browse(
        services().library.index, body.filters.to_filters(), body.order == "newest", body.limit,
        body.cursor,
    )  # fmt: skip
    return jsonify(
        {
            "results": [photo_json(r.id, r.payload) for r in page.results],
            "months": [{"month": m.month, "photos": m.photos} for m in page.months],
            "next": page.next,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )


@endpoint(
    bp, "/facets", "POST", body=FacetsBody, response=answers.FacetsAnswer,
    answers={422: "invalid: a field (details)", 503: "the index does not answer"},
)  # fmt: skip
def facet_values(body: FacetsBody) -> Response:
    """What the library holds among the photos passing the filters, with counts: cameras, folders,
    file types, years and months, places. Each facet counts with every filter but its own."""
    started = time.perf_counter()
    found = services()
    roots = allowed_roots(found.library.catalog, found.settings.uploads_dir)
    answer = facets(found.library.index, body.filters.to_filters(), roots)
    return jsonify(asdict(answer) | {"took_ms": round((time.perf_counter() - started) * 1000, 1)})


@endpoint(
    bp, "/images/<photo_id>", response=answers.Photo,
    answers={404: "no indexed photo with this id", 503: "the index does not answer"},
)  # fmt: skip
def photo(photo_id: str) -> Response:
    """One indexed photo: its fields and whole payload."""
    return jsonify(photo_json(photo_id, _stored(photo_id).payload))


@endpoint(
    bp, "/images/<photo_id>/thumbnail", query=ThumbnailQuery, response=("image/webp",),
    answers=FILE_ANSWERS, headers=CACHE_HEADERS,
)  # fmt: skip
def thumbnail(photo_id: str, query: ThumbnailQuery) -> Response:
    """A WebP thumbnail: grid (320 px) or preview (960 px) on the long side."""
    payload = _stored(photo_id).payload
    sha = str(payload.get("sha256", ""))
    path = thumbnail_path(services().settings.thumbs_dir, sha, query.size)
    if not path.is_file():
        with one_maker(sha):  # however many ask for it at once, the photo is decoded once
            if not path.is_file():
                path = _make_thumbnails(sha, payload)[query.size]
    answer = send_file(path, mimetype="image/webp", etag=sha, conditional=True)
    answer.cache_control.private = True
    answer.cache_control.max_age = THUMBNAIL_CACHE
    answer.cache_control.immutable = True
    return answer


@endpoint(
    bp, "/images/<photo_id>/original", response=("image/*", "application/octet-stream"),
    answers=FILE_ANSWERS, headers=CACHE_HEADERS | NAME_HEADER,
)  # fmt: skip
def original(photo_id: str) -> Response:
    """The photo's file, as it is on disk: only while it is the file that was indexed and lies
    in a library folder (or the uploads); otherwise 404, and the file is rescanned."""
    payload = _stored(photo_id).payload
    opened = _open_original(payload)
    mimetype = format_mimetype(str(payload.get("format", "")))
    answer = send_file(
        opened.file, mimetype=mimetype, conditional=False, last_modified=opened.mtime,
        download_name=payload.get("filename") or None,  # saved under the photo's own name
        etag=f"{payload.get('sha256', '')}-{opened.size}-{opened.mtime}", max_age=ORIGINAL_CACHE,
    )  # fmt: skip
    answer.content_length = opened.size
    answer.make_conditional(request.environ, accept_ranges=True, complete_length=opened.size)
    answer.cache_control.public = False  # the file may change in place: revalidate after an hour
    answer.cache_control.private = True
    return answer


def _stored(photo_id: str) -> StoredPoint:
    """The indexed photo, or NotFoundError; an id is only ever looked up, never used as a path."""
    found = services().library.index.retrieve([photo_id])
    if not found:
        raise NotFoundError(f"no indexed photo with id {photo_id}")
    return found[0]


def _open_original(payload: dict[str, Any]) -> OpenedOriginal:
    """The photo's indexed file, checked (pixseek/originals.py); a path that no longer holds it
    is rescanned, at most once every RESCAN_AGAIN_AFTER seconds per path."""
    found = services()
    catalog = found.library.catalog
    try:
        return open_original(payload, catalog, allowed_roots(catalog, found.settings.uploads_dir))
    except StaleOriginalError as exc:
        _rescan(exc.stale)
        raise


def _rescan(paths: list[str]) -> None:
    """Scan the folders of these paths again: a file gone leaves the index, a changed one is
    indexed anew (or fails, when it is no picture). The folder, not the path: a scan resolves
    the paths it is given, which would follow a planted symlink to its target."""
    asked: dict[str, float] = current_app.extensions.setdefault("pixseek_rescans", {})
    now = time.monotonic()
    due = [path for path in paths if now - asked.get(path, -math.inf) > RESCAN_AGAIN_AFTER]
    if not due:
        return
    asked.update(dict.fromkeys(due, now))
    folders = sorted({str(_existing_folder(Path(path))) for path in due})
    job = services().jobs.create("index", {"paths": folders, "reason": "changed since indexed"})
    services().send_task(SCAN, [job.id, folders])


def _existing_folder(path: Path) -> Path:
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder


def _make_thumbnails(sha: str, payload: dict[str, Any]) -> dict[str, Path]:
    """The preview is made when first asked for, and a grid thumbnail can be missing (a deleted
    cache, an older index): make them now, from one decode drafted to the preview's size."""
    opened = _open_original(payload)
    with opened.file, open_image(opened.file) as image:
        side = decode_side_for(image.width, image.height, 1, PREVIEW_SIZE)
        upright = decode_rgb(image, min_side=side)
    return write_thumbnails(upright, sha, services().settings.thumbs_dir)
