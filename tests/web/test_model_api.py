"""The model switch through the API: the active model, a switch and back, its refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import open_clip
import pytest
import torch

from pixseek.jobs.names import SWITCH
from pixseek.jobs.runner import queue_reindex
from tests.web.conftest import Site, Visitor, assert_error
from tests.web.photos import write_jpegs

OLD, NEW = "pixseek-tiny", "pixseek-tiny-b"


def search(visitor: Visitor) -> Any:
    answer = visitor.post("/api/v1/search", json={"query": "a photo", "limit": 5})
    assert answer.status_code == 200, answer.text
    return answer.json


def switch(site: Site, admin: Visitor, model: str) -> dict[str, Any]:
    answer = admin.post("/api/v1/admin/model", json={"model": model})
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json
    assert body["target"] == model and body["job"]["kind"] == "model-switch"
    job = site.wait_job(body["job"]["id"])
    assert job.state == "done", job
    assert job.done == job.total == site.services.library.index.count()
    return body


def test_the_model_answer_names_the_active_model(admin: Visitor, viewer: Visitor) -> None:
    answer = admin.get("/api/v1/admin/model")
    assert answer.status_code == 200
    assert answer.json == {
        "active": OLD, "active_id": "pixseek-tiny--none", "target": None, "retired": None,
        "job": None,
    }  # fmt: skip
    assert_error(viewer.get("/api/v1/admin/model"), 403)


def test_switching_to_another_model_and_back(site: Site, admin: Visitor, viewer: Visitor) -> None:
    assert search(viewer)["model"] == "pixseek-tiny--none"
    switch(site, admin, NEW)
    assert admin.get("/api/v1/admin/model").json["active"] == NEW
    found = search(viewer)
    assert found["model"] == "pixseek-tiny-b--none" and found["results"]
    status = admin.get("/api/v1/admin/status").json["stats"]
    assert (status["model"], status["model_switch"]) == (NEW, None)
    assert site.services.library.index.vector_names() == {"pixseek-tiny-b--none": 48}
    switch(site, admin, OLD)
    assert search(viewer)["model"] == "pixseek-tiny--none"
    assert site.services.library.index.vector_names() == {"pixseek-tiny--none": 64}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "no-such-model"},  # not a model spec at all
        {"model": "NoSuchArchitecture:laion2b_s34b_b79k"},
        {"model": "ViT-B-32:no_such_tag"},
        {"model": "ViT-B-32:/no/such/weights.bin"},
        {"model": "ViT-B-32:/tmp/weights\x00.bin"},  # a NUL byte: issue 11 item 12
        {"model": ""},
        {},
    ],
)
def test_a_model_nothing_could_load_answers_422(admin: Visitor, body: dict[str, Any]) -> None:
    assert_error(admin.post("/api/v1/admin/model", json=body), 422, "model")


def test_only_an_admin_switches_models(site: Site, viewer: Visitor, nobody: Visitor) -> None:
    assert_error(viewer.post("/api/v1/admin/model", json={"model": NEW}), 403)
    assert_error(nobody.post("/api/v1/admin/model", json={"model": NEW}), 401)
    assert site.services.library.model_state().active == OLD


def test_a_switch_while_one_runs_answers_409_and_cancelling_abandons_it(
    site: Site, admin: Visitor
) -> None:
    assert_error(admin.post("/api/v1/admin/model", json={"model": OLD}), 409)  # active already
    services = site.services
    job = services.jobs.create("model-switch", {"from": OLD, "to": NEW})
    services.library.model_store.begin(NEW, job.id)  # a switch whose first step is not sent
    error = assert_error(admin.post("/api/v1/admin/model", json={"model": "ViT-B-32:none"}), 409)
    assert job.id in error["message"]
    assert admin.get("/api/v1/admin/model").json["target"] == NEW
    cancelled = admin.post(f"/api/v1/jobs/{job.id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert site.wait_job(job.id).state == "cancelled"
    assert admin.get("/api/v1/admin/model").json == {
        "active": OLD, "active_id": "pixseek-tiny--none", "target": None, "retired": None,
        "job": None,
    }  # fmt: skip
    assert "pixseek-tiny-b--none" not in services.library.index.vector_names()


def write_weights(path: Path, architecture: str) -> Path:
    """The tiny model's real weights file for an architecture (random weights, fixed seed)."""
    from embed.model import register_model_configs

    register_model_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(open_clip.create_model(architecture).state_dict(), path)
    return path


def test_weights_that_cannot_load_answer_422_saying_why_and_start_nothing(
    site: Site, admin: Visitor, tmp_path: Path
) -> None:
    # the issue: {"model": "ViT-B-32:/etc/passwd"} answered 202, then every ingest crashed
    jobs_before = len(site.services.jobs.list(500))
    other_architecture = write_weights(tmp_path / "tiny-b.pt", NEW)
    torch.save({}, tmp_path / "empty.pt")
    refused = {
        "ViT-B-32:/etc/passwd": "is not a model checkpoint torch can read",
        f"{OLD}:{other_architecture}": "does not hold weights that fit pixseek-tiny",
        f"{OLD}:{tmp_path / 'empty.pt'}": "holds no model weights",
    }
    for model, why in refused.items():
        error = assert_error(admin.post("/api/v1/admin/model", json={"model": model}), 422, "model")
        assert why in error["details"][0]["message"], error
    assert len(site.services.jobs.list(500)) == jobs_before
    assert admin.get("/api/v1/admin/model").json["target"] is None


def test_a_weights_file_that_fits_is_switched_to(
    site: Site, admin: Visitor, viewer: Visitor, tmp_path: Path
) -> None:
    mine = f"{OLD}:{write_weights(tmp_path / 'mine.pt', OLD)}"
    switch(site, admin, mine)
    assert search(viewer)["model"] == "pixseek-tiny--local-mine"
    switch(site, admin, OLD)


def test_a_target_that_fails_to_load_later_fails_its_switch_alone(
    site: Site, admin: Visitor, viewer: Visitor, tmp_path: Path
) -> None:
    services, runtime = site.services, site.runtime
    job = services.jobs.create("model-switch", {"from": OLD, "to": "ViT-B-32:/etc/passwd"})
    services.library.model_store.begin("ViT-B-32:/etc/passwd", job.id)  # as an unchecked switch did
    new_photos = write_jpegs(tmp_path / "more", range(300, 303), (200, 150))
    indexed = site.wait_job(runtime.index([str(tmp_path / "more")]).id)
    assert (indexed.state, indexed.done, indexed.failed) == ("done", len(new_photos), 0)
    runtime.send_task(SWITCH, [job.id])  # the step loads the target, which cannot load
    failed = site.wait_job(job.id)
    assert failed.state == "failed" and "ViT-B-32:/etc/passwd" in (failed.error or ""), failed
    assert admin.get("/api/v1/admin/model").json["target"] is None
    assert services.library.index.vector_names() == {"pixseek-tiny--none": 64}
    assert search(viewer)["results"]


def test_cancelling_a_job_whose_tasks_are_gone_ends_it(site: Site, admin: Visitor) -> None:
    # the issue: index jobs stayed `running 0/62` through cancel and restart
    context = site.runtime.context
    job = context.jobs.create("reindex", {"scope": "all"})
    queue_reindex(context.library.catalog, context.jobs, job.id, context.ingester.model_id,
                  claim=256, everything=True)  # fmt: skip  # and no ingest task is sent
    assert context.library.catalog.pending_count(job.id) > 0
    answer = admin.post(f"/api/v1/jobs/{job.id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json["state"] == "cancelled"
    assert context.library.catalog.status_counts().get("pending", 0) == 0
    assert_error(admin.post(f"/api/v1/jobs/{job.id}/cancel"), 409)
