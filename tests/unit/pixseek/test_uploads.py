"""The content-addressed upload store, with real image files."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from embed.decode import open_image, register_optional_formats
from pixseek.errors import UploadError
from pixseek.photos.uploads import UploadReceiver, place_upload, store_upload
from tests.imagegen import textured_rgb

MB = 1024 * 1024
PIXELS = 10_000_000


def image_bytes(pillow_format: str, seed: int = 1, size: tuple[int, int] = (96, 64)) -> bytes:
    register_optional_formats()  # HEIF and AVIF encoders come with their decoders
    out = io.BytesIO()
    textured_rgb(seed, size).save(out, format=pillow_format)
    return out.getvalue()


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("pillow_format", "name", "suffix"),
    [
        ("JPEG", "jpeg", ".jpg"),
        ("PNG", "png", ".png"),
        ("WEBP", "webp", ".webp"),
        ("GIF", "gif", ".gif"),
        ("BMP", "bmp", ".bmp"),
        ("TIFF", "tiff", ".tif"),
        ("HEIF", "heif", ".heic"),
        ("AVIF", "avif", ".avif"),
    ],
)
def test_an_image_is_stored_by_its_content_hash(
    tmp_path: Path, pillow_format: str, name: str, suffix: str
) -> None:
    data = image_bytes(pillow_format)
    sha = hashlib.sha256(data).hexdigest()
    stored = store_upload(io.BytesIO(data), tmp_path / "uploads", 10 * MB, PIXELS)
    assert stored.sha256 == sha and stored.format == name and stored.created
    assert stored.path == tmp_path / "uploads" / sha[:2] / sha / f"{sha}{suffix}"  # no name
    assert stored.path.read_bytes() == data
    assert files_in(tmp_path / "uploads") == [stored.path]


def test_the_same_content_twice_keeps_the_first_file(tmp_path: Path) -> None:
    data = image_bytes("PNG")
    first = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS)
    mtime = first.path.stat().st_mtime_ns
    again = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS)
    assert (first.created, again.created) == (True, False)
    assert again.path == first.path and again.path.stat().st_mtime_ns == mtime
    other = store_upload(io.BytesIO(image_bytes("PNG", seed=2)), tmp_path, 10 * MB, PIXELS)
    assert other.created and other.path != first.path
    assert len(files_in(tmp_path)) == 2


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("new_0.jpg", "new_0.jpg"),
        ("IMG_0042.JPEG", "IMG_0042.JPEG"),
        ("Été à la plage.jpg", "Été à la plage.jpg"),
        ("../../etc/cron.d/job.jpg", "job.jpg"),
        ("C:\\Users\\me\\holiday.jpg", "holiday.jpg"),
        (".hidden.jpg", "hidden.jpg"),  # a scan skips hidden files
        ("line\nbreak.jpg", "linebreak.jpg"),
        ("really-a-jpeg.png", "really-a-jpeg.png.jpg"),  # the suffix of its real type
        ("no suffix", "no suffix.jpg"),
        ("...", "{sha}.jpg"),
        ("x" * 300 + ".jpg", "x" * 200 + ".jpg"),
    ],
)
def test_an_upload_keeps_the_name_it_was_sent_with_cleaned(
    tmp_path: Path, sent: str, kept: str
) -> None:
    data = image_bytes("JPEG")
    sha = hashlib.sha256(data).hexdigest()
    stored = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS, name=sent)
    assert stored.path == tmp_path / sha[:2] / sha / kept.format(sha=sha)
    assert stored.path.read_bytes() == data


def test_the_same_content_under_another_name_is_the_first_file(tmp_path: Path) -> None:
    data = image_bytes("PNG")
    first = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS, name="first.png")
    again = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS, name="second.png")
    assert (first.created, again.created) == (True, False)
    assert again.path == first.path and files_in(tmp_path) == [first.path]


def test_the_browsers_last_modified_time_becomes_the_files_time(tmp_path: Path) -> None:
    modified = 1_560_000_000.0  # June 2019
    data = image_bytes("PNG")
    stored = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS, "a.png", modified)
    assert stored.path.stat().st_mtime == modified
    again = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS, "b.png", modified + 9)
    assert again.path.stat().st_mtime == modified, "a copy stored already keeps its time"


def test_the_type_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    """A PNG sent as photo.jpg is stored as .png; a text file called photo.jpg is refused."""
    png = io.BytesIO(image_bytes("PNG"))
    png.name = "photo.jpg"
    assert store_upload(png, tmp_path, 10 * MB, PIXELS).path.suffix == ".png"
    text = tmp_path / "notes.jpg"
    text.write_text("these are my holiday notes, not a picture\n" * 50)
    with text.open("rb") as stream, pytest.raises(UploadError, match="not an image file"):
        store_upload(stream, tmp_path / "uploads", 10 * MB, PIXELS)
    assert files_in(tmp_path / "uploads") == []


def test_a_file_over_the_size_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    data = image_bytes("BMP", size=(1200, 1000))  # 3.6 MB, read in several chunks
    with pytest.raises(UploadError, match="larger than the limit of 2 MB"):
        store_upload(io.BytesIO(data), tmp_path / "uploads", 2 * MB, PIXELS)
    assert files_in(tmp_path / "uploads") == []
    exact = store_upload(io.BytesIO(data), tmp_path / "uploads", len(data), PIXELS)
    assert exact.created and exact.path.stat().st_size == len(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (image_bytes("JPEG", size=(200, 100)), "image too large"),
        (image_bytes("TGA"), "unsupported image format tga"),
    ],
    ids=["empty", "too-many-pixels", "unsupported-format"],
)
def test_refused_images_leave_nothing_behind(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        store_upload(io.BytesIO(data), tmp_path / "uploads", 10 * MB, max_pixels=10_000)
    assert files_in(tmp_path / "uploads") == []


def test_a_file_system_without_hard_links_still_stores_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("pixseek.photos.uploads.os.link", no_links)
    data = image_bytes("WEBP")
    first = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS)
    again = store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS)
    assert (first.created, again.created) == (True, False)
    assert files_in(tmp_path) == [first.path] and first.path.read_bytes() == data


def gif_js_polyglot() -> bytes:
    """A real GIF that is also a script: its width bytes open a JS comment (`GIF87a/*`), the
    picture's bytes sit inside the comment, and a statement follows its end."""
    width = int.from_bytes(b"/*", "little")  # 10799 px
    out = io.BytesIO()
    Image.new("P", (width, 1)).save(out, format="GIF")
    data = out.getvalue()
    assert data[:8] == b"GIF87a/*"
    return data + b"*/=1;alert(document.domain);//"


def png_with_text(text: str) -> bytes:
    info = PngInfo()
    info.add_text("Comment", text)
    out = io.BytesIO()
    textured_rgb(2, (64, 48)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        gif_js_polyglot(),
        png_with_text("<script>fetch('/api/v1/tokens')</script>"),
        png_with_text("<!DOCTYPE html><p>hello"),
        png_with_text("<IFRAME src=//example.com>"),
    ],
    ids=["gif-js", "png-script", "png-doctype", "png-iframe"],
)
def test_an_image_that_also_runs_in_a_browser_is_refused(tmp_path: Path, data: bytes) -> None:
    with open_image(io.BytesIO(data)) as image:
        assert image.size[0] > 0  # a picture Pillow reads
    with pytest.raises(UploadError, match="HTML or script"):
        store_upload(io.BytesIO(data), tmp_path / "uploads", 10 * MB, 10**9)
    assert files_in(tmp_path / "uploads") == []


def test_a_marker_split_between_two_writes_is_found(tmp_path: Path) -> None:
    data = png_with_text("<script>alert(1)</script>")
    cut = data.index(b"<script") + 4
    receiver = UploadReceiver(tmp_path, 10 * MB)
    incoming = receiver.open("split.png")
    incoming.write(data[:cut])
    incoming.write(data[cut:])
    with pytest.raises(UploadError, match="HTML or script"):
        place_upload(incoming, PIXELS)
    receiver.close()
    assert files_in(tmp_path) == []


def test_text_in_a_picture_that_is_not_markup_is_kept(tmp_path: Path) -> None:
    data = png_with_text("a <b>bold</b> caption, <a href> and script tags as words: script")
    assert store_upload(io.BytesIO(data), tmp_path, 10 * MB, PIXELS).created
