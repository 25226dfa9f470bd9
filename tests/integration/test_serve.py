"""The embedded mode for real: `pixseek serve` with its in-process Celery worker, no Redis."""

from __future__ import annotations

import signal
from pathlib import Path

from pixseek.jobs.stores import SqlJobStore
from pixseek.library import Library
from pixseek.settings import Settings
from tests.conftest import sqlite_store
from tests.integration.library import generate_library
from tests.integration.services import (
    indexed_rows,
    pixseek_env,
    run_pixseek,
    start_pixseek,
    wait_for,
)

IMAGES = 200


def test_serve_indexes_in_the_background_and_resumes_after_kill_9(tmp_path: Path) -> None:
    library = generate_library(tmp_path / "library", IMAGES, size=(400, 300))
    data = tmp_path / "data"
    env = pixseek_env(batch_size="4", worker_claim="8")
    log = tmp_path / "serve.log"
    serve = start_pixseek(data, "serve", str(library.root), env=env, log=log)
    wait_for(lambda: indexed_rows(data) >= 40, 120, "some photos indexed")
    serve.send_signal(signal.SIGKILL)
    serve.wait(30)
    assert indexed_rows(data) < IMAGES, "the kill should land mid-import"

    again = run_pixseek(data, "serve", str(library.root), "--until-idle", env=env)
    assert again.returncode == 0, again.stderr
    with Library(Settings(data_dir=data, model="pixseek-tiny")) as opened:
        assert opened.index.count() == IMAGES
        assert opened.catalog.status_counts() == {"indexed": IMAGES, "failed": 3}
    database = sqlite_store(data)
    jobs = SqlJobStore(database).list()
    database.close()
    assert jobs and all(job.state == "done" for job in jobs), [j.as_dict() for j in jobs]


def test_serve_needs_no_paths_to_finish_what_a_killed_run_left(tmp_path: Path) -> None:
    library = generate_library(tmp_path / "library", 60, size=(400, 300))
    data = tmp_path / "data"
    env = pixseek_env(batch_size="2", worker_claim="4")
    serve = start_pixseek(data, "serve", str(library.root), env=env, log=tmp_path / "serve.log")
    wait_for(lambda: indexed_rows(data) >= 8, 120, "some photos indexed")
    serve.send_signal(signal.SIGKILL)
    serve.wait(30)

    again = run_pixseek(data, "serve", "--until-idle", env=env)
    assert again.returncode == 0, again.stderr
    assert indexed_rows(data) == 60
