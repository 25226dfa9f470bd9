"""A model switch's backfill: indexed photos embedded by the new model, one named vector each.

The photos to fill come from the index (points without the new model's vector). Each is
decoded from one of its files whose content still matches the point (a file edited since would
give the photo another picture's vector), and only that named vector is written: payloads and
the active model's vectors are never touched, so searches go on as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

from embed import ImageDecodeError
from embed.decode import decode_rgb, open_image
from pixseek.index.base import StoredPoint, VectorIndex
from pixseek.indexing import precision
from pixseek.photos.identity import file_sha256
from pixseek.photos.pipeline import bounded_map, shrink_for_model
from pixseek.settings import Settings

if TYPE_CHECKING:
    from embed.model import Embedder

log = logging.getLogger(__name__)


@dataclass
class Filled:
    """What a backfill call did: points given the vector, and (path or id, reason) failures."""

    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Decoded:
    point_id: str
    image: Image.Image | None
    reason: str = ""
    label: str = ""  # what a failure names: the photo's first path, else its id


def backfill(
    settings: Settings, embedder: Embedder, index: VectorIndex, points: Sequence[StoredPoint]
) -> Filled:
    """Embed these points' photos with embedder and write its vector to them, in batches."""
    filled = Filled()
    batch: list[_Decoded] = []
    precision.follow_library(embedder, settings)  # a switch's model is checked on these photos
    with ThreadPoolExecutor(settings.decode_threads, "pixseek-backfill") as pool:
        decode = _Decoder(settings.max_image_pixels, embedder.image_size)
        for item in bounded_map(pool, decode, points, 2 * settings.batch_size):
            if item.image is None:
                filled.failed.append((item.label, item.reason))
                continue
            batch.append(item)
            if len(batch) >= settings.batch_size:
                _write(settings, embedder, index, batch, filled)
                batch = []
        _write(settings, embedder, index, batch, filled)
    precision.note_embedded(embedder, [], settings, final=True)
    return filled


def _write(
    settings: Settings,
    embedder: Embedder,
    index: VectorIndex,
    batch: list[_Decoded],
    filled: Filled,
) -> None:
    if not batch:
        return
    images = [item.image for item in batch if item.image is not None]
    vectors = embedder.embed_images(images)
    precision.note_embedded(embedder, images, settings, final=False)
    by_id = {item.point_id: vector for item, vector in zip(batch, vectors, strict=True)}
    index.update_vectors(embedder.model_id, by_id)
    filled.done.extend(item.point_id for item in batch)


class _Decoder:
    """Runs in a decode thread: the first file of a point that still holds its content."""

    def __init__(self, max_pixels: int, side: int) -> None:
        self.max_pixels = max_pixels
        self.side = side

    def __call__(self, point: StoredPoint) -> _Decoded:
        rgb, reason = decode_first_file(point, self.max_pixels, lambda _w, _h: self.side)
        if rgb is None:
            return _Decoded(point.id, None, reason, first_label(point))
        return _Decoded(point.id, shrink_for_model(rgb, self.side))


def decode_first_file(
    point: StoredPoint, max_pixels: int, min_side: Callable[[int, int], int]
) -> tuple[Image.Image | None, str]:
    """The picture of the first of a point's files that still holds the indexed content,
    decoded to at least min_side(width, height) on its short side; else None and why no file
    could serve (a bad file never stops a background job: its reason is kept)."""
    sha = point.payload.get("sha256")
    reasons = []
    for path in [str(p) for p in point.payload.get("paths") or []]:
        try:
            if file_sha256(path) != sha:
                reasons.append(f"{path} changed since it was indexed")
                continue
            with open_image(path, max_pixels) as image:
                return decode_rgb(image, min_side=min_side(*image.size)), ""
        except OSError as exc:
            reasons.append(f"cannot read {path}: {exc.strerror or exc}")
        except ImageDecodeError as exc:
            reasons.append(f"{path}: {exc}")
        except Exception as exc:
            log.exception("unexpected error decoding %s", path)
            reasons.append(f"{path}: unexpected error: {type(exc).__name__}: {exc}")
    return None, "; ".join(reasons) or "the photo has no file"


def first_label(point: StoredPoint) -> str:
    """What a failure names: the photo's first path, else its id."""
    paths = point.payload.get("paths") or []
    return str(paths[0]) if paths else point.id
