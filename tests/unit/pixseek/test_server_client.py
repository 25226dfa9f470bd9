"""Timeouts and retries toward a Qdrant server, over real HTTP.

No Qdrant server runs here, so a small HTTP server plays one: it answers the few endpoints these
tests call with the JSON a Qdrant server sends, failing the first requests as a restarting or
overloaded server would."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from pixseek.errors import IndexBackendError
from pixseek.index.server.client import RetryingTransport, connect
from pixseek.index.server.snapshots import SnapshotTransfer
from pixseek.settings import Settings

COLLECTIONS = {"result": {"collections": [{"name": "photos"}]}, "status": "ok", "time": 0.0}
SNAPSHOT = b"snapshot bytes " * 1000


@dataclass
class Script:
    """What the stand-in server does: fail the first `failures` requests with `status` (or by
    stalling `stall` seconds), then answer; every request is recorded."""

    failures: int = 0
    status: int = 503
    stall: float = 0.0
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == "/":  # qdrant-client's version check
                self._send(200, json.dumps({"title": "qdrant", "version": "1.20.0"}).encode())
                return
            script.requests.append((method, self.path, body))
            if len(script.requests) <= script.failures:
                if script.stall:
                    time.sleep(script.stall)
                self._send(script.status, b'{"status": {"error": "busy"}}')
                return
            if self.path.startswith("/collections/photos/snapshots/s1.snapshot"):
                self._send(200, SNAPSHOT, "application/octet-stream")
            else:
                self._send(200, json.dumps(COLLECTIONS).encode())

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout tests)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def retrying(url: str, retries: int, timeout: int = 5) -> QdrantClient:
    transport = RetryingTransport(retries, pause=0.01)
    return QdrantClient(url=url, timeout=timeout, check_compatibility=False, transport=transport)


def test_a_busy_server_is_asked_again_until_it_answers(server: tuple[str, Script]) -> None:
    url, script = server
    script.failures = 2
    names = [c.name for c in retrying(url, retries=3).get_collections().collections]
    assert names == ["photos"]
    assert len(script.requests) == 3


def test_after_the_last_retry_the_failure_is_raised(server: tuple[str, Script]) -> None:
    url, script = server
    script.failures = 5
    with pytest.raises(UnexpectedResponse) as failure:
        retrying(url, retries=2).get_collections()
    assert failure.value.status_code == 503
    assert len(script.requests) == 3


def test_a_refused_request_is_not_sent_again(server: tuple[str, Script]) -> None:
    url, script = server
    script.failures, script.status = 1, 400
    with pytest.raises(UnexpectedResponse):
        retrying(url, retries=3).get_collections()
    assert len(script.requests) == 1


def test_a_request_that_times_out_is_sent_again(server: tuple[str, Script]) -> None:
    url, script = server
    script.failures, script.stall = 1, 2.5
    client = retrying(url, retries=1, timeout=1)
    assert [c.name for c in client.get_collections().collections] == ["photos"]
    assert len(script.requests) == 2


def test_an_unreachable_server_fails_after_the_retries(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.at_level(logging.WARNING, "pixseek.index.server.client")
    with logged, pytest.raises(ResponseHandlingException):
        retrying("http://127.0.0.1:9", retries=2).get_collections()
    assert len([r for r in caplog.records if "trying again" in r.getMessage()]) == 2


def test_settings_give_the_timeout_and_the_retries(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    script.failures, script.stall = 2, 2.5
    once = Settings(data_dir=tmp_path, qdrant_url=url, qdrant_timeout=1, qdrant_retries=0)
    with pytest.raises(ResponseHandlingException):  # 1 s, not the 2.5 s the server stalls
        connect(once).get_collections()
    assert len(script.requests) == 1
    twice = once.model_copy(update={"qdrant_retries": 1})
    assert [c.name for c in connect(twice).get_collections().collections] == ["photos"]
    assert len(script.requests) == 3


def test_a_snapshot_download_is_retried_and_checked(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    script.failures = 1
    transfer = SnapshotTransfer(url, "secret", timeout=5, retries=2)
    target = tmp_path / "copy.snapshot"
    checksum = hashlib.sha256(SNAPSHOT).hexdigest()
    transfer.download("photos", "s1.snapshot", target, checksum)
    assert target.read_bytes() == SNAPSHOT
    with pytest.raises(IndexBackendError, match="damaged"):
        transfer.download("photos", "s1.snapshot", target, "0" * 64)


def test_a_snapshot_upload_asks_the_server_to_recover_from_it(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    source = tmp_path / "collection.snapshot"
    source.write_bytes(SNAPSHOT)
    SnapshotTransfer(url, None, timeout=5, retries=0).upload("photos-m", source, "abc")
    method, path, body = script.requests[-1]
    parsed = urlparse(path)
    assert (method, parsed.path) == ("POST", "/collections/photos-m/snapshots/upload")
    assert parse_qs(parsed.query) == {
        "wait": ["true"], "priority": ["snapshot"], "checksum": ["abc"]
    }  # fmt: skip
    assert b'name="snapshot"' in body and SNAPSHOT in body


def test_a_refused_snapshot_upload_says_why(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.failures, script.status = 1, 422
    source = tmp_path / "collection.snapshot"
    source.write_bytes(b"not a snapshot")
    with pytest.raises(IndexBackendError, match="HTTP 422"):
        SnapshotTransfer(url, None, timeout=5, retries=3).upload("photos-m", source, None)
    assert len(script.requests) == 1
