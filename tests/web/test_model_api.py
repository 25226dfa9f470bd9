"""The model switch through the API: the active model, a switch and back, its refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Site, Visitor, assert_error

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
    services.library.models.begin(NEW, job.id)  # a switch whose first step is not sent
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
