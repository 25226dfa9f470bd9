"""A job's failed files through the API: paged with reasons, as CSV, and retried."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pixseek.jobs.job import Job
from tests.imagegen import textured_rgb, write_corrupt, write_image
from tests.web.conftest import Site, Visitor, assert_error

BROKEN = 5


@pytest.fixture(scope="module")
def failed_job(site: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, list[Path]]:
    """A finished index job over a folder of files no decoder can read."""
    folder = tmp_path_factory.mktemp("broken")
    broken = [write_corrupt(folder / f"broken{i}.jpg", "garbage") for i in range(BROKEN)]
    job = site.wait_job(site.runtime.index([str(folder)]).id)
    assert (job.state, job.failed) == ("done", BROKEN), job
    return job, broken


def test_the_failures_are_listed_page_by_page_with_their_reasons(
    viewer: Visitor, failed_job: tuple[Job, list[Path]]
) -> None:
    job, broken = failed_job
    first = viewer.get(f"/api/v1/jobs/{job.id}/failures?limit=2").json
    assert first is not None
    paging = (first["total"], first["kept"], first["offset"], first["limit"])
    assert paging == (BROKEN, BROKEN, 0, 2)
    rest = viewer.get(f"/api/v1/jobs/{job.id}/failures?offset=2&limit=10").json
    assert rest is not None
    listed = [f["path"] for f in first["failures"] + rest["failures"]]
    assert listed == sorted(str(p) for p in broken)
    assert all(f["reason"] for f in first["failures"] + rest["failures"])


def test_a_bad_page_or_an_unknown_job_is_refused(
    viewer: Visitor, failed_job: tuple[Job, list[Path]]
) -> None:
    job, _ = failed_job
    assert_error(viewer.get(f"/api/v1/jobs/{job.id}/failures?limit=0"), 422, "limit")
    assert_error(viewer.get(f"/api/v1/jobs/{job.id}/failures?offset=-1"), 422, "offset")
    assert_error(viewer.get("/api/v1/jobs/nosuchjob/failures"), 404)


def test_the_failures_download_as_csv(viewer: Visitor, failed_job: tuple[Job, list[Path]]) -> None:
    job, broken = failed_job
    answer = viewer.get(f"/api/v1/jobs/{job.id}/failures.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert f"job-{job.id}-failures.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in broken)
    assert all(r["reason"] for r in rows)


def test_a_retry_indexes_the_failed_files_again_in_a_new_job(
    site: Site, admin: Visitor, viewer: Visitor, failed_job: tuple[Job, list[Path]]
) -> None:
    job, broken = failed_job
    assert_error(viewer.post(f"/api/v1/jobs/{job.id}/retry", json={}), 403)
    write_image(broken[0], textured_rgb(77, (320, 240)))  # mended meanwhile
    broken[1].unlink()  # deleted meanwhile: not retried
    answer = admin.post(f"/api/v1/jobs/{job.id}/retry", json={})
    assert answer.status_code == 202, answer.text
    started = answer.json["job"]  # type: ignore[index]
    assert started["detail"] == {
        "paths": sorted(str(p) for p in broken[:1] + broken[2:]),
        "retry_of": job.id,
    }
    retried = site.wait_job(started["id"])
    assert (retried.state, retried.done, retried.failed) == ("done", 1, BROKEN - 2), retried


def test_a_running_or_unknown_job_is_not_retried(site: Site, admin: Visitor) -> None:
    running = site.services.jobs.create("index", {"paths": []})
    site.services.jobs.start(running.id)
    error = assert_error(admin.post(f"/api/v1/jobs/{running.id}/retry", json={}), 409)
    assert "still running" in error["message"]
    site.services.jobs.finish(running.id, "done")
    assert (
        "no failed file"
        in assert_error(admin.post(f"/api/v1/jobs/{running.id}/retry", json={}), 409)["message"]
    )
    assert_error(admin.post("/api/v1/jobs/nosuchjob/retry", json={}), 404)
