"""Search filters from what a user typed (CLI options or a web form) to SearchFilters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

from pixseek.errors import QueryError
from pixseek.index.base import SearchFilters, Shape

FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heic": "heif"}
SHAPES: tuple[Shape, ...] = ("landscape", "portrait", "square")


def build_filters(
    after: str | None = None,
    before: str | None = None,
    cameras: Iterable[str] = (),
    folders: Iterable[str | Path] = (),
    formats: Iterable[str] = (),
    shapes: Iterable[str] = (),
    has_location: bool | None = None,
) -> SearchFilters:
    """Normalised filters; raise QueryError naming the value that is not understood.

    after/before take a date (YYYY-MM-DD; `before` then includes that whole day) or an ISO
    datetime, compared with the wall-clock time the photo was taken."""
    return SearchFilters(
        taken_from=date_bound(after, "after", end_of_day=False),
        taken_until=date_bound(before, "before", end_of_day=True),
        cameras=tuple(" ".join(c.lower().split()) for c in cameras if c.strip()),
        folders=tuple(str(Path(f).expanduser().resolve()) for f in folders if str(f).strip()),
        formats=tuple(_format(f) for f in formats if f.strip()),
        shapes=tuple(_shape(s) for s in shapes),
        has_location=has_location,
    )


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


def _format(value: str) -> str:
    name = value.lower().strip().lstrip(".")
    return FORMAT_ALIASES.get(name, name)


def _shape(value: str) -> Shape:
    if value not in SHAPES:
        raise QueryError(f"shape {value!r} is not one of {', '.join(SHAPES)}")
    return value
