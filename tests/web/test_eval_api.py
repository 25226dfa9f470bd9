"""The eval from the API (the admin page's Quality panel): who may start one, what a body may
say, one running at a time, a tiny copy-set eval run by the embedded worker on the shared site
(its report and its curves answered), a cancel seen by the worker, and what a restart leaves."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, get_args

import pytest
from PIL import Image

from pixseek.jobs.names import EVAL
from pixseek.jobs.stores import open_job_store
from pixseek.quality.evaljob import (
    KIND,
    abandon_eval_jobs,
    eval_dir,
    last_plot,
    last_report,
    latest_eval_job,
    start_eval,
)
from pixseek.quality.transforms import TRANSFORMS
from pixseek.settings import Settings
from tests.conftest import sqlite_store
from tests.web.conftest import Site, Visitor, assert_error
from web.api_quality import Transform

# Four photos, three edits each, four more library photos searched among; exact search, one
# HNSW ef and re-ranking: seconds with the tiny model.
TINY_EVAL: dict[str, Any] = {
    "copies": 4, "distractors": 4, "seed": 1, "transforms": ["downscale", "crop", "rotate90"],
    "ef": [16], "quantizations": ["none"], "precisions": ["fp32"], "rerank": True,
}  # fmt: skip


def eval_jobs(site: Site) -> list[str]:
    return [j.id for j in site.services.jobs.list(500) if j.kind == KIND]


def test_the_curves_are_404_before_any_eval_has_ended(admin: Visitor) -> None:
    # first in this file: no test before it ran an eval on the shared site
    assert_error(admin.get("/api/v1/eval/plot.png"), 404)


def test_evals_are_for_admins(site: Site, viewer: Visitor, nobody: Visitor) -> None:
    assert_error(viewer.get("/api/v1/eval"), 403)
    assert_error(viewer.get("/api/v1/eval/plot.png"), 403)
    assert_error(viewer.post("/api/v1/eval", json=TINY_EVAL), 403)
    assert_error(nobody.post("/api/v1/eval", json=TINY_EVAL), 401)
    assert eval_jobs(site) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "copies"),
        ({"copies": 0}, "copies"),
        ({"copies": "four"}, "copies"),
        ({"copies": "4"}, "copies"),
        (TINY_EVAL | {"rerank": 0}, "rerank"),
        (TINY_EVAL | {"distractors": -1}, "distractors"),
        (TINY_EVAL | {"transforms": ["blur"]}, "transforms.0"),
        (TINY_EVAL | {"transforms": []}, "transforms"),
        (TINY_EVAL | {"transforms": ["crop", "crop"]}, "transforms"),
        (TINY_EVAL | {"ef": [0]}, "ef.0"),
        (TINY_EVAL | {"ef": [16, 16]}, "ef"),
        (TINY_EVAL | {"quantizations": ["float16"]}, "quantizations.0"),
        (TINY_EVAL | {"precisions": ["bf16"]}, "precisions.0"),
        (TINY_EVAL | {"folder": "/etc"}, "folder"),
    ],
)
def test_a_bad_body_is_refused_naming_its_field(
    site: Site, admin: Visitor, body: dict[str, Any], field: str
) -> None:
    error = assert_error(admin.post("/api/v1/eval", json=body), 422, field)
    assert field.split(".")[0] in error["message"]
    assert eval_jobs(site) == [], "nothing was started"


def test_more_copies_than_the_library_holds_photos_is_refused(site: Site, admin: Visitor) -> None:
    held = site.services.library.index.count()
    error = assert_error(admin.post("/api/v1/eval", json={"copies": held + 1}), 422, "copies")
    assert f"holds {held} photos" in error["message"]
    assert_error(admin.post("/api/v1/eval"), 400)
    assert eval_jobs(site) == []


def test_an_eval_runs_as_a_job_and_answers_its_report_and_curves(
    site: Site, admin: Visitor
) -> None:
    answer = admin.post("/api/v1/eval", json=TINY_EVAL)
    assert answer.status_code == 202, answer.text
    started = answer.json["job"]
    assert (started["kind"], started["detail"]["copies"]) == ("eval", 4)
    job = site.wait_job(started["id"], timeout=300)
    assert (job.state, job.error) == ("done", None), job
    assert (job.total, job.done) == (3, 3), "exact, HNSW ef=16 and exact + re-ranking measured"

    status = admin.get("/api/v1/eval")
    assert status.status_code == 200, status.text
    assert status.json["job"]["id"] == job.id and status.json["step"] is None
    report = status.json["report"]
    assert report["queries"] == 4 + 4 * 3, "each original and each copy queries once"
    assert report["corpus"] == 4 + 4 * 3 + 4, "originals, copies and four distractors"
    labels = [c["configuration"]["label"] for c in report["configurations"]]
    assert [label.split(" q=none ")[1] for label in labels] == [
        "exact", "hnsw ef=16", "exact +rerank",
    ]  # fmt: skip
    exact = report["configurations"][0]
    assert exact["by_group"]["downscale"]["R@1"] == 1.0, "a downscaled copy finds its original"
    assert set(exact["overall"]) >= {"R@1", "R@10", "mAP", "MRR", "nDCG@10"}
    assert exact["latency_ms"]["p99"] >= exact["latency_ms"]["p50"] > 0
    assert report["duplicates"]["pairs"]["true"] == 4 * 6, "every pair of a photo and its copies"
    assert last_report(site.settings) is not None

    curves = admin.get(status.json["plot_url"])
    assert curves.status_code == 200 and curves.mimetype == "image/png"
    with Image.open(io.BytesIO(curves.data)) as picture:
        assert picture.format == "PNG" and picture.width > 300


def test_a_second_eval_waits_until_the_first_has_ended(site: Site, admin: Visitor) -> None:
    first = start_eval(site.services.library, site.services.jobs, TINY_EVAL)  # no task sent
    try:
        error = assert_error(admin.post("/api/v1/eval", json=TINY_EVAL), 409)
        assert first.id in error["message"]
        status = admin.get("/api/v1/eval").json
        assert status["job"]["id"] == first.id and status["step"] == "waiting for a worker"
    finally:
        site.services.jobs.finish(first.id, "cancelled")
    assert eval_jobs(site).count(first.id) == 1 and len(eval_jobs(site)) >= 1


def test_a_cancelled_eval_ends_cancelled_and_keeps_the_last_report(
    site: Site, admin: Visitor
) -> None:
    before = last_report(site.settings)
    job = start_eval(site.services.library, site.services.jobs, TINY_EVAL)
    cancelled = admin.post(f"/api/v1/jobs/{job.id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    site.services.send_task(EVAL, [job.id])  # the worker takes it after the cancel
    ended = site.wait_job(job.id, timeout=120)
    assert ended.state == "cancelled", ended
    assert last_report(site.settings) == before


def test_the_body_names_every_transform_the_core_makes() -> None:
    assert list(get_args(Transform)) == list(TRANSFORMS)


def test_a_restart_fails_the_evals_its_dead_run_left(settings: Settings) -> None:
    database = sqlite_store(settings.data_dir)
    try:
        jobs = open_job_store(settings, database)
        left = jobs.create(KIND, {"copies": 4})
        other = jobs.create("backup")
        assert abandon_eval_jobs(jobs) == [left.id]
        found = jobs.get(left.id)
        assert found is not None and found.state == "failed" and "stopped" in str(found.error)
        assert jobs.get(other.id).state == "queued"  # type: ignore[union-attr]
        assert latest_eval_job(settings, jobs) is None, "none was asked for through the API"
    finally:
        database.close()
    assert last_report(settings) is None and last_plot(settings) is None
    assert not Path(eval_dir(settings), "last.json").exists()
