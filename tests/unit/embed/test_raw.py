"""Camera RAW (through LibRaw: the embedded preview, else a half-size development) and JPEG XL,
on real files written here: DNGs by tifffile, JPEG XL by pillow-jxl-plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from embed.decode import decode_rgb, open_image, register_optional_formats
from embed.errors import ImageDecodeError
from embed.raw import RAW_FORMAT
from pixseek.photos.metadata import read_metadata
from tests.imagegen import textured_rgb, write_dng
from tests.unit.embed.test_decode import assert_upright_marker, decode_file, stored_marker


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_dng_without_preview_is_developed_upright_at_half_size(
    tmp_path: Path, orientation: int
) -> None:
    path = write_dng(
        tmp_path / "a.dng", stored_marker(orientation, (120, 80)), orientation=orientation
    )
    with open_image(path) as image:
        assert image.format == RAW_FORMAT
        exif = image.getexif()
        assert (exif[0x010F], exif[0x0110], exif[0x0132]) == (
            "Pixseek", "Test DNG", "2021:05:04 10:20:30",
        )  # fmt: skip
        assert exif[0x0112] == 1  # LibRaw has turned it already
    assert_upright_marker(decode_file(path), (60, 40))


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_raw_with_a_jpeg_preview_gives_the_preview_drafted_and_turned(
    tmp_path: Path, orientation: int
) -> None:
    preview = stored_marker(orientation, (1200, 800))
    path = write_dng(tmp_path / "IMG_0001.DNG", textured_rgb(1), preview, orientation=orientation)
    with open_image(path) as image:
        assert image.getexif()[0x0112] == orientation  # the camera's, not the preview's own
        assert image.getexif()[0x010F] == "Pixseek"
        rgb = decode_rgb(image, min_side=100)  # drafted at 1/8: the preview is a JPEG
    assert_upright_marker(rgb, (150, 100))


@pytest.mark.parametrize("orientation", [1, 6])
@pytest.mark.parametrize("with_preview", [False, True], ids=["developed", "preview"])
def test_the_metadata_gives_the_full_pictures_size_upright(
    tmp_path: Path, orientation: int, with_preview: bool
) -> None:
    preview = stored_marker(orientation, (1200, 750)) if with_preview else None
    path = write_dng(
        tmp_path / "a.dng", textured_rgb(2, (1600, 1000)), preview, orientation=orientation
    )
    with open_image(path) as image:
        assert image.size != (1600, 1000) and image.size != (1000, 1600)  # preview, or half
        meta = read_metadata(image, file_mtime=0.0)
    assert (meta.width, meta.height) == ((1000, 1600) if orientation == 6 else (1600, 1000))
    assert meta.shape == ("portrait" if orientation == 6 else "landscape")


def test_a_raw_over_the_pixel_limit_is_refused_by_its_sensor_size_not_its_preview(
    tmp_path: Path,
) -> None:
    path = write_dng(
        tmp_path / "big.dng", textured_rgb(3, (1600, 1000)), textured_rgb(4, (1200, 750))
    )
    with pytest.raises(ImageDecodeError, match=r"camera RAW too large: 1600x1000 .*MAX_IMAGE"):
        open_image(path, max_pixels=1_000_000)  # the 0.9 MP preview alone would pass
    with open(path, "rb") as handle, pytest.raises(ImageDecodeError, match="too large"):
        open_image(handle, max_pixels=1_000_000)  # an upload: a file object
    with open_image(path, max_pixels=1_600_000) as image:
        assert image.size == (1200, 750)


def test_a_raw_libraw_cannot_read_says_so(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.CR2"
    path.write_bytes(b"not a raw file at all" * 10)
    with pytest.raises(ImageDecodeError, match="camera RAW that LibRaw cannot read"):
        open_image(path)
    (tmp_path / "empty.nef").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty file"):
        open_image(tmp_path / "empty.nef")


def test_jpeg_xl_decodes(tmp_path: Path) -> None:
    assert "jxl" in register_optional_formats()
    path = tmp_path / "photo.jxl"
    stored_marker(1).save(path, quality=95)
    with Image.open(path) as image:
        assert image.format == "JXL"
    assert_upright_marker(decode_file(path))


def test_a_raw_opened_as_a_file_is_read_by_its_name(tmp_path: Path) -> None:
    path = write_dng(tmp_path / "IMG_0003.nef", stored_marker(1, (120, 80)))
    with open(path, "rb") as handle, open_image(handle) as image:  # as the web app's preview
        assert image.format == RAW_FORMAT
        assert_upright_marker(decode_rgb(image), (60, 40))
