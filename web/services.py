"""What the web app works with, built once per process and passed to create_app.

The embedded mode hands over the serving process's own library and job store (one process
holds the index) and sends tasks to its in-process worker; a server-mode web process opens the
Qdrant server, Redis and the catalog itself and sends tasks to the workers through the broker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pixseek.errors import SettingsError
from pixseek.indexing.precision import follow_library
from pixseek.jobs.job import JobStore
from pixseek.jobs.stores import open_job_store
from pixseek.library import Library
from pixseek.settings import Settings
from pixseek.store.users import UserStore

SendTask = Callable[[str, Sequence[Any]], None]
WorkerStatus = Callable[[], list[dict[str, str]]]


@dataclass
class WebServices:
    settings: Settings
    library: Library
    jobs: JobStore
    send_task: SendTask  # enqueue a task by name: the web never imports the tasks
    worker_status: WorkerStatus
    users: UserStore = field(init=False)

    def __post_init__(self) -> None:
        self.users = UserStore(self.library.database)
        if self.settings.admin_password is not None:
            password = self.settings.admin_password.get_secret_value()
            if password:
                self.users.set_user("admin", password, "admin")

    @property
    def mode(self) -> str:
        return "server" if self.settings.server_mode else "embedded"

    def close(self) -> None:
        self.users.close()


def for_server(settings: Settings) -> WebServices:
    """A server-mode web process: Qdrant server, Redis jobs, tasks through the broker."""
    if not settings.server_mode or not settings.qdrant_url:
        raise SettingsError(
            "a separate web process needs server mode: set PIXSEEK_BROKER_URL (Redis) and "
            "PIXSEEK_QDRANT_URL (the embedded index belongs to one process: use `pixseek serve`)"
        )
    from celery import Celery  # only to send tasks by name; the tasks live in the workers

    broker = Celery("pixseek-web", broker=settings.broker_url)
    # warm_target: a model switch's new model loads before its cut-over, not at a query
    library = Library(settings, warm_target=True).open()
    follow_library(library.embedder, settings)  # warm the precision the library checked
    library.embedder.warm_up()  # the first query is not the slow one

    def send_task(name: str, args: Sequence[Any]) -> None:
        broker.send_task(name, args=list(args))

    def worker_status() -> list[dict[str, str]]:
        replies = broker.control.ping(timeout=0.5) or []
        return [{"name": name, "state": "online"} for reply in replies for name in reply]

    jobs = open_job_store(settings, library.database)
    return WebServices(settings, library, jobs, send_task, worker_status)
