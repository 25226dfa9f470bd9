"""Running the web app with a production WSGI server.

Embedded mode: waitress on threads of the serving process, which also holds the index and the
worker (the embedded index is one process's). Server mode: gunicorn, one app per web process,
built after the fork so each process opens its own connections and model.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from flask import Flask

from pixseek.settings import Settings

log = logging.getLogger(__name__)
WAITRESS_THREADS = 8  # requests wait on the index lock or the model, not on Python


class EmbeddedServer:
    """waitress on a thread of this process; start() returns once it listens."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        from waitress.server import create_server

        self._server: Any = create_server(
            app, host=settings.host, port=settings.port, threads=WAITRESS_THREADS,
            ident="pixseek", clear_untrusted_proxy_headers=True,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._server.run, name="pixseek-web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.effective_host, self._server.effective_port
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.close()
        self._thread.join(5)


def run_gunicorn(settings: Settings) -> None:
    """Server mode: gunicorn with PIXSEEK_WEB_WORKERS processes; returns when it stops.

    Settings that cannot serve (no secret key, no admin password) stop it here with one clear
    message, not in every worker process as it boots."""
    from gunicorn.app.base import BaseApplication

    from web.app import check_settings

    check_settings(settings)

    class Application(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.web_workers)
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 120)  # the first query of a process may wait for the model
            self.cfg.set("accesslog", "-")
            if os.path.isdir("/dev/shm"):  # heartbeats on an overlay filesystem can stall
                self.cfg.set("worker_tmp_dir", "/dev/shm")

        def load(self) -> Flask:
            from web.app import create_app

            return create_app(settings)

    Application().run()
