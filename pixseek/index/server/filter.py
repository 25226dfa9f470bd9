"""SearchFilters as a qdrant-client filter."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from qdrant_client import models

from pixseek.index.base import SearchFilters
from pixseek.index.conditions import Condition, to_clauses


def server_filter(filters: SearchFilters | None) -> models.Filter | None:
    """SearchFilters as a qdrant-client filter (None when nothing filters)."""
    if filters is None or filters.is_empty():
        return None
    clauses = to_clauses(filters)
    return models.Filter(
        must=[_server_condition(c) for c in clauses.must] or None,
        must_not=[_server_condition(c) for c in clauses.must_not] or None,
    )


def _datetime(value: str | None) -> datetime | None:
    # stored wall-clock times carry no offset; the server reads those as UTC, so bounds match
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc) if value else None


def _server_condition(condition: Condition) -> Any:
    if condition.kind == "any":
        return models.FieldCondition(
            key=condition.key, match=models.MatchAny(any=list(condition.values))
        )
    if condition.kind == "datetime":
        return models.FieldCondition(
            key=condition.key,
            range=models.DatetimeRange(gte=_datetime(condition.gte), lt=_datetime(condition.lt)),
        )
    if condition.kind == "is_empty":
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=condition.key))
    if condition.kind == "geo_radius":
        lat, lon, metres = condition.geo
        radius = models.GeoRadius(center=models.GeoPoint(lon=lon, lat=lat), radius=metres)
        return models.FieldCondition(key=condition.key, geo_radius=radius)
    if condition.kind == "geo_box":
        north, west, south, east = condition.geo
        box = models.GeoBoundingBox(
            top_left=models.GeoPoint(lon=west, lat=north),
            bottom_right=models.GeoPoint(lon=east, lat=south),
        )
        return models.FieldCondition(key=condition.key, geo_bounding_box=box)
    return models.HasIdCondition(has_id=list(condition.values))
