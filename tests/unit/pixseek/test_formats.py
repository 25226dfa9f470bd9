"""pixseek.photos.formats: one table of what pixseek reads, checked against Pillow's own."""

from __future__ import annotations

import pytest
from PIL import Image

from embed.decode import register_optional_formats
from embed.raw import is_raw
from pixseek.photos.formats import (
    FORMATS,
    IMAGE_SUFFIXES,
    mimetype,
    of_pillow,
    payload_name,
    typed_name,
)


def test_every_suffix_a_scan_picks_up_is_one_pillow_reads_as_that_format() -> None:
    register_optional_formats()  # HEIF, AVIF and JPEG XL
    pillow_suffixes = Image.registered_extensions()
    for known in FORMATS:
        for suffix in known.suffixes:
            if known.name == "raw":  # read by LibRaw, by suffix (embed/raw.py), not Pillow
                assert is_raw(f"IMG_0001{suffix.upper()}"), suffix
                continue
            assert pillow_suffixes.get(suffix) in known.pillow, (known.name, suffix)
    assert len(IMAGE_SUFFIXES) == sum(len(known.suffixes) for known in FORMATS)


@pytest.mark.parametrize(
    ("typed", "name"),
    [("JPG", "jpeg"), (".jpeg", "jpeg"), ("jfif", "jpeg"), ("tif", "tiff"), ("HEIC", "heif"),
     ("png", "png"), ("tga", "tga")],
)  # fmt: skip
def test_a_format_is_named_as_payloads_name_it_however_it_is_typed(typed: str, name: str) -> None:
    assert typed_name(typed) == name


def test_an_mpo_is_a_jpeg_and_an_unknown_format_keeps_pillows_name() -> None:
    assert payload_name("MPO") == "jpeg" and of_pillow("MPO") is of_pillow("JPEG")
    assert payload_name("TGA") == "tga" and of_pillow("TGA") is None
    assert payload_name(None) == "unknown"


def test_a_photo_is_served_with_its_formats_type() -> None:
    assert mimetype("jpeg") == "image/jpeg" and mimetype("heif") == "image/heif"
    assert mimetype("tga") == "application/octet-stream"
