"""embed.decode on real files written by Pillow: orientation, modes, draft, limits, corruption."""

from __future__ import annotations

import io
import itertools
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, features

from embed.decode import DEFAULT_MAX_PIXELS, decode_rgb, open_image, register_optional_formats
from embed.errors import ImageDecodeError
from tests.imagegen import (
    ExifSpec,
    build_exif,
    marker_rgb,
    textured_rgb,
    write_corrupt,
    write_image,
)

WHITE = (255, 255, 255)
T = Image.Transpose
# The transpose that undoes what EXIF orientation N asks for: storing marker.transpose(this)
# with tag N means a correct reader shows the marker upright again.
INVERSE_OF_ORIENTATION = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}


def decode_file(path: Path, min_side: int | None = None) -> Image.Image:
    # closed on failure too: a file left for the garbage collector warns in a later test
    with open_image(path) as image:
        return decode_rgb(image, min_side=min_side)


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def stored_marker(orientation: int, size: tuple[int, int] = (60, 40)) -> Image.Image:
    marker = marker_rgb(size)
    inverse = INVERSE_OF_ORIENTATION[orientation]
    return marker if inverse is None else marker.transpose(inverse)


def assert_upright_marker(rgb: Image.Image, size: tuple[int, int] = (60, 40)) -> None:
    """Red block top-left and nothing red in the other corners: the only upright result."""
    width, height = size
    assert rgb.mode == "RGB"
    assert rgb.size == size
    red = rgb.getpixel((width // 20, height // 20))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60, red
    for corner in [(width - 3, 2), (2, height - 3), (width - 3, height - 3)]:
        assert min(rgb.getpixel(corner)) > 200, (corner, rgb.getpixel(corner))


# --- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_jpeg_orientation_comes_out_upright(tmp_path: Path, orientation: int) -> None:
    path = write_image(
        tmp_path / f"o{orientation}.jpg",
        stored_marker(orientation),
        ExifSpec(orientation=orientation),
        quality=95,
    )
    assert_upright_marker(decode_file(path))


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tiff"])
@pytest.mark.parametrize("orientation", [3, 6, 7])
def test_orientation_in_other_formats(tmp_path: Path, suffix: str, orientation: int) -> None:
    # Pillow turns TIFFs itself while loading; the result must not be turned a second time
    path = write_image(
        tmp_path / f"o{orientation}{suffix}",
        stored_marker(orientation),
        ExifSpec(orientation=orientation),
        quality=95,
    )
    assert_upright_marker(decode_file(path))


def test_orientation_applies_after_draft(tmp_path: Path) -> None:
    path = write_image(
        tmp_path / "big6.jpg",
        stored_marker(6, (1200, 800)),
        ExifSpec(orientation=6),
        quality=95,
    )
    assert_upright_marker(decode_file(path, min_side=150), size=(300, 200))


def test_malformed_exif_does_not_lose_the_picture(tmp_path: Path) -> None:
    path = tmp_path / "bad-exif.jpg"
    marker_rgb().save(path, exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x01" * 30)
    assert_upright_marker(decode_file(path))


# --- transparency -----------------------------------------------------------------------------


def half_transparent_palette() -> Image.Image:
    """Left half palette index 0 (black, transparent), right half index 1 (red)."""
    image = Image.new("P", (20, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(1, (10, 0, 20, 10))
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_becomes_white(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    half_transparent_palette().save(path, transparency=0)
    assert Image.open(path).mode == "P"
    rgb = decode_file(path)
    assert rgb.getpixel((2, 5)) == WHITE
    assert rgb.getpixel((15, 5)) == (255, 0, 0)


def test_pa_tiff_transparency_becomes_white(tmp_path: Path) -> None:
    image = half_transparent_palette().convert("PA")
    path = tmp_path / "pa.tiff"
    image.save(path)
    assert Image.open(path).mode == "PA"
    rgb = decode_file(path)
    assert rgb.getpixel((2, 5)) == WHITE
    assert rgb.getpixel((15, 5)) == (255, 0, 0)


def test_rgba_alpha_composites_over_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (30, 10), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (10, 0, 20, 10))
    image.paste((255, 0, 0, 128), (20, 0, 30, 10))
    path = tmp_path / "rgba.png"
    image.save(path)
    rgb = decode_file(path)
    assert rgb.getpixel((5, 5)) == WHITE
    assert rgb.getpixel((15, 5)) == (0, 0, 255)
    assert near(rgb.getpixel((25, 5)), (255, 127, 127), tolerance=2)


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_la_alpha_composites_over_white(tmp_path: Path, suffix: str) -> None:
    image = Image.new("LA", (30, 10), (0, 0))
    image.paste((50, 255), (10, 0, 20, 10))
    image.paste((0, 128), (20, 0, 30, 10))
    path = tmp_path / f"la{suffix}"
    image.save(path)
    rgb = decode_file(path)
    assert rgb.getpixel((5, 5)) == WHITE
    assert rgb.getpixel((15, 5)) == (50, 50, 50)
    assert near(rgb.getpixel((25, 5)), (127, 127, 127), tolerance=2)


def test_rgb_colour_key_transparency_becomes_white(tmp_path: Path) -> None:
    image = Image.new("RGB", (20, 10), (0, 0, 0))
    image.paste((0, 128, 0), (10, 0, 20, 10))
    path = tmp_path / "key.png"
    image.save(path, transparency=(0, 0, 0))
    rgb = decode_file(path)
    assert rgb.getpixel((2, 5)) == WHITE
    assert rgb.getpixel((15, 5)) == (0, 128, 0)


@pytest.mark.parametrize("mode", ["La", "RGBa"])
def test_premultiplied_alpha_modes(mode: str) -> None:
    # Pillow writes neither mode to any file; they only arise from in-memory conversions
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    image.paste((200, 200, 200, 255), (10, 0, 20, 10))
    source = image.convert("LA").convert("La") if mode == "La" else image.convert("RGBa")
    rgb = decode_rgb(source)
    assert rgb.getpixel((2, 5)) == WHITE
    assert rgb.getpixel((15, 5)) == (200, 200, 200)


# --- CMYK -------------------------------------------------------------------------------------

CMYK_CASES = [
    ((255, 0, 0, 0), (0, 255, 255)),
    ((0, 255, 0, 0), (255, 0, 255)),
    ((0, 0, 255, 0), (255, 255, 0)),
    ((0, 0, 0, 255), (0, 0, 0)),
    ((0, 0, 0, 0), WHITE),
]


@pytest.mark.parametrize("suffix", [".jpg", ".tiff"])
@pytest.mark.parametrize(("cmyk", "expected"), CMYK_CASES)
def test_cmyk_without_profile(tmp_path: Path, suffix: str, cmyk: tuple, expected: tuple) -> None:
    path = tmp_path / f"cmyk{suffix}"
    Image.new("CMYK", (16, 16), cmyk).save(path)
    assert Image.open(path).mode == "CMYK"
    assert near(decode_file(path).getpixel((8, 8)), expected)


# Printing inks as sRGB sees them: duller than the naive formula's pure cyan, magenta, yellow.
INKS = {"c": (0, 174, 239), "m": (236, 0, 140), "y": (255, 242, 0), "k": (35, 31, 32)}


def icc_profile(device_class: bytes, colour_space: bytes, tags: dict[bytes, bytes]) -> bytes:
    """An ICC v2 profile file: 128-byte header, tag table, tag data padded to 4 bytes."""
    table_size = 4 + 12 * len(tags)
    entries, body = b"", b""
    for signature, data in tags.items():
        entries += struct.pack(">4sII", signature, 128 + table_size + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    d50 = struct.pack(">3i", 63190, 65536, 54061)
    header = struct.pack(">I4sI4s4s4s12s4s24sI12s4s44s", 128 + table_size + len(body), b"",
                         0x02100000, device_class, colour_space, b"Lab ", b"", b"acsp", b"", 0,
                         d50, b"", b"")  # fmt: skip
    return header + struct.pack(">I", len(tags)) + entries + body


SRGB_TO_XYZ_D50 = np.array(
    [
        [0.4360747, 0.3850649, 0.1430804],
        [0.2225045, 0.7168786, 0.0606169],
        [0.0139322, 0.0971045, 0.7141733],
    ]
)
D50 = np.array([0.9642, 1.0, 0.8249])


def srgb_to_icc_lab8(rgb: np.ndarray) -> bytes:
    """sRGB colours (N x 3, 0..255) as ICC v2 8-bit Lab: L*2.55, a+128, b+128."""
    # computed, not taken from a Pillow LAB image: its tobytes() gives a and b as signed bytes
    # (getpixel shows them offset by 128), which is not the ICC encoding
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = linear @ SRGB_TO_XYZ_D50.T / D50
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)
    encoded = lab * [2.55, 1, 1] + [0, 128, 128]
    return np.clip(np.rint(encoded), 0, 255).astype(np.uint8).tobytes()


def cmyk_ink_profile() -> bytes:
    """A real CMYK printer profile (lut8 A2B0, 2-point grid) mapping each ink to INKS."""
    corners = []
    for on in itertools.product((0, 1), repeat=4):  # first channel (C) varies slowest
        rgb = np.full(3, 255.0)
        for ink_on, ink in zip(on, INKS.values(), strict=True):
            rgb = rgb * (np.array(ink) / 255.0 if ink_on else 1.0)
        corners.append(rgb)
    clut = srgb_to_icc_lab8(np.array(corners))
    identity = struct.pack(">9i", 65536, 0, 0, 0, 65536, 0, 0, 0, 65536)
    ramp = bytes(range(256))
    a2b0 = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + clut + ramp * 3
    name = b"pixseek test inks\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(8 + 3 + 67)
    white = b"XYZ " + bytes(4) + struct.pack(">3i", 63190, 65536, 54061)
    tags = {b"desc": desc, b"wtpt": white, b"cprt": b"text" + bytes(4) + b"none\0", b"A2B0": a2b0}
    return icc_profile(b"prtr", b"CMYK", tags)


@pytest.mark.parametrize("suffix", [".jpg", ".tiff"])
@pytest.mark.parametrize("ink", ["c", "m", "y"])
def test_cmyk_uses_embedded_profile(tmp_path: Path, suffix: str, ink: str) -> None:
    cmyk = tuple(255 if name == ink else 0 for name in "cmyk")
    path = tmp_path / f"cmyk-icc{suffix}"
    Image.new("CMYK", (16, 16), cmyk).save(path, icc_profile=cmyk_ink_profile())
    assert Image.open(path).info.get("icc_profile")
    assert near(decode_file(path).getpixel((8, 8)), INKS[ink], tolerance=8)


def test_cmyk_with_unusable_profile_falls_back(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for n, profile in enumerate([srgb, b"not a profile at all"]):
        path = tmp_path / f"cmyk-bad-icc{n}.jpg"
        Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(path, icc_profile=profile)
        assert near(decode_file(path).getpixel((8, 8)), (0, 255, 255))


# --- high bit depth and other modes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".png", "I;16"), (".tiff", "I;16"), (".tiff", "I;16B")]
)
def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path: Path, suffix: str, mode: str) -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint16) * 257, (4, 1))  # 0..65535
    # built from bytes: Pillow's own I;16 -> I;16B convert() clips every value to 255
    order = ">u2" if mode == "I;16B" else "<u2"
    image = Image.frombytes(mode, (256, 4), ramp.astype(order).tobytes())
    path = tmp_path / f"gray16{suffix}"
    image.save(path)
    assert Image.open(path).mode == mode
    rgb = np.asarray(decode_file(path))
    assert rgb.shape == (4, 256, 3)
    assert rgb[2, 128].tolist() == [128, 128, 128]
    assert (rgb[2, :, 0] == np.arange(256)).all()


def test_float_tiff_is_stretched_to_its_range(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(-1.0, 3.0, 101, dtype=np.float32), (3, 1))
    path = tmp_path / "float.tiff"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode == "F"
    row = np.asarray(decode_file(path))[1, :, 0]
    assert row[0] == 0 and row[-1] == 255
    assert abs(int(row[50]) - 128) <= 1
    assert (np.diff(row.astype(int)) >= 0).all()


def test_int32_tiff_is_stretched_to_its_range(tmp_path: Path) -> None:
    path = tmp_path / "int.tiff"
    Image.fromarray(np.array([[1000, 3000, 5000]], dtype=np.int32)).save(path)
    assert Image.open(path).mode == "I"
    assert np.asarray(decode_file(path))[0, :, 1].tolist() == [0, 128, 255]


def test_float_nan_is_black_and_flat_keeps_its_value() -> None:
    values = np.array([[np.nan, 0.0, 10.0, np.inf]], dtype=np.float32)
    assert np.asarray(decode_rgb(Image.fromarray(values)))[0, :, 0].tolist() == [0, 0, 255, 0]
    flat = Image.fromarray(np.full((2, 2), 77.0, dtype=np.float32))
    assert decode_rgb(flat).getpixel((0, 0)) == (77, 77, 77)
    all_nan = Image.fromarray(np.full((2, 2), np.nan, dtype=np.float32))
    assert decode_rgb(all_nan).getpixel((0, 0)) == (0, 0, 0)


def test_bilevel_becomes_black_and_white(tmp_path: Path) -> None:
    image = Image.new("1", (8, 8), 0)
    image.paste(1, (4, 0, 8, 8))
    path = tmp_path / "bilevel.png"
    image.save(path)
    rgb = decode_file(path)
    assert rgb.getpixel((1, 1)) == (0, 0, 0)
    assert rgb.getpixel((6, 1)) == WHITE


@pytest.mark.parametrize(
    ("mode", "suffix", "pixel", "expected"),
    [
        ("L", ".png", 100, (100, 100, 100)),
        ("YCbCr", ".tiff", (76, 85, 255), (255, 0, 0)),
        ("LAB", ".tiff", (255, 128, 128), WHITE),
        ("HSV", None, (0, 255, 255), (255, 0, 0)),  # Pillow cannot write HSV to any file
    ],
)
def test_other_modes(
    tmp_path: Path, mode: str, suffix: str | None, pixel: int | tuple, expected: tuple
) -> None:
    image = Image.new(mode, (8, 8), pixel)
    if suffix is not None:
        path = tmp_path / f"m{suffix}"
        image.save(path)
        image = open_image(path)
        assert image.mode == mode
    assert near(decode_rgb(image).getpixel((4, 4)), expected, tolerance=3)


# --- draft ------------------------------------------------------------------------------------


def big_picture(size: tuple[int, int]) -> Image.Image:
    return textured_rgb(3, (size[0] // 10, size[1] // 10)).resize(size)


def test_large_jpeg_is_drafted(tmp_path: Path) -> None:
    path = write_image(tmp_path / "big.jpg", big_picture((4000, 3000)))
    rgb = decode_file(path, min_side=224)
    assert rgb.mode == "RGB"
    assert 224 <= min(rgb.size) < 3000
    assert rgb.size == (500, 375)  # libjpeg's 1/8 scale, the smallest that keeps 224


@pytest.mark.parametrize("min_side", [1, 150, 151, 224, 300, 301, 600, 601, 1200, 5000])
def test_draft_never_goes_below_min_side(tmp_path: Path, min_side: int) -> None:
    path = write_image(tmp_path / "mid.jpg", big_picture((1600, 1200)))
    rgb = decode_file(path, min_side=min_side)
    assert min(rgb.size) >= min(min_side, 1200)
    assert rgb.size[0] * 3 == rgb.size[1] * 4


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_drafted_jpeg_of_other_modes_is_rgb(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"{mode}.jpg"
    big_picture((1600, 1200)).convert(mode).save(path)
    rgb = decode_file(path, min_side=224)
    assert rgb.mode == "RGB"
    assert rgb.size == (400, 300)


def test_png_is_reduced_by_the_largest_factor_that_keeps_min_side(tmp_path: Path) -> None:
    picture = big_picture((1600, 1200))
    path = write_image(tmp_path / "big.png", picture)
    rgb = decode_file(path, min_side=224)
    assert rgb.size == (320, 240)  # 1200 // 224 = 5
    # the same picture as a full decode scaled down (box filter against Pillow's bilinear)
    expected = np.asarray(picture.resize(rgb.size, Image.Resampling.BOX), dtype=np.int16)
    assert np.abs(np.asarray(rgb, dtype=np.int16) - expected).mean() < 2


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tiff"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_reduced_picture_comes_out_upright(tmp_path: Path, suffix: str, orientation: int) -> None:
    path = write_image(
        tmp_path / f"o{orientation}{suffix}",
        stored_marker(orientation, (600, 400)),
        ExifSpec(orientation=orientation),
        quality=95,
    )
    assert_upright_marker(decode_file(path, min_side=100), size=(150, 100))


@pytest.mark.parametrize(
    ("mode", "transparent"),
    [("P", False), ("P", True), ("1", False), ("LA", True), ("I;16", False)],
)
def test_reduction_converts_modes_that_cannot_be_averaged_first(
    tmp_path: Path, mode: str, transparent: bool
) -> None:
    # a red (or bright) left half and a black or transparent right half, 800x400
    picture = Image.new("RGBA", (800, 400), (0, 0, 0, 0 if transparent else 255))
    picture.paste((255, 0, 0, 255), (0, 0, 400, 400))
    if mode == "P":
        stored = picture.convert("RGB").quantize(4) if not transparent else picture.convert("P")
    elif mode == "1":  # no dithering: a white left half
        stored = picture.convert("L").point(lambda v: 255 if v else 0).convert("1")
    elif mode == "I;16":
        stored = Image.fromarray(np.asarray(picture.convert("L"), np.uint16) * 257)
    else:
        stored = picture.convert(mode)
    path = tmp_path / f"{mode.replace(';', '')}.png"
    stored.save(path)
    rgb = decode_file(path, min_side=100)
    assert rgb.size == (200, 100) and rgb.mode == "RGB"
    left, right = rgb.getpixel((50, 50)), rgb.getpixel((150, 50))
    assert left == decode_file(path).getpixel((200, 200))  # the full decode's colour there
    assert right == (WHITE if transparent else (0, 0, 0))


def test_a_decode_over_max_decoded_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    png = write_image(tmp_path / "wide.png", big_picture((1600, 1200)))
    with open_image(png) as image, pytest.raises(ImageDecodeError, match=r"1\.9 MP.*1\.0 MP"):
        decode_rgb(image, min_side=224, max_decoded_pixels=1_000_000)
    # a JPEG as large decodes at 1/4 (400x300): well inside the limit
    jpeg = write_image(tmp_path / "wide.jpg", big_picture((1600, 1200)))
    with open_image(jpeg) as image:
        assert decode_rgb(image, min_side=224, max_decoded_pixels=1_000_000).size == (400, 300)


def test_min_side_must_be_positive(tmp_path: Path) -> None:
    path = write_image(tmp_path / "x.jpg", marker_rgb())
    with pytest.raises(ValueError, match="min_side"):
        decode_file(path, min_side=0)


# --- size limits ------------------------------------------------------------------------------


def test_default_limit_is_pillows() -> None:
    assert DEFAULT_MAX_PIXELS == 178_956_970


def test_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_image(tmp_path / "wide.png", marker_rgb((200, 100)))
    with pytest.raises(ImageDecodeError, match=r"200x100 = 20,000 pixels.*limit of 19,999"):
        open_image(path, max_pixels=19_999)
    assert decode_rgb(open_image(path, max_pixels=20_000)).size == (200, 100)


def test_pillows_own_bomb_error_is_converted(tmp_path: Path, monkeypatch) -> None:
    path = write_image(tmp_path / "wide.png", marker_rgb((200, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)  # Pillow errors above 2x: 10,000
    with pytest.raises(ImageDecodeError, match="too large"):
        open_image(path, max_pixels=10**9)


def test_pillows_bomb_warning_does_not_leak(tmp_path: Path, monkeypatch) -> None:
    path = write_image(tmp_path / "wide.png", marker_rgb((200, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 15_000)  # Pillow warns between 1x and 2x
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decode_rgb(open_image(path, max_pixels=20_000)).size == (200, 100)
        with pytest.raises(ImageDecodeError, match="limit of 15,000"):
            open_image(path, max_pixels=15_000)


# --- corrupt and unreadable input -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_corrupt_files_raise_decode_error(tmp_path: Path, kind: str) -> None:
    path = write_corrupt(tmp_path / f"{kind}.jpg", kind)
    with pytest.raises(ImageDecodeError) as caught:
        decode_file(path)
    message = str(caught.value)
    assert message
    assert {
        "truncated": "truncated",
        "garbage": "not an image file",
        "empty": "empty",
    }[kind] in message


# Python warnings from decoding must not leak; files other tests left to the garbage
# collector may be finalised here, and their ResourceWarnings are not this test's subject.
@pytest.mark.filterwarnings(
    "error", "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("GIF", {}),
        ("WEBP", {}),
        ("BMP", {}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_deflate"}),  # Pillow warns "Corrupt EXIF data" here
        ("JPEG", {"progressive": True}),
    ],
)
def test_truncated_files_of_every_format_raise_decode_error(fmt: str, options: dict) -> None:
    buffer = io.BytesIO()
    textured_rgb(5, (200, 150)).save(buffer, fmt, **options)
    data = buffer.getvalue()
    with pytest.raises(ImageDecodeError) as caught:
        decode_rgb(open_image(data[: len(data) // 2]))
    assert str(caught.value)


def test_corrupt_avif_raises_decode_error() -> None:
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    buffer = io.BytesIO()
    save_or_skip(textured_rgb(5, (64, 48)), buffer, "AVIF")
    data = buffer.getvalue()
    payload = data.index(b"mdat") + 4
    # libavif fails inside Pillow's open() for the first and inside load() for the second
    for broken in [data.replace(b"iloc", b"ilox"), data[:payload] + bytes(len(data) - payload)]:
        with pytest.raises(ImageDecodeError, match="corrupt"):
            decode_rgb(open_image(broken))


def test_missing_file_and_directory_raise_decode_error(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="cannot open file"):
        open_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageDecodeError):
        open_image(tmp_path)


def test_empty_bytes_raise_decode_error() -> None:
    with pytest.raises(ImageDecodeError, match="empty"):
        open_image(b"")


# --- sources, frames, lifetime ----------------------------------------------------------------


def test_bytes_and_file_objects_decode_like_paths(tmp_path: Path) -> None:
    path = write_image(tmp_path / "t.jpg", textured_rgb(11), ExifSpec(orientation=6))
    expected = np.asarray(decode_file(path))
    assert np.array_equal(np.asarray(decode_rgb(open_image(path.read_bytes()))), expected)
    assert np.array_equal(np.asarray(decode_rgb(open_image(str(path)))), expected)
    with path.open("rb") as stream:
        assert np.array_equal(np.asarray(decode_rgb(open_image(stream))), expected)


def test_result_outlives_the_closed_source(tmp_path: Path) -> None:
    path = write_image(tmp_path / "t.png", marker_rgb())
    with open_image(path) as image:
        rgb = decode_rgb(image)
    assert rgb is not image
    assert_upright_marker(rgb)


def two_frames() -> list[Image.Image]:
    return [Image.new("RGB", (20, 10), (255, 0, 0)), Image.new("RGB", (20, 10), (0, 0, 255))]


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png"])
def test_animation_gives_its_first_frame(tmp_path: Path, suffix: str) -> None:
    first, second = two_frames()
    path = tmp_path / f"anim{suffix}"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    image = open_image(path)
    assert getattr(image, "n_frames", 1) == 2
    image.seek(1)  # a caller that looked around must still get the first frame
    rgb = decode_rgb(image)
    assert near(rgb.getpixel((10, 5)), (255, 0, 0), tolerance=4)


def test_mpo_gives_its_first_frame_drafted(tmp_path: Path) -> None:
    first, second = (frame.resize((1600, 800)) for frame in two_frames())
    path = tmp_path / "stereo.mpo"
    first.save(path, "MPO", save_all=True, append_images=[second])
    image = open_image(path)
    image.seek(1)  # a draft taken at frame 1 would not survive the seek back to frame 0
    rgb = decode_rgb(image, min_side=200)
    assert rgb.size == (400, 200)
    assert near(rgb.getpixel((10, 5)), (255, 0, 0), tolerance=4)


# --- optional formats -------------------------------------------------------------------------


def test_register_optional_formats_is_idempotent() -> None:
    first = register_optional_formats()
    assert register_optional_formats() == first
    assert ("avif" in first) == bool(features.check("avif"))
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        assert "heif" not in first
    else:
        assert "heif" in first


def save_or_skip(image: Image.Image, path: Path | io.BytesIO, fmt: str, **options) -> None:
    try:
        image.save(path, format=fmt, **options)
    except (KeyError, OSError, ValueError) as exc:  # no encoder in this build
        pytest.skip(f"cannot encode {fmt} here: {exc}")


@pytest.mark.parametrize("orientation", [1, 6])
def test_heic_decodes(tmp_path: Path, orientation: int) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "photo.heic"
    exif = build_exif(ExifSpec(orientation=orientation)).tobytes()
    save_or_skip(stored_marker(orientation), path, "HEIF", exif=exif, quality=95)
    assert_upright_marker(decode_file(path))


@pytest.mark.parametrize("orientation", [1, 6])
def test_avif_decodes(tmp_path: Path, orientation: int) -> None:
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    path = tmp_path / "photo.avif"
    exif = build_exif(ExifSpec(orientation=orientation)).tobytes()
    save_or_skip(stored_marker(orientation), path, "AVIF", exif=exif, quality=95)
    assert_upright_marker(decode_file(path))


@pytest.mark.parametrize(
    ("compression", "libtiff_says"),
    [("tiff_lzw", "Using code not yet in table"), ("tiff_deflate", "ZIPDecode: Decoding error")],
)
def test_libtiff_says_why_in_the_reason_and_nothing_on_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], compression: str, libtiff_says: str
) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    path = tmp_path / "scrambled.tif"
    Image.fromarray(pixels).save(path, compression=compression)
    data = bytearray(path.read_bytes())
    for offset in range(200, 4000, 7):  # inside the first strip, after the 8-byte header
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError) as raised, open_image(path) as image:
        decode_rgb(image)
    assert "truncated or corrupt image data" in str(raised.value)
    assert f"(libtiff: {libtiff_says}" in str(raised.value)
    assert capfd.readouterr().err == ""  # libtiff's default handler printed there
