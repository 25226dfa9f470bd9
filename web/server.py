"""Running the web app with a production WSGI server.

Embedded mode: cheroot on threads of the serving process, which also holds the index and the
worker (the embedded index is one process's). Server mode: gunicorn, one app per web process,
built after the fork so each process opens its own connections and model.

Both hand the request body to the app as a stream, unread: the app refuses a body larger than
its route and caller allow by its Content-Length, before reading it (web/limits.py). (waitress,
used before, reads every body whole, up to 1 GiB, before the app sees the request.)
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from flask import Flask

from pixseek.settings import Settings

log = logging.getLogger(__name__)
SERVER_THREADS = 8  # requests wait on the index lock or the model, not on Python
# Seconds a connection may stay silent: a client that trickles its headers or body
# (slowloris) holds a thread this long at most.
SOCKET_TIMEOUT = 30
MAX_HEADER_BYTES = 64 * 1024


class EmbeddedServer:
    """cheroot on threads of this process; start() returns once it listens."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        from cheroot.wsgi import Server

        self._server: Any = Server(
            (settings.host, settings.port), app, numthreads=SERVER_THREADS,
            server_name="pixseek", timeout=SOCKET_TIMEOUT,
        )  # fmt: skip
        self._server.max_request_header_size = MAX_HEADER_BYTES
        # X-Forwarded-* headers reach the app, which believes them only through ProxyFix, when
        # PIXSEEK_TRUSTED_PROXIES says a proxy of the operator's sends them
        self._thread = threading.Thread(target=self._server.serve, name="pixseek-web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.bind_addr[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def start(self) -> None:
        self._server.prepare()  # listening once this returns: the URL has its real port
        self._thread.start()

    def stop(self) -> None:
        self._server.stop()
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
            # gunicorn believes X-Forwarded-Proto from 127.0.0.1 by default; the app's ProxyFix
            # decides instead, from PIXSEEK_TRUSTED_PROXIES
            self.cfg.set("forwarded_allow_ips", "")
            if os.path.isdir("/dev/shm"):  # heartbeats on an overlay filesystem can stall
                self.cfg.set("worker_tmp_dir", "/dev/shm")

        def load(self) -> Flask:
            from web.app import create_app

            return create_app(settings)

    Application().run()
