"""pixseek.photos.originals on real files and a real catalog: a photo's file opens only while it is
the indexed file and lies inside the library."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixseek.photos.identity import file_sha256
from pixseek.photos.originals import StaleOriginalError, allowed_roots, open_original
from pixseek.store.catalog import Catalog, FileState
from pixseek.store.schema import open_url

PICTURE = b"\xff\xd8\xff\xe0 pretend this is a JPEG " * 100


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    database = open_url(f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}")
    opened = Catalog(database)
    opened.add_roots([str(tmp_path / "library")])
    yield opened
    database.close()


def indexed(catalog: Catalog, path: Path, content: bytes = PICTURE) -> dict[str, object]:
    """Write and record a file as the indexer would; the payload of its photo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stat = path.stat()
    sha = file_sha256(path)
    catalog.mark_indexed([(FileState(str(path), stat.st_size, stat.st_mtime_ns), sha)], "m")
    return {"sha256": sha, "paths": [str(path)]}


def roots(catalog: Catalog, tmp_path: Path) -> list[str]:
    return allowed_roots(catalog, tmp_path / "data" / "uploads")


def read(payload: dict[str, object], catalog: Catalog, tmp_path: Path) -> bytes:
    opened = open_original(payload, catalog, roots(catalog, tmp_path))
    with opened.file:
        return opened.file.read()


def test_the_indexed_file_opens(tmp_path: Path, catalog: Catalog) -> None:
    payload = indexed(catalog, tmp_path / "library" / "a.jpg")
    assert read(payload, catalog, tmp_path) == PICTURE


def test_a_file_replaced_by_a_link_to_a_secret_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    photo = tmp_path / "library" / "a.jpg"
    payload = indexed(catalog, photo)
    secret = tmp_path / "data" / "users.sqlite3"
    secret.write_bytes(b"SQLite format 3\x00 users and their password hashes")
    photo.unlink()
    photo.symlink_to(secret)
    with pytest.raises(StaleOriginalError) as refused:
        read(payload, catalog, tmp_path)
    assert refused.value.stale == [str(photo)]


def test_a_link_leading_out_of_the_library_is_refused_even_to_the_same_picture(
    tmp_path: Path, catalog: Catalog
) -> None:
    photo = tmp_path / "library" / "a.jpg"
    payload = indexed(catalog, photo)
    outside = tmp_path / "elsewhere" / "a.jpg"
    outside.parent.mkdir()
    shutil.copy2(photo, outside)
    photo.unlink()
    photo.symlink_to(outside)
    with pytest.raises(StaleOriginalError):
        read(payload, catalog, tmp_path)


def test_a_link_inside_the_library_is_followed(tmp_path: Path, catalog: Catalog) -> None:
    real = tmp_path / "library" / "real" / "a.jpg"
    indexed(catalog, real)
    link = tmp_path / "library" / "link.jpg"
    link.symlink_to(real)
    payload = indexed(catalog, link)  # the scan records the link by its own path
    assert read(payload, catalog, tmp_path) == PICTURE


def test_a_touched_file_with_the_same_content_opens(tmp_path: Path, catalog: Catalog) -> None:
    photo = tmp_path / "library" / "a.jpg"
    payload = indexed(catalog, photo)
    os.utime(photo, (1_000_000_000, 1_000_000_000))
    assert read(payload, catalog, tmp_path) == PICTURE


def test_a_file_edited_since_it_was_indexed_is_refused(tmp_path: Path, catalog: Catalog) -> None:
    photo = tmp_path / "library" / "a.jpg"
    payload = indexed(catalog, photo)
    photo.write_bytes(PICTURE + b"an edit")
    with pytest.raises(StaleOriginalError) as refused:
        read(payload, catalog, tmp_path)
    assert refused.value.stale == [str(photo)]


def test_the_next_copy_serves_when_the_first_is_gone(tmp_path: Path, catalog: Catalog) -> None:
    first, second = tmp_path / "library" / "a.jpg", tmp_path / "library" / "b" / "a.jpg"
    indexed(catalog, first)
    payload = indexed(catalog, second) | {"paths": [str(first), str(second)]}
    first.unlink()
    opened = open_original(payload, catalog, roots(catalog, tmp_path))
    opened.close()
    assert opened.path == str(second)
    second.unlink()
    with pytest.raises(StaleOriginalError) as refused:
        open_original(payload, catalog, roots(catalog, tmp_path))
    assert refused.value.stale == [str(first), str(second)]


def test_an_upload_in_the_store_opens(tmp_path: Path, catalog: Catalog) -> None:
    payload = indexed(catalog, tmp_path / "data" / "uploads" / "ab" / "abc.jpg")
    assert read(payload, catalog, tmp_path) == PICTURE
