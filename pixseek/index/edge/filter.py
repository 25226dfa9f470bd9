"""SearchFilters as a Qdrant Edge filter."""

from __future__ import annotations

from typing import Any

import qdrant_edge as qe

from pixseek.index.base import SearchFilters
from pixseek.index.conditions import Condition, to_clauses


def edge_filter(filters: SearchFilters | None) -> qe.Filter | None:
    """SearchFilters as a Qdrant Edge filter (None when nothing filters)."""
    if filters is None or filters.is_empty():
        return None
    clauses = to_clauses(filters)
    return qe.Filter(
        must=[_edge_condition(c) for c in clauses.must] or None,
        must_not=[_edge_condition(c) for c in clauses.must_not] or None,
    )


def _edge_condition(condition: Condition) -> Any:
    if condition.kind == "any":
        return qe.FieldCondition(condition.key, match=qe.MatchAny(list(condition.values)))
    if condition.kind == "datetime":
        return qe.FieldCondition(
            condition.key, range=qe.RangeDateTime(gte=condition.gte, lt=condition.lt)
        )
    if condition.kind == "is_empty":
        return qe.IsEmptyCondition(condition.key)
    if condition.kind == "geo_radius":
        lat, lon, metres = condition.geo
        radius = qe.GeoRadius(qe.GeoPoint(lon=lon, lat=lat), metres)
        return qe.FieldCondition(condition.key, geo_radius=radius)
    if condition.kind == "geo_box":
        north, west, south, east = condition.geo
        box = qe.GeoBoundingBox(qe.GeoPoint(lon=west, lat=north), qe.GeoPoint(lon=east, lat=south))
        return qe.FieldCondition(condition.key, geo_bounding_box=box)
    return qe.HasIdCondition(set(condition.values))
