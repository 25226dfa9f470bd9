"""Real image files for tests: textured pictures with real EXIF, written by Pillow.

Every picture is distinct (a seeded mix of gradients, blocks and noise), so a tiny random model
still tells them apart, and each can carry EXIF orientation, capture date, camera, lens and GPS.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_ORIENTATION = 0x0112
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_LENS_MODEL = 0xA434


@dataclass
class ExifSpec:
    """What to write into a picture's EXIF; None leaves a tag out."""

    orientation: int | None = None
    taken: str | None = None  # "YYYY:MM:DD HH:MM:SS", EXIF's own format
    offset: str | None = None  # "+02:00"
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    gps: tuple[float, float] | None = None  # decimal lat, lon
    extra: dict[int, object] = field(default_factory=dict)


def textured_rgb(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A distinct picture per seed: two gradients, random blocks and noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            (xs / max(width - 1, 1)) * rng.uniform(0, 255),
            (ys / max(height - 1, 1)) * rng.uniform(0, 255),
            ((xs + ys) / max(width + height - 2, 1)) * rng.uniform(0, 255),
        ],
        axis=-1,
    )
    for _ in range(6):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(4, max(5, width // 2)), y0 + rng.integers(4, max(5, height // 2))
        base[y0:y1, x0:x1] = rng.uniform(0, 255, size=3)
    base += rng.normal(0, 12, size=base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def text_rgb(text: str, size: tuple[int, int] = (480, 120), font_size: int = 48) -> Image.Image:
    """Black text rendered in DejaVu Sans Bold (matplotlib's copy) on white, for OCR."""
    import matplotlib  # loaded only by the tests that draw text

    font_path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text(
        (20, 30), text, fill="black", font=ImageFont.truetype(font_path, font_size)
    )
    return image


def marker_rgb(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """White picture with a red block in the top-left corner: shows where orientation put it."""
    image = Image.new("RGB", size, "white")
    image.paste((255, 0, 0), (0, 0, size[0] // 3, size[1] // 3))
    return image


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def build_exif(spec: ExifSpec) -> Image.Exif:
    """An Exif block holding what spec names."""
    exif = Image.Exif()
    if spec.orientation is not None:
        exif[TAG_ORIENTATION] = spec.orientation
    if spec.make is not None:
        exif[TAG_MAKE] = spec.make
    if spec.model is not None:
        exif[TAG_MODEL] = spec.model
    sub = exif.get_ifd(EXIF_IFD)
    if spec.taken is not None:
        sub[TAG_DATETIME_ORIGINAL] = spec.taken
    if spec.offset is not None:
        sub[TAG_OFFSET_TIME_ORIGINAL] = spec.offset
    if spec.lens is not None:
        sub[TAG_LENS_MODEL] = spec.lens
    sub.update(spec.extra)
    if spec.gps is not None:
        lat, lon = spec.gps
        gps = exif.get_ifd(GPS_IFD)
        gps.update(
            {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
        )
    return exif


def write_image(
    path: Path,
    image: Image.Image,
    exif: ExifSpec | None = None,
    quality: int = 90,
) -> Path:
    """Save image at path in the format its suffix names, with EXIF where the format holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, object] = {}
    if exif is not None:
        kwargs["exif"] = build_exif(exif).tobytes()
    if path.suffix.lower() in {".jpg", ".jpeg", ".webp"}:
        kwargs["quality"] = quality
    image.save(path, **kwargs)
    return path


def write_dng(
    path: Path,
    image: Image.Image,
    preview: Image.Image | None = None,
    make: str = "Pixseek",
    model: str = "Test DNG",
    taken: str = "2021:05:04 10:20:30",
    orientation: int = 1,
) -> Path:
    """A camera RAW file LibRaw reads: a DNG whose raw data is image as a 12-bit RGGB Bayer
    mosaic, with camera, date and orientation in IFD0, and optionally a JPEG preview (IFD0,
    the raw data then in a SubIFD, as cameras and Adobe write them)."""
    import tifffile

    rgb = np.asarray(image.convert("RGB"), dtype=np.uint16) * 16
    mosaic = np.empty(rgb.shape[:2], np.uint16)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2]
    # XYZ to linear sRGB, in 1/10000ths: the camera sees sRGB's primaries
    xyz_to_srgb = (32406, -15372, -4986, -9689, 18758, 415, 557, -2040, 10570)
    colours = tuple(v for value in xyz_to_srgb for v in (value, 10000))
    camera = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, f"{make} {model}", True),  # UniqueCameraModel
        (50721, "2i", 9, colours, True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (TAG_MAKE, "s", 0, make, True),
        (TAG_MODEL, "s", 0, model, True),
        (0x0132, "s", 0, taken, True),  # DateTime
        (TAG_ORIENTATION, "H", 1, orientation, True),
    ]
    cfa = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50717, "I", 1, 4095, True),  # WhiteLevel
        (50714, "I", 1, 0, True),  # BlackLevel
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        if preview is not None:
            _write_jpeg_ifd(tif, preview, camera)
            tif.write(mosaic, photometric=32803, subfiletype=0, extratags=cfa, metadata=None)
        else:
            tif.write(mosaic, photometric=32803, extratags=camera + cfa, metadata=None)
    if preview is not None:
        _mark_jpeg_ifd(path, preview.size)
    return path


def _write_jpeg_ifd(tif: Any, preview: Image.Image, tags: list[Any]) -> None:
    """IFD0 holding the preview's JPEG bytes as one strip (tifffile has no JPEG encoder here:
    the strip is written as plain bytes, and _mark_jpeg_ifd says what it is)."""
    buffer = io.BytesIO()
    preview.convert("RGB").save(buffer, "JPEG", quality=85)
    strip = np.frombuffer(buffer.getvalue(), np.uint8).reshape(1, -1)
    tif.write(strip, photometric="minisblack", subfiletype=1, subifds=1, extratags=tags,
              metadata=None)  # fmt: skip


def _mark_jpeg_ifd(path: Path, size: tuple[int, int]) -> None:
    """IFD0's size, compression (JPEG), photometric (YCbCr) and samples set in place."""
    import tifffile

    width, height = size
    values = {256: width, 257: height, 259: 7, 262: 6, 277: 3, 278: height}
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        edits = [(tags[c].valueoffset, int(tags[c].dtype), v) for c, v in values.items()]
    with open(path, "r+b") as handle:
        for offset, dtype, value in edits:
            handle.seek(offset)
            handle.write(struct.pack("<H" if dtype == 3 else "<I", value))


def write_corrupt(path: Path, kind: str) -> Path:
    """A file with an image suffix that no decoder can read, in one of three ways."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "truncated":
        good = path.with_suffix(".tmp.jpg")
        write_image(good, textured_rgb(99, (200, 150)))
        data = good.read_bytes()
        good.unlink()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "garbage":
        path.write_bytes(random.Random(7).randbytes(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        raise ValueError(kind)
    return path


def write_huge_flat_png(path: Path, side: int, colour: tuple[int, int, int]) -> Path:
    """A side x side RGB PNG of one colour, written row by row (no picture in memory): a few
    hundred KB on disk that decode to side * side * 4 bytes, the small image that exhausts a
    server's memory when it is decoded naively."""
    row = b"\x00" + bytes(colour) * side  # filter type 0, then the pixels
    packer = zlib.compressobj(6)
    data = bytearray()
    for _ in range(side):
        data += packer.compress(row)
    data += packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        for kind, body in ((b"IHDR", header), (b"IDAT", bytes(data)), (b"IEND", b"")):
            out.write(struct.pack(">I", len(body)) + kind + body)
            out.write(struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return path
