"""SearchFilters as backend-neutral conditions; each backend turns them into its own filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pixseek.index.base import SearchFilters

Kind = Literal["any", "datetime", "is_empty", "has_id"]


@dataclass(frozen=True)
class Condition:
    """One filter clause: match any of values, a datetime range, an empty field, or ids."""

    kind: Kind
    key: str = ""
    values: tuple[str, ...] = ()
    gte: str | None = None
    lt: str | None = None


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
    if filters.exclude_ids:
        must_not.append(Condition("has_id", values=filters.exclude_ids))
    return Clauses(tuple(must), tuple(must_not))
