"""The admin's daily use in a real browser: uploads as one job, failed files, users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TIMEOUT_MS, Browsing, Server
from tests.e2e.test_browser import api, log_in
from tests.imagegen import textured_rgb, write_corrupt, write_image
from tests.integration.services import wait_for
from tests.web.photos import write_jpegs

pytestmark = pytest.mark.browser
BROKEN = 23  # more than a page of failed files (20)


def test_an_upload_of_several_files_is_one_job(
    browsing: Browsing, server: Server, tmp_path: Path
) -> None:
    page = browsing.page
    pictures = write_jpegs(tmp_path, range(300, 304))
    log_in(browsing, "/upload")
    before = {job["id"] for job in api(browsing, "GET", "/api/v1/jobs")["jobs"]}
    page.set_input_files("#upload-input", [str(p) for p in pictures])
    expect(page.locator("#upload-status")).to_contain_text("all searchable", timeout=TIMEOUT_MS)
    browsing.shot("uploaded")
    new = [job for job in api(browsing, "GET", "/api/v1/jobs")["jobs"] if job["id"] not in before]
    assert [(job["kind"], len(job["detail"]["paths"])) for job in new] == [("upload", 4)], new
    assert new[0]["done"] == 4 and new[0]["state"] == "done"
    browsing.goto("/admin")
    expect(page.locator("#jobs .job-kind").first).to_have_text("Upload of 4 files")
    browsing.shot("one-upload-job")
    browsing.assert_clean()


def test_a_jobs_failed_files_are_listed_paged_downloaded_and_retried(
    browsing: Browsing, server: Server
) -> None:
    page = browsing.page
    broken_dir = server.library[0].parent / "broken"
    broken = [write_corrupt(broken_dir / f"broken{i:02d}.jpg", "garbage") for i in range(BROKEN)]
    log_in(browsing, "/admin")
    job = wait_job(browsing, api(browsing, "POST", "/api/v1/admin/rescan", {})["job"]["id"])
    assert job["failed"] == BROKEN, job
    expect(page.locator("#status")).not_to_contain_text("pixseek stats")
    expect(page.locator("#status")).to_contain_text("listed with their jobs below")

    row = page.locator(f'#jobs .job[data-job-id="{job["id"]}"]')
    row.locator(".job-failures summary").click()
    items = row.locator(".failure-list li")
    expect(items).to_have_count(20)
    expect(items.first).to_contain_text(str(broken[0]))
    expect(row.locator(".failure-range")).to_have_text(f"1–20 of {BROKEN}")
    browsing.shot("failures-first-page")
    row.get_by_role("button", name="Next failed files").click()
    expect(items).to_have_count(BROKEN - 20)
    expect(items.last).to_contain_text(str(broken[-1]))
    browsing.shot("failures-last-page")

    with page.expect_download() as download:
        row.get_by_role("link", name="Download the failed files as CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "path,reason" and len(lines) == BROKEN + 1, lines

    write_image(broken[0], textured_rgb(501, (320, 240)))  # mended: the retry indexes it
    row.get_by_role("button", name="Retry the failed files").click()
    retried = page.locator("#jobs .job-kind", has_text=f"Retry of {BROKEN} failed files")
    expect(retried).to_be_visible()
    listed = api(browsing, "GET", "/api/v1/jobs")["jobs"]
    retry = next(job for job in listed if job["detail"].get("retry_of"))
    ended = wait_job(browsing, retry["id"])
    assert (ended["done"], ended["failed"]) == (1, BROKEN - 1), ended
    for path in broken:
        path.unlink()
    browsing.shot("retried")
    browsing.assert_clean()


def wait_job(browsing: Browsing, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = api(browsing, "GET", f"/api/v1/jobs/{job_id}")
        return job if job["state"] in ("done", "failed", "cancelled") else None

    found: dict[str, Any] = wait_for(ended, TIMEOUT_MS / 1000, f"job {job_id} to end", every=0.3)
    return found
