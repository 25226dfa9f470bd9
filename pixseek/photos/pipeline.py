"""What the indexer and a model switch's backfill share: decoding in threads ahead of the model,
with a bounded number of images in flight, and shrinking them for the model."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from PIL import Image

T = TypeVar("T")
R = TypeVar("R")


def shrink_for_model(image: Image.Image, side: int) -> Image.Image:
    """Resize so the shorter side is the model's input side, here in a decode thread, so the
    model's own preprocessing has almost nothing left to do."""
    short = min(image.size)
    if short <= side:
        return image
    size = (round(image.width * side / short), round(image.height * side / short))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """pool.map in order, with at most window items in flight (decoded images take memory)."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
