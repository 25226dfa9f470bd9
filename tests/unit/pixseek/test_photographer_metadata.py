"""Dates and words as photographers' tools write them: XMP and IPTC written with exiv2 (the
library behind digiKam, darktable and gThumb, through pyexiv2) into real files, read back by
read_metadata in the order the README gives."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pyexiv2
import pytest
from PIL import Image

from pixseek.photos.metadata import PhotoMetadata, read_metadata
from tests.imagegen import ExifSpec, build_exif, textured_rgb, write_image

MTIME = 1_600_000_000.0  # 2020-09-13
TAG_DATETIME = 0x0132
TAG_DATETIME_DIGITIZED = 0x9004
TAG_MAKE = 0x010F
TAG_IMAGE_DESCRIPTION = 0x010E
FILE_TIME = datetime.fromtimestamp(MTIME).isoformat(timespec="seconds")


def photo(
    tmp_path: Path,
    exif: ExifSpec | None = None,
    xmp: dict[str, object] | None = None,
    iptc: dict[str, object] | None = None,
    name: str = "photo.jpg",
) -> Path:
    """A real picture with EXIF (tests/imagegen.py), then XMP and IPTC written by exiv2."""
    path = write_image(tmp_path / name, textured_rgb(5, (64, 48)), exif)
    if xmp or iptc:
        with pyexiv2.Image(str(path)) as metadata:
            if xmp:
                metadata.modify_xmp(xmp)
            if iptc:
                metadata.modify_iptc(iptc)
    os.utime(path, (MTIME, MTIME))
    return path


def read(path: Path) -> PhotoMetadata:
    with Image.open(path) as image:
        return read_metadata(image, MTIME)


def taken(meta: PhotoMetadata) -> tuple[str | None, str | None, str]:
    return meta.taken_at, meta.taken_at_offset, meta.taken_at_source


def test_photo_mechanics_iptc_date_and_time_are_the_capture_time(tmp_path: Path) -> None:
    iptc = {"Iptc.Application2.DateCreated": "2006-10-29",
            "Iptc.Application2.TimeCreated": "14:30:00+01:00"}  # fmt: skip
    assert taken(read(photo(tmp_path, iptc=iptc))) == (
        "2006-10-29T14:30:00", "+01:00", "iptc:DateCreated",
    )  # fmt: skip
    day_only = photo(tmp_path, iptc={"Iptc.Application2.DateCreated": "2006-10-29"}, name="d.jpg")
    assert taken(read(day_only)) == ("2006-10-29T00:00:00", None, "iptc:DateCreated")


def test_an_xmp_capture_date_beats_the_time_the_file_was_last_changed(tmp_path: Path) -> None:
    exif = build_exif(ExifSpec())
    exif[TAG_DATETIME] = "2010:08:15 10:00:00"  # IFD0 DateTime: last changed by an editor
    path = tmp_path / "edited.jpg"
    textured_rgb(6, (64, 48)).save(path, exif=exif.tobytes())
    with pyexiv2.Image(str(path)) as metadata:
        metadata.modify_xmp({"Xmp.photoshop.DateCreated": "2010-07-11T14:03:02+02:00"})
    assert taken(read(path)) == ("2010-07-11T14:03:02", "+02:00", "xmp:photoshop:DateCreated")


@pytest.mark.parametrize(
    ("exif", "xmp", "iptc", "expected"),
    [
        (  # EXIF DateTimeOriginal first of all
            ExifSpec(taken="2021:06:01 12:30:45"),
            {"Xmp.photoshop.DateCreated": "2019-01-01"},
            {"Iptc.Application2.DateCreated": "2018-01-01"},
            ("2021-06-01T12:30:45", None, "exif:DateTimeOriginal"),
        ),
        (  # then XMP exif:DateTimeOriginal, before photoshop:DateCreated and xmp:CreateDate
            None,
            {"Xmp.exif.DateTimeOriginal": "2015-05-05T05:05:05Z",
             "Xmp.photoshop.DateCreated": "2014-04-04", "Xmp.xmp.CreateDate": "2013-03-03"},
            None,
            ("2015-05-05T05:05:05", "+00:00", "xmp:exif:DateTimeOriginal"),
        ),
        (
            None,
            {"Xmp.xmp.CreateDate": "2013-03-03T10:20"},
            {"Iptc.Application2.DateCreated": "2012-02-02"},
            ("2013-03-03T10:20:00", None, "xmp:xmp:CreateDate"),
        ),
        (  # IPTC before EXIF DateTimeDigitized
            ExifSpec(extra={TAG_DATETIME_DIGITIZED: "2011:01:01 01:01:01"}),
            None,
            {"Iptc.Application2.DateCreated": "2012-02-02"},
            ("2012-02-02T00:00:00", None, "iptc:DateCreated"),
        ),
        (  # junk everywhere: the file's time
            ExifSpec(taken="0000:00:00 00:00:00"),
            {"Xmp.photoshop.DateCreated": "sometime in May"},
            None,
            (FILE_TIME, None, "file"),
        ),
    ],
)  # fmt: skip
def test_the_capture_time_follows_the_documented_order(
    tmp_path: Path,
    exif: ExifSpec | None,
    xmp: dict[str, object] | None,
    iptc: dict[str, object] | None,
    expected: tuple[str, str | None, str],
) -> None:
    assert taken(read(photo(tmp_path, exif, xmp, iptc))) == expected


def test_lightrooms_title_caption_keywords_and_creator_are_read(tmp_path: Path) -> None:
    xmp = {
        "Xmp.dc.title": {'lang="x-default"': "Harbour at dawn", 'lang="fr-FR"': "Port à l'aube"},
        "Xmp.dc.description": {'lang="x-default"': "Fishing boats leaving Tsukiji"},
        "Xmp.dc.subject": ["boats", "Tokyo 2019", "boats"],
        "Xmp.dc.creator": ["Ann Example"],
    }
    meta = read(photo(tmp_path, xmp=xmp, iptc={"Iptc.Application2.Keywords": ["ignored"]}))
    assert (meta.title, meta.description, meta.artist) == (
        "Harbour at dawn", "Fishing boats leaving Tsukiji", "Ann Example",
    )  # fmt: skip
    assert meta.keywords == ("boats", "Tokyo 2019")  # XMP wins, repeats dropped


def test_iptc_words_stand_in_where_there_is_no_xmp(tmp_path: Path) -> None:
    iptc = {
        "Iptc.Application2.ObjectName": "Fête",
        "Iptc.Application2.Caption": "Lanterns on the river",
        "Iptc.Application2.Keywords": ["festival", "night; river"],
        "Iptc.Application2.Byline": "B. Photographer",
    }
    meta = read(photo(tmp_path, iptc=iptc))
    assert (meta.title, meta.description, meta.artist) == (
        "Fête", "Lanterns on the river", "B. Photographer",
    )  # fmt: skip
    assert meta.keywords == ("festival", "night", "river")


def test_junk_text_is_dropped_not_indexed(tmp_path: Path) -> None:
    exif = build_exif(ExifSpec(model="E-M10"))
    exif[TAG_MAKE] = b"\x8c"  # a lone byte as camera make, as seen in the wild
    exif[TAG_IMAGE_DESCRIPTION] = "OLYMPUS DIGITAL CAMERA         "  # the camera's placeholder
    path = tmp_path / "junk.jpg"
    textured_rgb(7, (64, 48)).save(path, exif=exif.tobytes())
    meta = read(path)
    assert (meta.camera_make, meta.camera_model, meta.description) == (None, "E-M10", None)
    assert meta.camera_keys() == ["e-m10"]


@pytest.mark.parametrize("name", ["photo.png", "photo.webp", "photo.tif"])
def test_xmp_is_read_from_png_webp_and_tiff(tmp_path: Path, name: str) -> None:
    xmp = {"Xmp.dc.subject": ["kayak"], "Xmp.photoshop.DateCreated": "2020-02-02T02:02:02"}
    meta = read(photo(tmp_path, xmp=xmp, name=name))
    assert meta.keywords == ("kayak",)
    assert taken(meta) == ("2020-02-02T02:02:02", None, "xmp:photoshop:DateCreated")


def test_an_xmp_packet_with_entities_is_ignored_and_the_photo_still_reads(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&b;</dc:title>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    path = tmp_path / "bomb.jpg"
    textured_rgb(8, (64, 48)).save(path, xmp=bomb)
    meta = read(path)
    assert (meta.title, meta.width, meta.taken_at_source) == (None, 64, "file")


def test_iptc_text_is_utf8_when_it_decodes_so_else_latin1() -> None:
    from pixseek.photos.iptc import _decode

    assert _decode("Fête".encode(), utf8=False) == "Fête"
    assert _decode("Fête".encode("latin-1"), utf8=False) == "Fête"  # older tools' files
    assert _decode(b"F\xeate", utf8=True) == "F\ufffdte"  # declared UTF-8 but is not
