"""Search filters from what a user typed (CLI options or a web form) to SearchFilters."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from pixseek.errors import QueryError
from pixseek.index.base import GeoBox, GeoRadius, SearchFilters, Shape
from pixseek.photos.formats import typed_name
from pixseek.photos.places import place_key

SHAPES: tuple[Shape, ...] = ("landscape", "portrait", "square")
MAX_RADIUS_KM = 20_037.5  # half the earth's circumference: every point is this close


def build_filters(
    after: str | None = None,
    before: str | None = None,
    cameras: Iterable[str] = (),
    folders: Iterable[str | Path] = (),
    formats: Iterable[str] = (),
    shapes: Iterable[str] = (),
    has_location: bool | None = None,
    near: Sequence[float] | None = None,
    box: Sequence[float] | None = None,
    places: Iterable[str] = (),
) -> SearchFilters:
    """Normalised filters; raise QueryError naming the value that is not understood.

    after/before take a date (YYYY-MM-DD; `before` then includes that whole day) or an ISO
    datetime, compared with the wall-clock time the photo was taken. near: (lat, lon, km);
    box: two opposite corners (lat, lon, lat, lon); places: city, region or country names,
    matched without regard to case."""
    return SearchFilters(
        taken_from=date_bound(after, "after", end_of_day=False),
        taken_until=date_bound(before, "before", end_of_day=True),
        cameras=tuple(" ".join(c.lower().split()) for c in cameras if c.strip()),
        folders=tuple(folder_path(f) for f in folders if str(f).strip()),
        formats=tuple(typed_name(f) for f in formats if f.strip()),
        shapes=tuple(_shape(s) for s in shapes),
        has_location=has_location,
        near=geo_radius(*near) if near is not None else None,
        box=geo_box(*box) if box is not None else None,
        places=tuple(place_key(p) for p in places if p.strip()),
    )


def geo_radius(lat: float, lon: float, km: float) -> GeoRadius:
    """Photos within km kilometres of a point; QueryError for a coordinate off the globe or a
    radius that is not positive (or longer than half the earth's circumference)."""
    if not (math.isfinite(km) and 0 < km <= MAX_RADIUS_KM):
        raise QueryError(f"near: radius {km!r} km is not between 0 and {MAX_RADIUS_KM:g}")
    return GeoRadius(_latitude(lat, "near"), _longitude(lon, "near"), float(km))


def geo_box(lat1: float, lon1: float, lat2: float, lon2: float) -> GeoBox:
    """The box between two opposite corners; QueryError for a coordinate off the globe."""
    return GeoBox.from_corners(
        _latitude(lat1, "box"), _longitude(lon1, "box"),
        _latitude(lat2, "box"), _longitude(lon2, "box"),
    )  # fmt: skip


def _latitude(value: float, name: str) -> float:
    if not (math.isfinite(value) and -90 <= value <= 90):
        raise QueryError(f"{name}: latitude {value!r} is not between -90 and 90")
    return float(value)


def _longitude(value: float, name: str) -> float:
    if not (math.isfinite(value) and -180 <= value <= 180):
        raise QueryError(f"{name}: longitude {value!r} is not between -180 and 180")
    return float(value)


def folder_path(folder: str | Path) -> str:
    """A folder as the index stores paths: absolute, ~ expanded, symlinks resolved; or a folder
    name ("trips", "2019/japan": no leading / or ~), kept as typed for search to match against
    the library's folders (pixseek/search/folders.py). A folder that exists nowhere only
    matches nothing; QueryError for one no filesystem can name (NUL byte). os.path, not
    pathlib: Path.expanduser raises for an unknown ~user and Path.resolve for a symlink loop,
    where these leave the path as it is."""
    text = str(folder).strip()
    if "\x00" in text:
        raise QueryError(f"folder {text!r} contains a NUL byte")
    if not text.startswith(("/", "~")):
        return "/".join(part for part in text.split("/") if part not in ("", "."))
    return os.path.realpath(os.path.expanduser(text))


def date_bound(value: str | None, name: str, end_of_day: bool) -> str | None:
    """A wall-clock ISO bound; a bare date as an upper bound means up to the end of that day."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(
                day + timedelta(days=end_of_day), datetime.min.time()
            ).isoformat()
        return datetime.fromisoformat(value).replace(tzinfo=None).isoformat()
    except ValueError:
        raise QueryError(f"{name} {value!r} is not a date (YYYY-MM-DD) or ISO datetime") from None
    except OverflowError:  # the day after 9999-12-31
        raise QueryError(f"{name} {value!r} is out of range") from None


def _shape(value: str) -> Shape:
    if value not in SHAPES:
        raise QueryError(f"shape {value!r} is not one of {', '.join(SHAPES)}")
    return value
