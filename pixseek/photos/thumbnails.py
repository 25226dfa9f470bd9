"""WebP thumbnails: the grid one made at ingest from the one RGB decode that also feeds the
model, the preview when a photo is first opened.

Decoding dominates ingest time (a 12-MP JPEG: 127 ms in full, 21 ms drafted to 1/8), so a photo
is decoded once, at the smallest JPEG draft scale that serves both the model and the grid
thumbnail (decode_side_for). PREVIEW_SIZE is chosen so that a typical 4000x3000 JPEG still
drafts at 1/4 (1000x750) when the preview is made.

Thumbnails live under a thumbs directory, named by the content's sha256: copies of a photo share
them, and one written once is never written again.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from PIL import Image

GRID_SIZE = 320
PREVIEW_SIZE = 960
SIZES: dict[str, int] = {"grid": GRID_SIZE, "preview": PREVIEW_SIZE}
# Ingest writes the grid thumbnail only; the preview is made when a photo is first opened (the
# web app makes a missing thumbnail from the file). Measured on a 12-MP camera JPEG (bench/
# ingest.py's), 2 cores: the preview's WebP encode alone took 19 ms, its resize 5 ms, against
# 30 ms for the drafted decode, and most photos of a library are never opened. (grid_thumbnail
# writes it and hands its picture on to the perceptual hashes and the re-ranking features.)
INGEST_SIZES: tuple[str, ...] = ("grid",)

# Measured on this project's 2-core dev VM (Pillow 13, median of 15 runs), 1000x750 -> 960x720:
# BILINEAR 7.4 ms, BICUBIC 10.6 ms, LANCZOS 14 ms; 4000x3000 -> 960x720: BILINEAR with
# reducing_gap=2.0 29-35 ms, without 52 ms, LANCZOS 127 ms (54 ms with the gap). Pillow's
# BILINEAR is a filtered (antialiased) downscale, within 46-52 dB PSNR of LANCZOS here: no visible
# difference at thumbnail size. The grid made from the preview takes 3 ms (12 ms from 4000x3000)
# and is as close to a LANCZOS grid from the source (43.6 dB vs 42.8 dB).
_RESAMPLE = Image.Resampling.BILINEAR
_REDUCING_GAP = 2.0

# WebP at quality 80, same machine: 960x720 method 0 / 2 / 4 took 13 / 23 / 57 ms on a photo-like
# picture (41 / 32 / 29 KiB) and 23 / 40 / 84 ms on textured_rgb noise (136 / 138 / 143 KiB);
# 320x240 took 1.5 / 2.8 / 6.8 ms and 2.8 / 4.6 / 9.6 ms. PSNR was the same within 0.3 dB for
# all three, so method 0 looks as good; it costs up to ~40 % more bytes on smooth photos, which
# a thumbnail cache can afford better than ingest can afford 10-45 ms more per photo.
WEBP_QUALITY = 80
WEBP_METHOD = 0

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Bytes 16..19 of an ICC profile's header name the colour space of the data it describes.
_ICC_RGB = b"RGB "


def thumbnail_path(thumbs_dir: Path, sha256: str, size_name: str) -> Path:
    """Where the size_name thumbnail of the content sha256 lives: thumbs_dir/ab/<sha256>-grid.webp.

    Content-addressed, so copies of a photo share their thumbnails; the two-character folder
    keeps any one directory small. Raises ValueError unless sha256 is a lower-case hex digest
    (it may come from a web request, and must never climb out of thumbs_dir) and size_name is
    a key of SIZES.
    """
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a lower-case sha256 hex digest: {sha256!r}")
    if size_name not in SIZES:
        raise ValueError(f"unknown thumbnail size {size_name!r}; known: {', '.join(SIZES)}")
    return thumbs_dir / sha256[:2] / f"{sha256}-{size_name}.webp"


class _Makers:
    """One lock per content hash while someone makes its thumbnails, dropped once unused."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def one_at_a_time(self, sha256: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(sha256, (threading.Lock(), 0))
            self._locks[sha256] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[sha256]
                if users == 1:
                    del self._locks[sha256]
                else:
                    self._locks[sha256] = (lock, users - 1)


_makers = _Makers()


def one_maker(sha256: str) -> contextlib.AbstractContextManager[None]:
    """Held while making a photo's missing thumbnails: a second request for them waits for the
    first and finds them made, instead of decoding the photo again (a big PNG decode holds
    hundreds of MB; eight viewers opening it at once would hold eight times that)."""
    return _makers.one_at_a_time(sha256)


def decode_side_for(
    width: int, height: int, model_side: int, thumbnail_side: int = GRID_SIZE
) -> int:
    """The min_side to pass to decode_rgb so one decode serves the model and the thumbnails.

    The model needs the shorter side >= model_side; the largest thumbnail needs the long side
    >= thumbnail_side, i.e. the shorter side >= ceil(thumbnail_side * short / long). The result
    is capped by the image's own shorter side (a smaller picture is decoded whole and never
    upscaled). Symmetric in width and height, so the stored and the oriented size give the same.
    """
    if width < 1 or height < 1 or model_side < 1:
        raise ValueError(f"sizes must be >= 1, got {width}x{height} and model side {model_side}")
    short, long = sorted((width, height))
    thumbnail_short = -(-thumbnail_side * short // long)  # integer ceil: no float rounding
    return min(max(model_side, thumbnail_short), short)


def write_thumbnails(
    image: Image.Image, sha256: str, thumbs_dir: Path, names: Iterable[str] = tuple(SIZES)
) -> dict[str, Path]:
    """Write each named thumbnail (all of SIZES by default) that does not exist yet; return
    {size_name: path}.

    image is the upright RGB picture from decode_rgb and is left unchanged. Each thumbnail
    keeps the aspect ratio with its long side at its size, or the picture's own size when that
    is smaller (never upscaled). An existing non-empty file is reused: the name is the content
    hash, so it already holds this picture. Each file is written to a temporary name in its
    folder and renamed into place, so a crash never leaves a half-written thumbnail.
    """
    paths = {name: thumbnail_path(thumbs_dir, sha256, name) for name in names}
    icc_profile = _rgb_icc_profile(image)
    source = image
    # largest first: each smaller size is resized from the previous one, which is cheaper
    for name in sorted(paths, key=lambda name: SIZES[name], reverse=True):
        long_side = SIZES[name]
        if _is_written(paths[name]):
            continue
        # sizes come from the original, so rounding does not compound from one size to the next
        source = _resized(source, _fit(image.size, long_side))
        _save_atomic(source, paths[name], icc_profile)
    return paths


def grid_thumbnail(image: Image.Image, sha256: str, thumbs_dir: Path) -> Image.Image:
    """Write the grid thumbnail of a decode (unless written) and answer its picture: ingest
    reduces that further for the perceptual hashes and the re-ranking features, instead of
    reducing the whole decode twice more (3 ms of a 1000x1170 decode; docs/quality.md)."""
    grid = _resized(image, _fit(image.size, GRID_SIZE))
    write_thumbnails(grid, sha256, thumbs_dir, ("grid",))  # at its size already: saved as it is
    return grid


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """size scaled so its long side is long_side, or size itself when it is already smaller."""
    width, height = size
    if max(width, height) <= long_side:
        return size
    if width >= height:
        return long_side, max(1, round(height * long_side / width))
    return max(1, round(width * long_side / height)), long_side


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image  # saving does not change it, so no copy is needed
    return image.resize(size, _RESAMPLE, reducing_gap=_REDUCING_GAP)


def _rgb_icc_profile(image: Image.Image) -> bytes | None:
    # Wide-gamut photos (Display P3 from phones) look washed out without their profile. decode_rgb
    # keeps the source's info, so a CMYK or grey profile can sit on RGB pixels after conversion;
    # embedding that would be wrong, so only an RGB profile travels.
    profile = image.info.get("icc_profile")
    if isinstance(profile, bytes) and profile[16:20] == _ICC_RGB:
        return profile
    return None


def _is_written(path: Path) -> bool:
    # Without an fsync a power cut can leave a renamed but empty file; such a file is rewritten.
    # A fsync per thumbnail would slow ingest on spinning disks for a file that can be remade.
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _save_atomic(image: Image.Image, path: Path, icc_profile: bytes | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and unique per call: decode threads may write the same content at once, and a
    # leftover from a killed process is never mistaken for a thumbnail.
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        # os.open with 0o666 honours the umask, unlike tempfile's private 0o600 files, so the
        # web app can read what a worker wrote
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as file:
            image.save(
                file,
                format="WEBP",
                quality=WEBP_QUALITY,
                method=WEBP_METHOD,
                icc_profile=icc_profile,
            )
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
