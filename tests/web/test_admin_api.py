"""Uploads, jobs, admin actions, status, health, readiness and the OpenAPI document."""

from __future__ import annotations

import io
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pixseek.ops.backup import verify
from pixseek.photos.identity import file_sha256, point_id
from tests.imagegen import textured_rgb, write_image
from tests.web.conftest import (
    LIBRARY_PHOTOS,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_FILES,
    Site,
    Visitor,
    assert_error,
)

JOB_FIELDS = {
    "id", "kind", "state", "total", "done", "failed", "failures", "images_per_second",
    "eta_seconds", "created_at", "started_at", "finished_at", "error", "cancel_requested",
    "detail", "skipped",
}  # fmt: skip
DOCS = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def upload(visitor: Visitor, *files: tuple[bytes, str]) -> Any:
    data = {"files": [(io.BytesIO(content), name) for content, name in files]}
    return visitor.post("/api/v1/uploads", data=data, content_type="multipart/form-data")


def spare(site: Site, index: int) -> Path:
    return sorted(site.spare.glob("*.jpg"))[index]


def stored_copies(site: Site, sha: str) -> list[Path]:
    """The files of the upload store holding this content (uploads/ab/<sha>/<name>)."""
    return sorted(site.settings.uploads_dir.glob(f"*/{sha}/*"))


def test_uploads_are_stored_by_content_indexed_and_searchable(site: Site, admin: Visitor) -> None:
    files = [spare(site, i) for i in range(3)]
    answer = upload(admin, *[(f.read_bytes(), f.name) for f in files])
    assert answer.status_code == 202, answer.text
    body = answer.json
    assert [f["status"] for f in body["files"]] == ["queued"] * 3
    for outcome, path in zip(body["files"], files, strict=True):
        sha = file_sha256(path)
        assert outcome == {
            "filename": path.name, "status": "queued", "id": point_id(sha), "sha256": sha,
            "duplicate_of": None, "reason": None,
        }  # fmt: skip
        assert stored_copies(site, sha) == [site.settings.uploads_dir / sha[:2] / sha / path.name]
    job = site.wait_job(body["job"]["id"])
    assert (job.kind, job.state, job.done, job.failed) == ("upload", "done", 3, 0)
    for outcome in body["files"]:
        photo = admin.get(f"/api/v1/images/{outcome['id']}")
        assert photo.status_code == 200
        assert photo.json["payload"]["source"] == "upload"
        assert photo.json["width"] == 480
        assert photo.json["filename"] == outcome["filename"], "an upload keeps its name"

    again = upload(admin, (files[0].read_bytes(), "renamed.jpg"))
    assert again.status_code == 202
    outcome = again.json["files"][0]
    assert (outcome["status"], again.json["job"]) == ("duplicate", None)
    assert outcome["duplicate_of"].startswith(str(site.settings.uploads_dir))


def test_an_upload_without_a_capture_date_is_dated_by_its_modified_time(
    site: Site, admin: Visitor, tmp_path: Path
) -> None:
    undated = write_image(tmp_path / "new_0.png", textured_rgb(31, (64, 48)))
    modified_ms = 1_561_000_000_000  # 2019-06-20, 03:06:40 UTC
    data = {"files": [(io.BytesIO(undated.read_bytes()), "new_0.png")],
            "modified": [str(modified_ms)]}  # fmt: skip
    answer = admin.post("/api/v1/uploads", data=data, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.text
    site.wait_job(answer.json["job"]["id"])
    photo = admin.get(f"/api/v1/images/{answer.json['files'][0]['id']}").json
    assert photo["filename"] == "new_0.png"
    local = datetime.fromtimestamp(modified_ms / 1000).isoformat(timespec="seconds")
    assert photo["taken_at"] == local and photo["payload"]["taken_at_source"] == "file"
    original = admin.get(photo["original_url"])
    assert original.headers["Content-Disposition"] == "inline; filename=new_0.png"


@pytest.mark.parametrize(
    ("modified", "field"),
    [(["yesterday"], "modified.0"), (["-5"], "modified.0"), (["1", "2"], "modified")],
)
def test_a_modified_time_that_is_no_time_is_refused_naming_it(
    site: Site, admin: Visitor, modified: list[str], field: str
) -> None:
    data = {"files": [(io.BytesIO(spare(site, 7).read_bytes()), "x.jpg")], "modified": modified}
    answer = admin.post("/api/v1/uploads", data=data, content_type="multipart/form-data")
    assert_error(answer, 422, field)


def test_a_photo_the_library_holds_is_a_duplicate_and_not_stored(
    site: Site, admin: Visitor
) -> None:
    original = site.library[2]
    answer = upload(admin, (original.read_bytes(), "copy.jpg"))
    assert answer.status_code == 202
    outcome = answer.json["files"][0]
    assert outcome["status"] == "duplicate"
    assert outcome["duplicate_of"] == str(original)
    assert answer.json["job"] is None
    assert not stored_copies(site, file_sha256(original))


def test_bad_files_fail_with_a_reason_beside_good_ones(site: Site, admin: Visitor) -> None:
    good = spare(site, 3)
    answer = upload(
        admin,
        (b"%PDF-1.4 not a picture at all", "notes.jpg"),
        (b"", "empty.png"),
        (good.read_bytes(), good.name),
    )
    assert answer.status_code == 202, answer.text
    text, empty, fine = answer.json["files"]
    for failed in (text, empty):
        assert failed["status"] == "failed" and failed["reason"], failed
        assert failed["id"] is None
    assert fine["status"] == "queued"
    assert site.wait_job(answer.json["job"]["id"]).done == 1


def test_a_file_over_the_size_limit_is_refused(site: Site, admin: Visitor, tmp_path: Path) -> None:
    big = write_image(tmp_path / "big.jpg", textured_rgb(7, (1000, 750)), quality=95)
    assert UPLOAD_MAX_BYTES < big.stat().st_size < 2 * UPLOAD_MAX_BYTES, "over the limit"
    answer = upload(admin, (big.read_bytes(), big.name))
    if answer.status_code == 413:
        assert_error(answer, 413)
    else:
        assert answer.status_code == 202, answer.text
        outcome = answer.json["files"][0]
        assert outcome["status"] == "failed" and "large" in outcome["reason"], outcome
    assert not stored_copies(site, file_sha256(big))
    # A request larger than every file at the limit together is cut off before it is read.
    whole = upload(admin, *[(big.read_bytes(), f"{i}.jpg") for i in range(UPLOAD_MAX_FILES)])
    assert_error(whole, 413)


def test_too_many_files_or_none_are_refused(site: Site, admin: Visitor) -> None:
    small = spare(site, 9).read_bytes()
    too_many = upload(admin, *[(small, f"{i}.jpg") for i in range(UPLOAD_MAX_FILES + 1)])
    assert_error(too_many, 413)
    none = admin.post("/api/v1/uploads", data={}, content_type="multipart/form-data")
    assert_error(none, 422, "files")


def test_only_an_admin_uploads_and_a_session_needs_its_csrf_token(
    site: Site, admin: Visitor, viewer: Visitor, nobody: Visitor
) -> None:
    picture = (spare(site, 8).read_bytes(), "x.jpg")
    assert_error(upload(viewer, picture), 403)
    assert_error(upload(nobody, picture), 401)
    admin.csrf = None
    assert_error(upload(admin, picture), 403)
    assert not stored_copies(site, file_sha256(spare(site, 8)))


def test_jobs_list_and_show(site: Site, viewer: Visitor) -> None:
    listed = viewer.get("/api/v1/jobs")
    assert listed.status_code == 200
    jobs = listed.json["jobs"]
    assert jobs and all(set(job) >= JOB_FIELDS for job in jobs)
    created = [job["created_at"] for job in jobs]
    assert created == sorted(created, reverse=True)
    first_index = [j for j in jobs if j["kind"] == "index"][-1]
    assert (first_index["state"], first_index["done"]) == ("done", LIBRARY_PHOTOS)

    assert len(viewer.get("/api/v1/jobs?limit=1").json["jobs"]) == 1
    shown = viewer.get(f"/api/v1/jobs/{first_index['id']}")
    assert shown.status_code == 200 and shown.json["id"] == first_index["id"]
    assert_error(viewer.get("/api/v1/jobs/nosuchjob"), 404)
    assert_error(viewer.get("/api/v1/jobs?limit=0"), 422, "limit")
    assert_error(viewer.get("/api/v1/jobs?limit=many"), 422, "limit")
    assert_error(viewer.get("/api/v1/jobs?state=done"), 422, "state")


def test_cancel_a_job_then_409_once_it_ended(site: Site, admin: Visitor, viewer: Visitor) -> None:
    job = site.services.jobs.create("index", {"paths": []})  # queued: no task will take it
    assert_error(viewer.post(f"/api/v1/jobs/{job.id}/cancel"), 403)
    answer = admin.post(f"/api/v1/jobs/{job.id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json["cancel_requested"] is True
    site.services.jobs.finish(job.id, "cancelled")
    assert_error(admin.post(f"/api/v1/jobs/{job.id}/cancel"), 409)
    assert_error(admin.post("/api/v1/jobs/nosuchjob/cancel"), 404)


def test_reindex_all_embeds_every_photo_again(site: Site, admin: Visitor) -> None:
    answer = admin.post("/api/v1/admin/reindex", json={"scope": "all"})
    assert answer.status_code == 202, answer.text
    assert answer.json["job"]["kind"] == "reindex"
    job = site.wait_job(answer.json["job"]["id"])
    indexed = site.services.library.catalog.status_counts()["indexed"]
    assert (job.state, job.total, job.done) == ("done", indexed, indexed)
    missing = admin.post("/api/v1/admin/reindex", json={"scope": "missing"})
    assert missing.status_code == 202
    assert site.wait_job(missing.json["job"]["id"]).total == 0, "nothing lacks this model"


@pytest.mark.parametrize(
    ("body", "field_name"),
    [({}, "scope"), ({"scope": "some"}, "scope"), ({"scope": "all", "now": True}, "now")],
)
def test_a_bad_reindex_answers_422(admin: Visitor, body: dict[str, Any], field_name: str) -> None:
    assert_error(admin.post("/api/v1/admin/reindex", json=body), 422, field_name)


def test_admin_actions_need_an_admin_and_json(admin: Visitor, viewer: Visitor) -> None:
    for path in ("/api/v1/admin/reindex", "/api/v1/admin/rescan"):
        assert_error(viewer.post(path, json={"scope": "all"}), 403)
        assert_error(admin.post(path, data="scope=all", content_type="text/plain"), 415)
        assert_error(admin.post(path, data="{scope", content_type="application/json"), 400)
    assert_error(viewer.get("/api/v1/admin/status"), 403)


def test_rescan_finds_new_and_deleted_files_in_the_library_folders(
    site: Site, admin: Visitor
) -> None:
    assert_error(admin.post("/api/v1/admin/rescan", json={"deep": True}), 422, "deep")
    before = site.services.library.index.count()
    added = write_image(site.library[0].parent / "new" / "added.jpg", textured_rgb(500))
    added_id = point_id(file_sha256(added))
    try:
        rescan(site, admin)
        assert site.services.library.index.count() == before + 1
        assert admin.get(f"/api/v1/images/{added_id}").status_code == 200
    finally:
        added.unlink()
    rescan(site, admin)
    assert site.services.library.index.count() == before
    assert_error(admin.get(f"/api/v1/images/{added_id}"), 404)


def rescan(site: Site, admin: Visitor) -> None:
    answer = admin.post("/api/v1/admin/rescan", json={})
    assert answer.status_code == 202, answer.text
    assert answer.json["job"]["kind"] == "index"
    assert site.wait_job(answer.json["job"]["id"]).state == "done"


def test_status_says_mode_stats_queue_workers_and_roots(site: Site, admin: Visitor) -> None:
    answer = admin.get("/api/v1/admin/status")
    assert answer.status_code == 200
    status = answer.json
    assert status["mode"] == "embedded"
    assert status["stats"]["points"] == site.services.library.index.count() >= LIBRARY_PHOTOS
    assert status["stats"]["model"].startswith("pixseek-tiny")
    assert isinstance(status["queue"]["pending"], int)
    assert [w["state"] for w in status["workers"]] == ["online"]
    assert status["roots"] == [str(site.library[0].parent)]
    assert status["precision"]["setting"] == "auto" and "check" in status["precision"]


def test_health_and_readiness_need_no_login(nobody: Visitor) -> None:
    assert nobody.get("/api/v1/health").json == {"status": "ok"}
    ready = nobody.get("/api/v1/ready")
    assert ready.status_code == 200
    assert ready.json == {"ready": True, "checks": {"index": "ok", "jobs": "ok", "model": "ok"}}


def _documented_routes() -> set[tuple[str, str]]:
    """(METHOD, /api/v1 path) of each row of docs/web.md's API table."""
    rows = re.findall(r"^\| (GET|POST|DELETE|PUT|PATCH) `([^`?]+)", DOCS.read_text(), re.M)
    return {(method, unnamed("/api/v1" + path)) for method, path in rows}


def unnamed(path: str) -> str:
    """A route with its parameters unnamed: /jobs/<id> and /jobs/{job_id} are both /jobs/{}."""
    return re.sub(r"<(?:\w+:)?\w+>|\{\w+\}", "{}", path)


def test_the_openapi_document_lists_every_api_route(site: Site, nobody: Visitor) -> None:
    answer = nobody.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    assert document["openapi"].startswith("3.1")
    listed = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in site.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert listed == served
    documented = _documented_routes()
    assert {(m, unnamed(p)) for m, p in listed} == documented, "docs/web.md's table agrees"
    search = document["paths"]["/api/v1/search"]["post"]
    assert "422" in search["responses"] and "requestBody" in search
    schema_ref = search["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert {"query", "images", "photos", "feedback", "filters", "sort", "limit"} <= set(
        body_schema["properties"]
    )


def test_a_backup_job_writes_a_backup_that_the_list_shows(
    site: Site, admin: Visitor, viewer: Visitor
) -> None:
    before = admin.get("/api/v1/admin/backups").json["backups"]
    answer = admin.post("/api/v1/admin/backups", json={})
    assert answer.status_code == 202, answer.text
    job = site.wait_job(answer.json["job"]["id"])
    assert (job.kind, job.state, job.done, job.total) == ("backup", "done", 1, 1), job
    listed = admin.get("/api/v1/admin/backups").json
    assert listed["directory"] == str(site.settings.backups_dir)
    assert len(listed["backups"]) == len(before) + 1
    newest = listed["backups"][0]
    assert newest["photos"] == site.services.library.catalog.status_counts()["indexed"]
    assert newest["points"] == site.services.library.index.count()
    assert verify(Path(newest["path"]))["model"] == newest["model"] == site.settings.model
    assert_error(viewer.get("/api/v1/admin/backups"), 403)
    assert_error(viewer.post("/api/v1/admin/backups", json={}), 403)
    assert_error(admin.post("/api/v1/admin/backups", json={"keep": 1}), 422)


def test_a_second_backup_while_one_runs_answers_409(site: Site, admin: Visitor) -> None:
    running = site.services.jobs.create("backup", {})
    try:
        error = assert_error(admin.post("/api/v1/admin/backups", json={}), 409)
        assert running.id in error["message"]
    finally:
        site.services.jobs.finish(running.id, "cancelled")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")
def test_an_ocr_job_reads_every_photo_and_a_second_one_waits(
    site: Site, admin: Visitor, viewer: Visitor
) -> None:
    assert_error(viewer.post("/api/v1/admin/ocr", json={}), 403)
    answer = admin.post("/api/v1/admin/ocr", json={})
    assert answer.status_code == 202, answer.text
    job = site.wait_job(answer.json["job"]["id"])
    points = site.services.library.index.count()
    assert (job.kind, job.state, job.done, job.total) == ("ocr", "done", points, points), job
    stored, _ = site.services.library.index.scroll(None, points)
    assert all("ocr_text" in point.payload for point in stored)
    running = site.services.jobs.create("ocr", {})
    try:
        error = assert_error(admin.post("/api/v1/admin/ocr", json={}), 409)
        assert running.id in error["message"]
    finally:
        site.services.jobs.finish(running.id, "cancelled")
