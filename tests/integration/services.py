"""Real services for tests, started by the tests themselves: redis-server on a free port, and
`pixseek` processes (worker, serve, CLI) run as a user would run them."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TINY_ENV = {
    "PIXSEEK_MODEL": "pixseek-tiny",
    "PIXSEEK_DEVICE": "cpu",
    "HF_HUB_OFFLINE": "1",
    "PIXSEEK_PORT": "0",  # `pixseek serve` listens on a free port: tests never clash
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    server = RedisServer(workdir).start()
    try:
        yield server.url
    finally:
        server.stop()


class RedisServer:
    """A redis-server on a free loopback port that a test can kill -9 and start again on the
    same port: without persistence (it comes back empty), or with an append-only file synced
    every second, as docker-compose.yml runs it (it comes back with what it held)."""

    def __init__(self, workdir: Path, appendonly: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        workdir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if appendonly else [
            "--appendonly", "no"
        ]  # fmt: skip
        self.command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
            "--dir", str(workdir),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        wait_for(lambda: _accepts(self.port), 10, "redis-server to listen")
        return self

    def kill(self) -> None:
        """kill -9: whatever it had not written to disk is lost."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll until condition() is truthy; fail the test saying what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def pixseek_env(**settings: str) -> dict[str, str]:
    return {**os.environ, **TINY_ENV, **{f"PIXSEEK_{k.upper()}": v for k, v in settings.items()}}


def start_pixseek(
    data_dir: Path, *args: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """A long-running pixseek process (worker, serve), its output in log."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(data_dir), *args],
        env=env, stdout=handle, stderr=subprocess.STDOUT,
    )  # fmt: skip


def run_pixseek(
    data_dir: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(data_dir), *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def served_url(log: Path) -> str | None:
    """The address a `pixseek serve` said it serves, from its log (None until it says so)."""
    found = re.search(r"serving (http://\S+)", log.read_text(errors="replace"))
    return found.group(1) if found else None


def indexed_rows(data_dir: Path) -> int:
    """Files the catalog of a data directory marks indexed, read while another process writes."""
    try:
        with sqlite3.connect(data_dir / "catalog.sqlite3", timeout=1) as db:
            row = db.execute("SELECT count(*) FROM files WHERE status = 'indexed'").fetchone()
            return int(row[0])
    except sqlite3.OperationalError:
        return 0  # not created yet, or busy: ask again


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Warm shutdown: SIGTERM, then wait."""
    if process.poll() is None:
        process.terminate()
        process.wait(timeout)
