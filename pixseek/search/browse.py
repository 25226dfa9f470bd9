"""Browsing without a query: the photos passing the filters in the order they were taken, a
page at a time, with how many photos each month on the page holds (a timeline of the library
or of any filtered part of it).

A page ends with a cursor for the next one: the last photo's taken_at and how many photos of
that same moment the pages so far have shown (bursts and copied folders share one timestamp),
so paging costs the same on page 1 and page 500. Photos without a capture date (neither a tag
nor a usable file time) are not in the timeline.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime

from pixseek.errors import QueryError
from pixseek.index.base import SearchFilters, StoredPoint, VectorIndex
from pixseek.search.folders import resolve_folder_names
from pixseek.search.search import MAX_LIMIT, SearchResult, first_path

MAX_CURSOR = 4096  # bytes of an encoded cursor: anything longer is not one this module made


@dataclass(frozen=True)
class Month:
    month: str  # "2021-06"
    photos: int  # photos of that month passing the filters, on this page or not


@dataclass(frozen=True)
class Timeline:
    results: list[SearchResult]
    months: list[Month]  # the months of this page's photos, in page order
    next: str | None  # the cursor of the next page; None on the last


@dataclass(frozen=True)
class Cursor:
    taken_at: str
    seen: int  # photos taken at exactly taken_at already shown

    def encode(self) -> str:
        raw = json.dumps({"t": self.taken_at, "n": self.seen}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """QueryError for anything that is not a cursor a page of this module gave."""
        try:
            if len(text) > MAX_CURSOR:
                raise ValueError("too long")
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            moment, seen = datetime.fromisoformat(str(data["t"])), int(data["n"])
            if moment.tzinfo is not None:
                raise ValueError("a wall-clock time has no offset")
            taken_at = moment.isoformat(timespec="seconds")
            if not 0 <= seen <= MAX_LIMIT * 100:
                raise ValueError("out of range")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise QueryError(f"cursor {text[:40]!r} is not one a timeline page gave") from exc
        return cls(taken_at, seen)


def browse(
    index: VectorIndex,
    filters: SearchFilters,
    newest_first: bool = True,
    limit: int = 40,
    cursor: str | None = None,
) -> Timeline:
    """One page of the timeline of the photos passing filters, from cursor on."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
    start = Cursor.decode(cursor) if cursor else None
    filters = resolve_folder_names(filters, index)
    skip = start.seen if start else 0
    points = index.by_date(filters, newest_first, limit + skip, start.taken_at if start else None)
    if start is not None:
        points = _after_seen(points, start)
    page = points[:limit]
    results = [SearchResult(p.id, 0.0, first_path(p.payload), p.payload) for p in page]
    following = _next_cursor(page, start) if len(page) == limit else None
    return Timeline(results, _months(index, filters, page), following)


def _after_seen(points: list[StoredPoint], start: Cursor) -> list[StoredPoint]:
    """points without the first start.seen of those taken at exactly start.taken_at."""
    at_start = [p for p in points if p.payload.get("taken_at") == start.taken_at]
    shown = {p.id for p in at_start[: start.seen]}
    return [p for p in points if p.id not in shown]


def _next_cursor(page: list[StoredPoint], start: Cursor | None) -> str:
    last = str(page[-1].payload.get("taken_at"))
    same = sum(1 for p in page if p.payload.get("taken_at") == last)
    if start is not None and start.taken_at == last:
        same += start.seen  # the whole page was one moment, continued from earlier pages
    return Cursor(last, same).encode()


def _months(index: VectorIndex, filters: SearchFilters, page: list[StoredPoint]) -> list[Month]:
    """Each month of the page with its count among the filtered photos (one count a month)."""
    months = dict.fromkeys(str(p.payload.get("taken_at"))[:7] for p in page)
    return [Month(month, index.count(_within(filters, month))) for month in months]


def _within(filters: SearchFilters, month: str) -> SearchFilters:
    year, number = int(month[:4]), int(month[5:7])
    following = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    return replace(
        filters,
        taken_from=max(filter(None, [filters.taken_from, f"{month}-01T00:00:00"])),
        taken_until=min(filter(None, [filters.taken_until, f"{following}-01T00:00:00"])),
    )
