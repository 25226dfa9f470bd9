"""Place names for photos indexed before the index held them: their coordinates are looked up
and the place fields set on their points, without reading the files again.

It runs before every scan (`pixseek index`, the scan jobs); when every located photo has its
place already, it costs one count of the index.
"""

from __future__ import annotations

import logging

from pixseek.index.base import SearchFilters, VectorIndex
from pixseek.photos.places import place_fields

log = logging.getLogger(__name__)

UNNAMED = SearchFilters(unnamed_places=True)
BATCH = 500


def name_places(index: VectorIndex, batch: int = BATCH) -> int:
    """Give every photo with coordinates but no place fields its place; how many were given
    one (including those far from every place, which get an empty country code)."""
    if index.count(UNNAMED) == 0:
        return 0
    named, start = 0, None
    while True:
        points, start = index.scroll(None, batch, start, UNNAMED)
        for point in points:
            gps = point.payload.get("gps")
            if isinstance(gps, dict) and {"lat", "lon"} <= gps.keys():
                index.set_payload(point.id, place_fields(gps))
                named += 1
        if start is None:
            break
    if named:
        log.info("place names given to %d photos indexed before them", named)
    return named
