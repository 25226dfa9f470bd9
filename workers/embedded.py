"""The embedded mode in one object: the library, the job store and the in-process worker,
started and stopped together (by `pixseek serve`, and by tests); `pixseek serve` hands the
library and the job store to the web app (cli/serve.py)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from pixseek.jobs.job import Job
from pixseek.jobs.names import SCAN
from pixseek.settings import Settings
from workers.app import make_celery
from workers.context import WorkerContext, build, install
from workers.inprocess import InProcessWorker
from workers.tasks import resume_after_restart


class EmbeddedRuntime:
    """One process, no services: Celery's in-memory transport carries tasks to a worker thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.celery = make_celery(settings)
        self._context: WorkerContext | None = None
        self.worker = InProcessWorker(self.celery)

    def start(self) -> EmbeddedRuntime:
        """Open the library, load the model, start the worker and resume what a dead run left."""
        self._context = build(self.settings)
        install(self.celery, self._context)
        try:
            self.worker.start()
            resume_after_restart(self.celery, None)  # the only process: every claim is stale
        except BaseException:
            self.close()
            raise
        return self

    @property
    def context(self) -> WorkerContext:
        assert self._context is not None, "start() the runtime first"
        return self._context

    def index(self, roots: list[str]) -> Job:
        """Remember roots as library folders and send a job that indexes them."""
        self.context.library.catalog.add_roots(roots)
        job = self.context.jobs.create("index", {"paths": roots})
        self.send_task(SCAN, [job.id, roots])
        return job

    def send_task(self, name: str, args: Sequence[Any]) -> None:
        self.celery.send_task(name, args=list(args))

    def worker_status(self) -> list[dict[str, str]]:
        state = "online" if self.worker.running else "offline"
        return [{"name": self.worker.hostname, "state": state}]

    def close(self) -> None:
        self.worker.stop()
        if self._context is not None:
            self._context.close()
            self._context = None

    def __enter__(self) -> EmbeddedRuntime:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
