"""A photo's file is served only while it is the indexed file inside the library: a file
turned into a link to a secret answers 404, is never decoded for a preview, and is rescanned."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixseek.photos.identity import file_sha256, point_id
from tests.unit.pixseek.test_uploads import gif_js_polyglot
from tests.web.conftest import PICTURE_SIZE, Site, Visitor, assert_error
from tests.web.photos import write_jpegs


def index_folder(site: Site, folder: Path) -> None:
    job = site.wait_job(site.runtime.index([str(folder)]).id)
    assert job.state == "done", job


@pytest.fixture
def folder(site: Site, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A folder of the library for one test; emptied and rescanned afterwards, so the photos
    it indexed leave the index and the other tests find the library as it was."""
    made = site.library[0].parent / request.node.name
    made.mkdir()
    yield made
    shutil.rmtree(made)
    made.mkdir()
    index_folder(site, made)
    made.rmdir()


def wait_until_gone(viewer: Visitor, photo_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if viewer.get(f"/api/v1/images/{photo_id}").status_code == 404:
            return
        time.sleep(0.1)
    raise AssertionError(f"photo {photo_id} is still in the index after the rescan")


def test_a_photo_turned_into_a_link_to_the_users_database_is_not_served(
    site: Site, viewer: Visitor, folder: Path
) -> None:
    [photo] = write_jpegs(folder, range(600, 601), PICTURE_SIZE)
    index_folder(site, folder)
    photo_id = point_id(file_sha256(photo))
    assert viewer.get(f"/api/v1/images/{photo_id}/original").data == photo.read_bytes()

    photo.unlink()
    photo.symlink_to(site.settings.catalog_path)  # the store: users and their password hashes
    for size in ("original", "thumbnail?size=preview"):
        answer = viewer.get(f"/api/v1/images/{photo_id}/{size}")
        error = assert_error(answer, 404)
        assert "changed since it was indexed" in error["message"]
        assert b"SQLite" not in answer.data
    # the folder was rescanned: the link is no picture, so the photo left the index
    jobs = site.services.jobs.list(20)
    [rescan] = [j for j in jobs if j.detail.get("reason") == "changed since indexed"][:1]
    assert rescan.detail["paths"] == [str(folder)]
    assert site.wait_job(rescan.id).state == "done"
    wait_until_gone(viewer, photo_id)
    row = site.services.library.catalog.records_under([str(photo)])[str(photo)]
    assert row.status == "failed"


def test_a_photo_whose_file_was_swapped_for_another_picture_answers_404(
    site: Site, viewer: Visitor, folder: Path
) -> None:
    photo, other = write_jpegs(folder, range(610, 612), PICTURE_SIZE)
    index_folder(site, folder)
    photo_id = point_id(file_sha256(photo))
    photo.write_bytes(other.read_bytes())  # another picture under the indexed name
    assert_error(viewer.get(f"/api/v1/images/{photo_id}/original"), 404)
    wait_until_gone(viewer, photo_id)


def test_a_photo_is_served_as_its_decoded_type_unsniffed_and_sandboxed(
    site: Site, viewer: Visitor
) -> None:
    photo_id = point_id(file_sha256(site.library[1]))
    for path in ("original", "thumbnail?size=grid", "thumbnail?size=preview"):
        answer = viewer.get(f"/api/v1/images/{photo_id}/{path}")
        assert answer.status_code == 200
        assert answer.mimetype == ("image/jpeg" if path == "original" else "image/webp")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        policy = answer.headers["Content-Security-Policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy


def test_an_uploaded_gif_that_is_also_a_script_is_refused(site: Site, admin: Visitor) -> None:
    polyglot = gif_js_polyglot()
    before = sorted(site.settings.uploads_dir.rglob("*"))
    files = {"files": [(io.BytesIO(polyglot), "cat.gif")]}
    answer = admin.post("/api/v1/uploads", data=files, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.text
    [outcome] = answer.json["files"]
    assert outcome["status"] == "failed" and "HTML or script" in outcome["reason"]
    assert sorted(site.settings.uploads_dir.rglob("*")) == before
