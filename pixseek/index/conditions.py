"""SearchFilters as backend-neutral conditions; each backend turns them into its own filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pixseek.index.base import SearchFilters

Kind = Literal["any", "datetime", "is_empty", "has_id", "geo_radius", "geo_box"]


@dataclass(frozen=True)
class Condition:
    """One filter clause: match any of values, a datetime range, an empty field (missing, null
    or []), ids, or a geo field within a radius (geo: lat, lon, metres) or a box (geo: north,
    west, south, east)."""

    kind: Kind
    key: str = ""
    values: tuple[str, ...] = ()
    gte: str | None = None
    lt: str | None = None
    geo: tuple[float, ...] = ()


@dataclass(frozen=True)
class Clauses:
    must: tuple[Condition, ...]
    must_not: tuple[Condition, ...]


def to_clauses(filters: SearchFilters) -> Clauses:
    """The must / must-not conditions that express filters."""
    must: list[Condition] = [
        Condition("any", key, values)
        for key, values in (
            ("camera_keys", filters.cameras),
            ("folders", filters.folders),
            ("format", filters.formats),
            ("shape", filters.shapes),
            ("place_keys", filters.places),
        )
        if values
    ]
    must_not: list[Condition] = []
    if filters.taken_from or filters.taken_until:
        must.append(
            Condition("datetime", "taken_at", gte=filters.taken_from, lt=filters.taken_until)
        )
    if filters.has_location is not None:
        (must_not if filters.has_location else must).append(Condition("is_empty", "gps"))
    must.extend(_geo_conditions(filters))
    if filters.unnamed_places:  # looked up, a place has a country code, or "" for none
        must.append(Condition("is_empty", "country_code"))
        must_not.append(Condition("is_empty", "gps"))
    if filters.exclude_ids:
        must_not.append(Condition("has_id", values=filters.exclude_ids))
    return Clauses(tuple(must), tuple(must_not))


def _geo_conditions(filters: SearchFilters) -> list[Condition]:
    conditions = []
    if filters.near is not None:
        near = filters.near
        conditions.append(Condition("geo_radius", "gps", geo=(near.lat, near.lon, near.km * 1000)))
    if filters.box is not None:
        box = filters.box
        corners = (box.north, box.west, box.south, box.east)
        conditions.append(Condition("geo_box", "gps", geo=corners))
    return conditions
