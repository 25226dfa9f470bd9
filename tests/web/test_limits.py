"""Request bodies are refused by their declared size before they are read, per route and caller,
on the real embedded server; uploads stream into the store, one file over the limit is a 413."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import (
    UPLOAD_MAX_BYTES,
    Site,
    Visitor,
    assert_error,
    make_token,
)
from web.app import create_app
from web.server import EmbeddedServer
from web.services import WebServices

GIB = 1024**3
MIB = 1024**2


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[str]:
    """The site's app on the real embedded server (cheroot), on a free port."""
    settings = site.settings.model_copy(update={"port": 0, "host": "127.0.0.1"})
    server = EmbeddedServer(create_app(settings, site.services), settings)
    server.start()
    yield server.url
    server.stop()


def declare_and_wait(url: str, path: str, length: int, headers: dict[str, str]) -> tuple[str, bool]:
    """Send headers declaring a body of `length` bytes, then only 64 KiB of it; the status line
    of the answer, and whether the server then closed the connection (it read no more)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"x" * 65536)
        answer = b""
        closed = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(), closed


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/uploads", "multipart/form-data; boundary=x"),
        ("/login", "application/x-www-form-urlencoded"),
        ("/api/v1/search", "application/json"),
        ("/api/v1/admin/rescan", "application/json"),
    ],
)
def test_a_stranger_declaring_a_gigabyte_is_refused_before_the_body_is_read(
    served: str, path: str, content_type: str
) -> None:
    status, closed = declare_and_wait(served, path, GIB, {"Content-Type": content_type})
    assert status.startswith("HTTP/1.1 413 ")
    assert closed, "the server hangs up instead of reading the gigabyte"


def test_a_viewer_may_not_send_an_upload_sized_body(site: Site, served: str) -> None:
    token = make_token(site, "viewer body", "viewer")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; b=x"}
    status, closed = declare_and_wait(served, "/api/v1/uploads", 5 * MIB, headers)
    assert status.startswith("HTTP/1.1 413") and closed
    # a search may carry query images: bigger than a form, still bounded
    headers["Content-Type"] = "application/json"
    status, closed = declare_and_wait(served, "/api/v1/search", GIB, headers)
    assert status.startswith("HTTP/1.1 413") and closed


def test_an_admin_upload_over_every_file_at_its_limit_is_refused_unread(
    site: Site, served: str
) -> None:
    token = make_token(site, "admin body", "admin")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; b=x"}
    # each file at its limit, and each part's headers (the file's and its `modified` time's)
    most = site.settings.upload_max_files * (UPLOAD_MAX_BYTES + 2 * 4096)
    status, closed = declare_and_wait(served, "/api/v1/uploads", most + 1, headers)
    assert status.startswith("HTTP/1.1 413") and closed


def test_a_small_body_from_a_stranger_gets_its_401(served: str) -> None:
    answer = httpx.post(served + "api/v1/search", json={"query": "dog"})
    assert answer.status_code == 401


def test_one_file_over_the_limit_fails_the_upload_with_413_and_keeps_nothing(
    site: Site, admin: Visitor
) -> None:
    before = sorted(site.settings.uploads_dir.rglob("*"))
    good = sorted(site.spare.glob("*.jpg"))[9].read_bytes()
    too_big = b"\xff\xd8" + b"\x00" * UPLOAD_MAX_BYTES
    files = {"files": [(io.BytesIO(good), "good.jpg"), (io.BytesIO(too_big), "big.jpg")]}
    answer = admin.post("/api/v1/uploads", data=files, content_type="multipart/form-data")
    error = assert_error(answer, 413)
    assert "big.jpg" in error["message"] and "larger than the limit" in error["message"]
    assert sorted(site.settings.uploads_dir.rglob("*")) == before


def multipart(boundary: str, parts: list[tuple[str, int]]) -> Iterator[bytes]:
    """A multipart body made as it is sent: each part's bytes are generated, never held."""
    for name, size in parts:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        chunk = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(size // len(chunk)):
            yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def rss_peak_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def test_uploads_stream_into_the_store_whatever_their_size(site: Site, tmp_path: Path) -> None:
    """Four files of 64 MiB in one request go through a server in this process while its
    resident peak grows by a fraction of that: nothing holds a whole file in memory."""
    settings = site.settings.model_copy(
        update={"port": 0, "upload_max_bytes": 80 * MIB, "upload_max_files": 8}
    )
    base = site.services
    services = WebServices(settings, base.library, base.jobs, base.send_task, base.worker_status)
    server = EmbeddedServer(create_app(settings, services), settings)
    server.start()
    headers = {
        "Authorization": f"Bearer {make_token(site, 'streaming', 'admin')}",
        "Content-Type": "multipart/form-data; boundary=pixseek-test",
    }
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            small = [(f"small-{n}.jpg", MIB) for n in range(4)]  # threads and pools warmed
            assert client.post("api/v1/uploads", content=multipart("pixseek-test", small))
            Path("/proc/self/clear_refs").write_text("5")
            before = rss_peak_kib()
            parts = [(f"junk-{n}.jpg", 64 * MIB) for n in range(4)]
            answer = client.post("api/v1/uploads", content=multipart("pixseek-test", parts))
            grown_mib = (rss_peak_kib() - before) / 1024
    finally:
        server.stop()
        services.close()
    assert answer.status_code == 202, answer.text
    outcomes = answer.json()["files"]
    assert [o["status"] for o in outcomes] == ["failed"] * 4  # streamed whole, then not images
    assert all("not an image" in o["reason"] for o in outcomes)
    # held in memory, 256 MiB would show; streamed, the growth is the parser's and the
    # allocator's working set (about 46 MiB here, the same for 16 MiB parts as for 64 MiB)
    assert grown_mib < 64, f"the process grew by {grown_mib:.0f} MiB while 256 MiB streamed"
    leftovers = [p for p in settings.uploads_dir.rglob(".upload-*")]
    assert leftovers == [], "temporary files are removed"
