"""pixseek.photos.thumbnails on real pictures: sizes, WebP files, content addressing, atomic
writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from embed.decode import decode_rgb, open_image
from pixseek.photos.thumbnails import (
    GRID_SIZE,
    INGEST_SIZES,
    PREVIEW_SIZE,
    SIZES,
    decode_side_for,
    grid_thumbnail,
    thumbnail_path,
    write_thumbnails,
)
from tests.imagegen import textured_rgb, write_image

SHA = hashlib.sha256(b"a photo").hexdigest()


@pytest.fixture(scope="module")
def big_image() -> Image.Image:
    # 12 MP, like a typical camera picture; built once because it takes a while
    return textured_rgb(1, (4000, 3000))


def _sizes(paths: dict[str, Path]) -> dict[str, tuple[int, int]]:
    sizes = {}
    for name, path in paths.items():
        with Image.open(path) as thumb:
            assert thumb.format == "WEBP"
            sizes[name] = thumb.size
    return sizes


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*") if path.is_file())


def test_the_grid_thumbnail_of_a_decode_is_written_and_its_picture_answered(
    tmp_path: Path,
) -> None:
    decode = textured_rgb(5, (1000, 750))
    grid = grid_thumbnail(decode, SHA, tmp_path / "made")
    assert grid.size == (320, 240) and decode.size == (1000, 750)
    written = thumbnail_path(tmp_path / "made", SHA, "grid")
    expected = write_thumbnails(decode, SHA, tmp_path / "as-before", ("grid",))["grid"]
    assert written.read_bytes() == expected.read_bytes(), "the same file as write_thumbnails"
    assert _files(tmp_path / "made") == [f"{SHA}-grid.webp"]
    small = textured_rgb(6, (200, 150))
    assert grid_thumbnail(small, SHA, tmp_path / "small").size == (200, 150), "never enlarged"


def test_only_the_named_thumbnails_are_written(tmp_path: Path) -> None:
    paths = write_thumbnails(textured_rgb(5, (1000, 750)), SHA, tmp_path, INGEST_SIZES)
    assert _sizes(paths) == {"grid": (320, 240)}
    assert not thumbnail_path(tmp_path, SHA, "preview").exists()


def test_sizes_hold_grid_and_preview() -> None:
    assert SIZES == {"grid": GRID_SIZE, "preview": PREVIEW_SIZE}
    assert (GRID_SIZE, PREVIEW_SIZE) == (320, 960)


def test_thumbnail_path_is_content_addressed(tmp_path: Path) -> None:
    assert thumbnail_path(tmp_path, SHA, "grid") == tmp_path / SHA[:2] / f"{SHA}-grid.webp"
    assert thumbnail_path(tmp_path, SHA, "preview").name == f"{SHA}-preview.webp"


@pytest.mark.parametrize("sha256", ["../" + SHA[3:], SHA.upper(), SHA[:-1], ""])
def test_thumbnail_path_refuses_what_is_not_a_digest(tmp_path: Path, sha256: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        thumbnail_path(tmp_path, sha256, "grid")


def test_thumbnail_path_refuses_unknown_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="huge"):
        thumbnail_path(tmp_path, SHA, "huge")


def test_large_landscape_gets_both_sizes_as_webp(tmp_path: Path, big_image: Image.Image) -> None:
    paths = write_thumbnails(big_image, SHA, tmp_path)

    assert paths == {name: thumbnail_path(tmp_path, SHA, name) for name in SIZES}
    assert _sizes(paths) == {"preview": (960, 720), "grid": (320, 240)}


def test_portrait_is_never_upscaled(tmp_path: Path) -> None:
    paths = write_thumbnails(textured_rgb(2, (600, 800)), SHA, tmp_path)

    # the preview keeps the picture's own 800 long side rather than growing to 960
    assert _sizes(paths) == {"preview": (600, 800), "grid": (240, 320)}


def test_tiny_picture_keeps_its_size(tmp_path: Path) -> None:
    paths = write_thumbnails(textured_rgb(3, (100, 50)), SHA, tmp_path)

    assert _sizes(paths) == {"preview": (100, 50), "grid": (100, 50)}


@pytest.mark.parametrize("size", [(1234, 567), (567, 1234), (2000, 3), (1001, 1000)])
def test_aspect_is_kept_within_a_pixel(tmp_path: Path, size: tuple[int, int]) -> None:
    sizes = _sizes(write_thumbnails(textured_rgb(4, size), SHA, tmp_path))

    for name, (width, height) in sizes.items():
        long_side = SIZES[name]
        assert max(width, height) == long_side
        scale = long_side / max(size)
        assert abs(width - size[0] * scale) <= 1
        assert abs(height - size[1] * scale) <= 1


def test_input_image_is_left_unchanged(tmp_path: Path) -> None:
    image = textured_rgb(5, (1500, 1000))
    before = image.tobytes()

    write_thumbnails(image, SHA, tmp_path)

    assert (image.size, image.mode, image.tobytes()) == ((1500, 1000), "RGB", before)


def test_existing_thumbnails_are_reused(tmp_path: Path) -> None:
    image = textured_rgb(6, (1200, 900))
    first = write_thumbnails(image, SHA, tmp_path)
    # known bytes that no encoder would write: any rewrite would replace them
    first["preview"].write_bytes(b"kept preview")
    first["grid"].write_bytes(b"kept grid")

    second = write_thumbnails(textured_rgb(7, (1200, 900)), SHA, tmp_path)

    assert second == first
    assert first["preview"].read_bytes() == b"kept preview"
    assert first["grid"].read_bytes() == b"kept grid"


def test_missing_size_is_written_from_the_original(tmp_path: Path) -> None:
    image = textured_rgb(8, (1200, 900))
    paths = write_thumbnails(image, SHA, tmp_path)
    paths["preview"].write_bytes(b"kept preview")
    paths["grid"].unlink()

    write_thumbnails(image, SHA, tmp_path)

    assert paths["preview"].read_bytes() == b"kept preview"
    with Image.open(paths["grid"]) as grid:
        assert (grid.format, grid.size) == ("WEBP", (320, 240))


def test_empty_file_left_by_a_power_cut_is_rewritten(tmp_path: Path) -> None:
    path = thumbnail_path(tmp_path, SHA, "grid")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")

    write_thumbnails(textured_rgb(9, (640, 480)), SHA, tmp_path)

    with Image.open(path) as grid:
        assert (grid.format, grid.size) == ("WEBP", (320, 240))


def test_no_temporary_files_remain(tmp_path: Path) -> None:
    other = hashlib.sha256(b"another photo").hexdigest()
    write_thumbnails(textured_rgb(10, (1000, 750)), SHA, tmp_path)
    write_thumbnails(textured_rgb(11, (750, 1000)), other, tmp_path)

    assert _files(tmp_path) == sorted(
        f"{sha}-{name}.webp" for sha in (SHA, other) for name in SIZES
    )


def test_rgb_icc_profile_travels_and_others_do_not(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    with_srgb = textured_rgb(12, (400, 300))
    with_srgb.info["icc_profile"] = srgb
    with_lab = textured_rgb(13, (400, 300))
    with_lab.info["icc_profile"] = lab  # as a converted CMYK or Lab file would carry

    kept = write_thumbnails(with_srgb, SHA, tmp_path / "srgb")
    dropped = write_thumbnails(with_lab, SHA, tmp_path / "lab")

    for path in kept.values():
        with Image.open(path) as thumb:
            assert thumb.info.get("icc_profile") == srgb
    for path in dropped.values():
        with Image.open(path) as thumb:
            assert not thumb.info.get("icc_profile")


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (4000, 3000, 720),  # the preview needs 960x720; JPEG drafts to 1/4, 1000x750
        (3000, 4000, 720),
        (300, 200, 200),  # capped by the picture's own shorter side
        (5000, 1000, 224),  # panorama: the preview needs only 192, the model 224
        (960, 960, 960),
        (1920, 1080, 540),
    ],
)
def test_decode_side_for_the_preview(width: int, height: int, expected: int) -> None:
    assert decode_side_for(width, height, 224, PREVIEW_SIZE) == expected


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (4000, 3000, 240),  # the grid needs 320x240; JPEG drafts to 1/8, 500x375
        (3000, 4000, 240),
        (1920, 1080, 224),  # the model needs more than the grid's 180
        (200, 100, 100),
    ],
)
def test_decode_side_for_ingest_serves_the_model_and_the_grid(
    width: int, height: int, expected: int
) -> None:
    assert decode_side_for(width, height, 224) == expected


@pytest.mark.parametrize(("width", "height", "model_side"), [(0, 10, 224), (10, 0, 224), (5, 5, 0)])
def test_decode_side_for_refuses_empty_sizes(width: int, height: int, model_side: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        decode_side_for(width, height, model_side)


def test_one_drafted_decode_serves_model_and_preview(
    tmp_path: Path, big_image: Image.Image
) -> None:
    path = write_image(tmp_path / "photo.jpg", big_image, quality=90)

    with open_image(path) as image:
        rgb = decode_rgb(image, min_side=decode_side_for(4000, 3000, 224, PREVIEW_SIZE))

    assert max(rgb.size) >= PREVIEW_SIZE
    assert min(rgb.size) >= 224
    assert rgb.size == (1000, 750)  # drafted at 1/4 rather than decoded whole
    paths = write_thumbnails(rgb, SHA, tmp_path / "thumbs")
    assert _sizes(paths) == {"preview": (960, 720), "grid": (320, 240)}
