"""read_metadata on real files written by tests/imagegen.py: dates, camera, GPS, size, laziness."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from pixseek.photos.metadata import PhotoMetadata, read_metadata
from tests.imagegen import (
    EXIF_IFD,
    GPS_IFD,
    TAG_ORIENTATION,
    ExifSpec,
    build_exif,
    textured_rgb,
    write_image,
)

MTIME = 1_600_000_000.0  # 2020-09-13, far from every EXIF date used here
TAG_DATETIME = 0x0132
TAG_DATETIME_DIGITIZED = 0x9004
TAG_OFFSET_TIME = 0x9010


def _write(tmp_path: Path, spec: ExifSpec | None, name: str = "photo.jpg") -> Path:
    path = write_image(tmp_path / name, textured_rgb(3, (60, 40)), spec)
    os.utime(path, (MTIME, MTIME))
    return path


def _write_exif(tmp_path: Path, exif: Image.Exif, name: str = "photo.jpg") -> Path:
    """A JPEG carrying an Exif block built (and perhaps broken) by the test itself."""
    path = tmp_path / name
    textured_rgb(4, (60, 40)).save(path, exif=exif.tobytes())
    os.utime(path, (MTIME, MTIME))
    return path


def _read(path: Path) -> PhotoMetadata:
    with Image.open(path) as image:
        return read_metadata(image, path.stat().st_mtime)


def _file_date() -> str:
    return datetime.fromtimestamp(MTIME).isoformat(timespec="seconds")


# --- capture time ---------------------------------------------------------------------------


def test_exif_date_with_offset(tmp_path: Path) -> None:
    meta = _read(_write(tmp_path, ExifSpec(taken="2021:06:01 12:30:45", offset="+02:00")))
    assert meta.taken_at == "2021-06-01T12:30:45"
    assert meta.taken_at_offset == "+02:00"
    assert meta.taken_at_source == "exif:DateTimeOriginal"


def test_exif_date_without_offset(tmp_path: Path) -> None:
    meta = _read(_write(tmp_path, ExifSpec(taken="2021:06:01 12:30:45")))
    assert (meta.taken_at, meta.taken_at_offset, meta.taken_at_source) == (
        "2021-06-01T12:30:45",
        None,
        "exif:DateTimeOriginal",
    )


@pytest.mark.parametrize("taken", ["2021-06-01 12:30:45", "2021:06:01 12:30:45\x00  "])
def test_tolerated_date_spellings(tmp_path: Path, taken: str) -> None:
    meta = _read(_write(tmp_path, ExifSpec(taken=taken)))
    assert (meta.taken_at, meta.taken_at_source) == ("2021-06-01T12:30:45", "exif:DateTimeOriginal")


@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "not a date", "    :  :     :  :  "])
def test_unusable_date_falls_back_to_file_mtime(tmp_path: Path, taken: str) -> None:
    meta = _read(_write(tmp_path, ExifSpec(taken=taken, offset="+02:00")))
    assert meta.taken_at == _file_date()
    assert meta.taken_at_source == "file"
    assert meta.taken_at_offset is None  # an offset means nothing for the file's own clock


def test_date_digitized_then_ifd0_datetime(tmp_path: Path) -> None:
    digitized = _write(tmp_path, ExifSpec(extra={TAG_DATETIME_DIGITIZED: "2019:02:03 04:05:06"}))
    assert (_read(digitized).taken_at, _read(digitized).taken_at_source) == (
        "2019-02-03T04:05:06", "exif:DateTimeDigitized",
    )  # fmt: skip
    exif = build_exif(ExifSpec())
    exif[TAG_DATETIME] = "2018:07:08 09:10:11"
    meta = _read(_write_exif(tmp_path, exif, "ifd0.jpg"))
    assert (meta.taken_at, meta.taken_at_source) == ("2018-07-08T09:10:11", "exif:DateTime")


def test_original_date_wins_and_offset_time_is_the_fallback_offset(tmp_path: Path) -> None:
    spec = ExifSpec(
        taken="2021:06:01 12:30:45",
        extra={TAG_DATETIME_DIGITIZED: "2019:02:03 04:05:06", TAG_OFFSET_TIME: "-05:00"},
    )
    meta = _read(_write(tmp_path, spec))
    assert (meta.taken_at, meta.taken_at_offset) == ("2021-06-01T12:30:45", "-05:00")


# --- camera ---------------------------------------------------------------------------------


def test_camera_fields_are_stripped(tmp_path: Path) -> None:
    spec = ExifSpec(make="Canon\x00  ", model="  Canon EOS 5D\x00\x00", lens="EF 50mm f/1.8\x00 ")
    meta = _read(_write(tmp_path, spec))
    assert (meta.camera_make, meta.camera_model, meta.lens) == (
        "Canon",
        "Canon EOS 5D",
        "EF 50mm f/1.8",
    )
    assert meta.camera_keys() == ["canon", "canon eos 5d"]


def test_camera_keys_join_make_and_model(tmp_path: Path) -> None:
    meta = _read(_write(tmp_path, ExifSpec(make="Apple", model="iPhone 12")))
    assert meta.camera_keys() == ["apple", "iphone 12", "apple iphone 12"]


def test_blank_camera_fields_are_none(tmp_path: Path) -> None:
    meta = _read(_write(tmp_path, ExifSpec(make=" \x00 ", model="")))
    assert (meta.camera_make, meta.camera_model, meta.lens) == (None, None, None)
    assert meta.camera_keys() == []


# --- GPS ------------------------------------------------------------------------------------


def test_gps_north_east(tmp_path: Path) -> None:
    gps = _read(_write(tmp_path, ExifSpec(gps=(48.8584, 2.2945)))).gps
    assert gps is not None
    assert gps["lat"] == pytest.approx(48.8584, abs=1e-4)
    assert gps["lon"] == pytest.approx(2.2945, abs=1e-4)


def test_gps_south_west_is_negative(tmp_path: Path) -> None:
    gps = _read(_write(tmp_path, ExifSpec(gps=(-33.8568, -151.2153)))).gps
    assert gps is not None
    assert gps["lat"] == pytest.approx(-33.8568, abs=1e-4)
    assert gps["lon"] == pytest.approx(-151.2153, abs=1e-4)


def test_no_gps(tmp_path: Path) -> None:
    assert _read(_write(tmp_path, ExifSpec(make="Canon"))).gps is None


@pytest.mark.parametrize(
    "latitude",
    [
        (IFDRational(48, 0), IFDRational(0, 0), IFDRational(0, 0)),  # zero denominators: nan
        (100.0, 0.0, 0.0),  # beyond the pole
    ],
)
def test_broken_gps_is_none(tmp_path: Path, latitude: tuple[object, ...]) -> None:
    exif = build_exif(ExifSpec(gps=(48.8584, 2.2945)))
    exif.get_ifd(GPS_IFD)[2] = latitude
    assert _read(_write_exif(tmp_path, exif)).gps is None


def test_gps_with_unknown_ref_is_none(tmp_path: Path) -> None:
    exif = build_exif(ExifSpec(gps=(48.8584, 2.2945)))
    exif.get_ifd(GPS_IFD)[1] = "X"
    assert _read(_write_exif(tmp_path, exif)).gps is None


# --- size, orientation, format --------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "size", "shape"),
    [(None, (60, 40), "landscape"), (1, (60, 40), "landscape"), (6, (40, 60), "portrait")],
)
def test_size_follows_orientation(
    tmp_path: Path, orientation: int | None, size: tuple[int, int], shape: str
) -> None:
    meta = _read(_write(tmp_path, ExifSpec(orientation=orientation)))
    assert (meta.width, meta.height) == size
    assert meta.orientation == (orientation or 1)
    assert meta.shape == shape


def test_tiff_size_is_upright_once(tmp_path: Path) -> None:
    # Pillow's TIFF plugin rotates by the orientation tag itself: no second swap here
    meta = _read(_write(tmp_path, ExifSpec(orientation=6), "rotated.tif"))
    assert (meta.format, meta.width, meta.height) == ("tiff", 40, 60)


def test_square_shape(tmp_path: Path) -> None:
    path = write_image(tmp_path / "sq.png", textured_rgb(5, (32, 32)))
    assert _read(path).shape == "square"


@pytest.mark.parametrize(("name", "fmt"), [("a.jpg", "jpeg"), ("a.png", "png"), ("a.webp", "webp")])
def test_format_and_exif_in_each_container(tmp_path: Path, name: str, fmt: str) -> None:
    spec = ExifSpec(orientation=6, taken="2021:06:01 12:30:45", make="Canon")
    meta = _read(_write(tmp_path, spec, name))
    assert meta.format == fmt
    assert (meta.width, meta.height, meta.taken_at, meta.camera_make) == (
        40,
        60,
        "2021-06-01T12:30:45",
        "Canon",
    )


def test_png_without_exif(tmp_path: Path) -> None:
    meta = _read(_write(tmp_path, None, "bare.png"))
    assert meta == PhotoMetadata(
        width=60,
        height=40,
        format="png",
        orientation=1,
        taken_at=_file_date(),
        taken_at_offset=None,
        taken_at_source="file",
        camera_make=None,
        camera_model=None,
        lens=None,
        gps=None,
    )


# --- laziness -------------------------------------------------------------------------------


def test_jpeg_pixels_stay_undecoded(tmp_path: Path) -> None:
    path = _write(tmp_path, ExifSpec(orientation=6, taken="2021:06:01 12:30:45", gps=(1.5, 2.5)))
    with Image.open(path) as image:
        read_metadata(image, MTIME)
        # draft() only works before decoding: once pixels are loaded it returns None
        assert image.draft("RGB", (15, 10)) is not None
        assert image.size == (15, 10)


def test_draft_check_detects_loaded_pixels(tmp_path: Path) -> None:
    """The check above would catch a decode: after load() draft() refuses and size stays."""
    with Image.open(_write(tmp_path, ExifSpec())) as image:
        image.load()
        assert image.draft("RGB", (15, 10)) is None
        assert image.size == (60, 40)


@pytest.mark.parametrize("spec", [None, ExifSpec(orientation=6)])
def test_png_pixels_stay_undecoded(tmp_path: Path, spec: ExifSpec | None) -> None:
    # Pillow's PNG getexif() decodes the whole image when no eXIf chunk precedes the pixels;
    # an undecoded image still has its tile list, which load() empties.
    with Image.open(_write(tmp_path, spec, "p.png")) as image:
        read_metadata(image, MTIME)
        assert image.tile


# --- malformed values -----------------------------------------------------------------------


def test_out_of_range_orientation_is_ignored(tmp_path: Path) -> None:
    exif = build_exif(ExifSpec(make="Canon"))
    exif[TAG_ORIENTATION] = 99
    meta = _read(_write_exif(tmp_path, exif))
    assert (meta.orientation, meta.width, meta.height) == (1, 60, 40)
    assert meta.camera_make == "Canon"


def test_wrongly_typed_values_are_ignored(tmp_path: Path) -> None:
    spec = ExifSpec(
        make="Canon",
        extra={0x9003: 12345, 0x9011: 7, 0xA434: 42},  # date, offset, lens as numbers
    )
    meta = _read(_write(tmp_path, spec))
    assert (meta.taken_at, meta.taken_at_source, meta.taken_at_offset) == (
        _file_date(),
        "file",
        None,
    )
    assert (meta.lens, meta.camera_make) == (None, "Canon")


def test_gps_of_wrong_shape_is_ignored(tmp_path: Path) -> None:
    exif = build_exif(ExifSpec(gps=(48.8584, 2.2945)))
    exif.get_ifd(GPS_IFD)[4] = (1.0, 2.0, 3.0, 4.0)  # four parts: not degrees/minutes/seconds
    assert _read(_write_exif(tmp_path, exif)).gps is None


@pytest.mark.parametrize("offset", [7, "02:00", "+25:00", "UTC"])
def test_malformed_offset_is_ignored(tmp_path: Path, offset: object) -> None:
    meta = _read(_write(tmp_path, ExifSpec(taken="2021:06:01 12:30:45", extra={0x9011: offset})))
    assert (meta.taken_at, meta.taken_at_offset) == ("2021-06-01T12:30:45", None)


def test_undefined_bytes_text_is_decoded(tmp_path: Path) -> None:
    exif = build_exif(ExifSpec())
    exif.get_ifd(EXIF_IFD)[0xA434] = b"EF 50mm\x00\x00"
    assert _read(_write_exif(tmp_path, exif)).lens == "EF 50mm"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own warning, expected here
def test_corrupt_exif_block_is_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "junk.jpg"
    textured_rgb(6, (60, 40)).save(path, exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff")
    os.utime(path, (MTIME, MTIME))
    meta = _read(path)
    assert (meta.width, meta.height, meta.orientation) == (60, 40, 1)
    assert meta.taken_at_source == "file"
