"""A model switch without a search outage, for real: the embedded mode (in-process Celery worker,
Qdrant Edge) indexes ~300 JPEGs with pixseek-tiny, the admin API switches to pixseek-tiny-b,
and search is polled through the web app the whole time."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from cli.serve import embedded_web_services
from pixseek.jobs.job import Job
from pixseek.settings import load_settings
from pixseek.store.modelstate import ModelState
from tests.integration.services import wait_for
from tests.web.conftest import page_csrf
from tests.web.photos import write_jpegs
from web.app import create_app
from web.services import WebServices
from workers.embedded import EmbeddedRuntime

IMAGES = 300
OLD, NEW = "pixseek-tiny", "pixseek-tiny-b"
OLD_ID, NEW_ID = "pixseek-tiny--none", "pixseek-tiny-b--none"


@dataclass(frozen=True)
class Poll:
    status: int
    results: int
    model: str | None
    job: Job | None  # the switch's job as the poll saw it, once there is one


class Poller(threading.Thread):
    """Searches through the web app in a loop, noting who answered and where the switch was."""

    def __init__(self, app: Flask, services: WebServices) -> None:
        super().__init__(name="poller", daemon=True)
        self.client = csrf_client(app)
        self.services = services
        self.job_id: str | None = None
        self.polls: list[Poll] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            answer = self.client.post("/api/v1/search", json={"query": "a photo", "limit": 10})
            body = answer.json or {}
            job = self.services.jobs.get(self.job_id) if self.job_id else None
            self.polls.append(
                Poll(answer.status_code, len(body.get("results", [])), body.get("model"), job)
            )
            self.stopped.wait(0.01)

    def answered_by(self, model: str) -> int:
        return sum(poll.model == model for poll in self.polls)


def csrf_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    page = client.get("/")  # open mode: every local visitor is an admin; CSRF still applies
    client.environ_base["HTTP_X_CSRF_TOKEN"] = page_csrf(page.text)
    return client


def finished(services: WebServices, job_id: str) -> Job | None:
    job = services.jobs.get(job_id)
    return job if job is not None and job.finished else None


def test_search_answers_throughout_a_model_switch(tmp_path: Path) -> None:
    root = tmp_path / "library"
    write_jpegs(root, range(IMAGES), size=(96, 64))
    settings = load_settings(
        data_dir=tmp_path / "data", model=OLD, device="cpu", batch_size=8, worker_claim=24
    )  # small claims: the backfill takes many steps, with searches and other tasks between
    with EmbeddedRuntime(settings) as runtime:
        services = embedded_web_services(runtime)
        app = create_app(settings, services)
        first = runtime.index([str(root)])
        indexed = wait_for(lambda: finished(services, first.id), 300, "the first import")
        assert (indexed.state, indexed.done) == ("done", IMAGES)

        poller = Poller(app, services)
        poller.start()
        wait_for(lambda: poller.answered_by(OLD_ID) >= 5, 60, "searches with the old model")
        answer = csrf_client(app).post("/api/v1/admin/model", json={"model": NEW})
        assert answer.status_code == 202, answer.text
        poller.job_id = job_id = answer.json["job"]["id"]
        job = wait_for(lambda: finished(services, job_id), 300, "the switch to end")
        wait_for(lambda: poller.answered_by(NEW_ID) >= 5, 60, "searches after the switch")
        poller.stopped.set()
        poller.join(30)
        state, vectors = services.library.model_state(), services.library.index.vector_names()

    assert (job.kind, job.state, job.total, job.done, job.failed) == (
        "model-switch", "done", IMAGES, IMAGES, 0)  # fmt: skip
    polls = poller.polls
    assert all(p.status == 200 and p.results == 10 for p in polls), [
        p for p in polls if p.status != 200 or p.results != 10
    ]
    models = [p.model for p in polls]
    cut = models.index(NEW_ID)
    assert set(models[:cut]) == {OLD_ID} and set(models[cut:]) == {NEW_ID}, "old, then new"
    backfilling = [p for p in polls[:cut] if p.job and 0 < p.job.done < IMAGES]
    assert len(backfilling) >= 3, "searches answered while the backfill ran, by the old model"
    assert state == ModelState(active=NEW, configured=OLD)
    assert vectors == {NEW_ID: 48}, "the old model's vectors are dropped"
