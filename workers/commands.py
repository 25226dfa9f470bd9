"""`pixseek worker` and `pixseek serve`, and sending an index job to the workers.

They plug into the core CLI through entry points (see pixseek/plugins.py), so the core never
imports Celery.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path
from types import FrameType

import click

from pixseek.cli_jobs import job_line
from pixseek.cli_support import reports_errors
from pixseek.errors import SettingsError
from pixseek.jobs import JobStore
from pixseek.jobstores import open_job_store
from pixseek.scan import resolve_roots
from pixseek.settings import Settings
from workers.app import make_celery
from workers.context import build, install
from workers.inprocess import InProcessWorker
from workers.tasks import SCAN, resume_after_restart

log = logging.getLogger(__name__)
STATUS_SECONDS = 5.0


def submit_index(settings: Settings, roots: list[str]) -> str:
    """Create an index job and send its scan task to the broker; returns the job id."""
    jobs = open_job_store(settings)
    job = jobs.create("index", {"paths": roots})
    make_celery(settings).send_task(SCAN, args=[job.id, roots])
    return job.id


@click.command("worker")
@click.option("--name", default=f"pixseek@{socket.gethostname()}", show_default=True,
              help="Worker name; give each worker on one machine its own.")  # fmt: skip
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Tasks at once in this process (the model is shared).")  # fmt: skip
@click.pass_obj
@reports_errors
def worker(settings: Settings, name: str, concurrency: int) -> None:
    """Server mode: run a Celery worker (`celery -A workers.app inspect ...` works on it)."""
    if not settings.server_mode:
        raise SettingsError(
            "PIXSEEK_BROKER_URL is not set: set it to redis://HOST:PORT/0 for server mode; "
            "the embedded mode runs its worker inside `pixseek serve`"
        )
    app = make_celery(settings)
    # A threads pool keeps one process per worker: the model loads once, and an embedded
    # index (one process only) still works with a single worker.
    app.worker_main(
        ["worker", "--pool=threads", f"--concurrency={concurrency}", "-n", name, "--loglevel=INFO"]
    )


@click.command("serve")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--until-idle", is_flag=True, help="Exit once every job has ended.")
@click.pass_obj
@reports_errors
def serve(settings: Settings, paths: tuple[Path, ...], until_idle: bool) -> None:
    """Embedded mode: index PATHS in the background and keep the library up to date.

    One process, no services: a Celery worker runs on a thread of this process. On start,
    anything an earlier run left unfinished is queued again.
    """
    if settings.server_mode:
        raise SettingsError("`pixseek serve` is the embedded mode; unset PIXSEEK_BROKER_URL")
    roots = resolve_roots(str(p) for p in paths)
    app = make_celery(settings)
    context = build(settings)
    install(app, context)
    worker_thread = InProcessWorker(app)
    worker_thread.start()
    try:
        resume_after_restart(app, None)  # this process is the only one: every claim is stale
        if roots:
            job = context.jobs.create("index", {"paths": roots})
            app.send_task(SCAN, args=[job.id, roots])
        _report_until_stopped(context.jobs, until_idle)
    finally:
        worker_thread.stop()
        context.close()


def _report_until_stopped(jobs: JobStore, until_idle: bool) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(STATUS_SECONDS if not until_idle else 0.5):
        active = [job for job in jobs.list(20) if not job.finished]
        for job in active:
            click.echo(job_line(job), err=True)
        if until_idle and not active:
            return
