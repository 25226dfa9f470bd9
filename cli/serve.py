"""`pixseek worker` and `pixseek serve`: the long-running commands, which build the library,
the Celery app, the worker and the web app and hand each what it needs."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path
from types import FrameType

import click

from cli.jobs import job_line
from cli.support import reports_errors
from pixseek.errors import SettingsError
from pixseek.jobs.job import JobStore
from pixseek.photos.scan import resolve_roots
from pixseek.settings import Settings
from web.app import check_settings, create_app
from web.server import EmbeddedServer
from web.services import WebServices
from workers.app import make_celery
from workers.context import build, install
from workers.embedded import EmbeddedRuntime

log = logging.getLogger(__name__)
STATUS_SECONDS = 5.0


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
    # The library opens (the embedded index's lock) and the model loads before Celery's
    # consumer starts: a worker that cannot open them says why and exits non-zero before it
    # takes a task (a second worker on an embedded index used to take tasks and fail them).
    context = build(settings)
    install(app, context)
    try:
        # A threads pool keeps one process per worker: the model loads once, and an embedded
        # index (one process only) still works with a single worker.
        app.worker_main(
            ["worker", "--pool=threads", f"--concurrency={concurrency}", "-n", name,
             "--loglevel=INFO"]
        )  # fmt: skip
    finally:
        context.close()


@click.command("serve")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--host", help="Address to listen on (PIXSEEK_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (PIXSEEK_PORT, default 8467).")
@click.option("--no-web", is_flag=True, help="Index only; serve no web app.")
@click.option("--until-idle", is_flag=True, help="Exit once every job has ended.")
@click.pass_obj
@reports_errors
def serve(
    settings: Settings,
    paths: tuple[Path, ...],
    host: str | None,
    port: int | None,
    no_web: bool,
    until_idle: bool,
) -> None:
    """Serve the web app and index PATHS in the background, keeping the library up to date.

    Embedded mode (the default): one process, no services; a Celery worker runs on a thread of
    this process and the web app is served by cheroot. On start, anything an earlier run left
    unfinished is queued again. Server mode (PIXSEEK_BROKER_URL set): gunicorn web processes
    only; `pixseek worker` processes index.
    """
    settings = settings.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    if settings.server_mode:
        if paths or no_web or until_idle:
            raise SettingsError(
                "in server mode `pixseek serve` only serves the web app; "
                "send folders with `pixseek index` and run `pixseek worker` processes"
            )
        from web.server import run_gunicorn

        run_gunicorn(settings)
        return
    _serve_embedded(settings, resolve_roots(str(p) for p in paths), no_web, until_idle)


def _serve_embedded(settings: Settings, roots: list[str], no_web: bool, until_idle: bool) -> None:
    if not no_web:
        check_settings(settings)  # before the model loads: a missing secret is said at once
    with EmbeddedRuntime(settings) as runtime:
        web = None
        try:
            if not no_web:
                web = EmbeddedServer(create_app(settings, embedded_web_services(runtime)), settings)
                web.start()
                click.echo(f"pixseek: serving {web.url}", err=True)
            if roots:
                runtime.index(roots)
            _report_until_stopped(runtime.context.jobs, until_idle)
        finally:
            if web is not None:
                web.stop()


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


def embedded_web_services(runtime: EmbeddedRuntime) -> WebServices:
    """What the web app needs in the embedded mode: the serving process's own library and job
    store, tasks sent to its in-process worker."""
    context = runtime.context
    return WebServices(
        runtime.settings, context.library, context.jobs, runtime.send_task, runtime.worker_status
    )
