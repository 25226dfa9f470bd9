"""Words for the points written before text search: an index made by an earlier release has
no text vector, and every indexing run first gives it to the points that lack it.

Cheap next to a model switch's backfill: the words come from the payload, no file is read.
"""

from __future__ import annotations

import logging

from pixseek.index.base import VectorIndex
from pixseek.indexing.places import name_places

log = logging.getLogger(__name__)

BATCH = 512  # points read and written per step


def catch_up(index: VectorIndex) -> None:
    """Give points written by an earlier release what is derived from their payload: place
    names of their coordinates, then their words (which include those names). Runs before
    every scan (`pixseek index` and the scan jobs)."""
    name_places(index)
    fill_text(index)


def fill_text(index: VectorIndex, batch: int = BATCH) -> int:
    """Give every point without a text vector the one of its payload; how many were given."""
    filled, start = 0, None
    while True:
        points, start = index.lacking_text(batch, start)
        index.set_text(points)
        filled += len(points)
        if start is None:
            break
    if filled:
        log.info("%d photos indexed before text search got their words", filled)
    return filled
