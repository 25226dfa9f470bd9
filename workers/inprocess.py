"""The embedded mode's worker: a Celery worker on a thread of the serving process.

Celery's in-memory transport carries the tasks, so the embedded mode needs no Redis; the tasks
and their code are exactly those `pixseek worker` runs in server mode.
"""

from __future__ import annotations

import logging
import socket
import threading

from celery import Celery
from celery.worker import WorkController

log = logging.getLogger(__name__)


class _ReadyWorkController(WorkController):
    """A WorkController that says when its consumer is ready."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: object) -> None:
        self.ready.set()


class InProcessWorker:
    """Start and stop a one-slot threads-pool worker inside this process."""

    def __init__(self, app: Celery, hostname: str | None = None) -> None:
        self.app = app
        self.hostname = hostname or f"embedded@{socket.gethostname()}"
        self._controller: _ReadyWorkController | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start consuming; returns once the worker takes tasks."""
        self._controller = _ReadyWorkController(
            app=self.app,
            hostname=self.hostname,
            pool="threads",
            concurrency=1,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.WARNING,
        )
        # The threads pool runs tasks on threads where no app is current: they look tasks up
        # in the default app, which must be this one.
        self.app.set_default()
        self._thread = threading.Thread(
            target=self._controller.start, name="pixseek-worker", daemon=True
        )
        self._thread.start()
        if not self._controller.ready.wait(timeout):
            raise RuntimeError("the in-process worker did not start")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking tasks and wait (up to timeout) for the running one to finish."""
        if self._controller is not None:
            self._controller.stop(in_sighandler=False)
        if self._thread is not None:
            self._thread.join(timeout)
        self._controller = None
        self._thread = None
