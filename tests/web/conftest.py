"""The web app over the real embedded mode: a library of real JPEGs indexed by the in-process
worker with the tiny model, login on, and Flask test clients as an admin, a viewer and nobody."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cli.serve import embedded_web_services
from pixseek.jobs.job import Job
from pixseek.settings import Settings, load_settings
from tests.conftest import TINY_MODEL
from tests.web.photos import write_jpegs
from web.app import create_app
from web.services import WebServices
from workers.embedded import EmbeddedRuntime

ADMIN_PASSWORD = "admin password for the tests"
VIEWER_PASSWORD = "viewer password for the tests"
SECRET_KEY = "web-tests-secret-key-0123456789abcdefghij"
LIBRARY_PHOTOS = 8
UPLOAD_MAX_BYTES = 300_000
UPLOAD_MAX_FILES = 4
PICTURE_SIZE = (480, 360)  # between the grid (320) and the preview (960) sizes


@dataclass(frozen=True)
class Site:
    """The running embedded mode and the app served over it."""

    settings: Settings
    runtime: EmbeddedRuntime
    services: WebServices
    app: Flask
    library: list[Path]
    spare: Path  # pictures the library does not hold, to upload

    def wait_job(self, job_id: str, timeout: float = 60) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.services.jobs.get(job_id)
            if job is not None and job.finished:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not end in {timeout} s: {job}")


@dataclass
class Visitor:
    """A test client that sends its session's CSRF token (or a bearer token) like the pages do."""

    client: FlaskClient
    csrf: str | None = None
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(self.headers)
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers | (extra or {})

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> TestResponse:
        return self.client.get(path, headers=self._headers(headers), **kw)

    def post(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> TestResponse:
        return self.client.post(path, headers=self._headers(headers), **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> TestResponse:
        return self.client.delete(path, headers=self._headers(headers), **kw)


def web_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir, "model": TINY_MODEL, "device": "cpu", "auth": "on",
        "secret_key": SECRET_KEY, "admin_password": ADMIN_PASSWORD,
        "upload_max_bytes": UPLOAD_MAX_BYTES, "upload_max_files": UPLOAD_MAX_FILES,
    }  # fmt: skip
    return load_settings(**(values | overrides))


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Started once: loading the model and indexing the library is most of the suite's time."""
    with open_site(tmp_path_factory.mktemp("web")) as found:
        yield found


@contextmanager
def open_site(root: Path) -> Iterator[Site]:
    """The embedded mode over a library of real JPEGs in root, indexed, with its app."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("PIXSEEK_")]:
            env.delenv(name)
        settings = web_settings(root / "data")
    library = write_jpegs(root / "library", range(LIBRARY_PHOTOS), PICTURE_SIZE)
    write_jpegs(root / "spare", range(200, 210), PICTURE_SIZE)
    with EmbeddedRuntime(settings) as runtime:
        services = embedded_web_services(runtime)
        services.users.set_user("vera", VIEWER_PASSWORD, "viewer")
        app = create_app(settings, services)
        app.config["TESTING"] = True
        found = Site(settings, runtime, services, app, library, root / "spare")
        job = found.wait_job(runtime.index([str(root / "library")]).id)
        assert (job.state, job.done) == ("done", LIBRARY_PHOTOS), job
        yield found
        services.close()


class _Attributes(HTMLParser):
    """The attributes of every tag of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str, tag: str, **attrs: str) -> list[dict[str, str | None]]:
    """The attributes of each `tag` of html whose attributes include attrs."""
    parser = _Attributes()
    parser.feed(html)
    return [a for t, a in parser.tags if t == tag and attrs.items() <= a.items()]


def page_csrf(html: str) -> str:
    metas = tags(html, "meta", name="csrf-token")
    assert len(metas) == 1 and metas[0]["content"], "a page carries its CSRF token"
    return str(metas[0]["content"])


def log_in(site: Site, name: str, password: str) -> Visitor:
    """Log in through the login form, then take the CSRF token the search page carries."""
    client = site.app.test_client()
    form = client.get("/login")
    assert form.status_code == 200
    hidden = tags(form.text, "input", name="csrf_token")
    assert len(hidden) == 1 and hidden[0]["value"], "the login form carries a CSRF token"
    answer = client.post(
        "/login", data={"username": name, "password": password, "csrf_token": hidden[0]["value"]}
    )
    assert answer.status_code == 302, answer.text
    page = client.get("/")
    assert page.status_code == 200, page.text
    return Visitor(client, csrf=page_csrf(page.text))


@pytest.fixture
def admin(site: Site) -> Visitor:
    return log_in(site, "admin", ADMIN_PASSWORD)


@pytest.fixture
def viewer(site: Site) -> Visitor:
    return log_in(site, "vera", VIEWER_PASSWORD)


@pytest.fixture
def nobody(site: Site) -> Visitor:
    return Visitor(site.app.test_client())


def make_token(site: Site, name: str, role: str) -> str:
    user = site.services.users.get("admin")
    assert user is not None
    return site.services.users.create_token(user, name, role)[1]  # type: ignore[arg-type]


def assert_error(
    answer: TestResponse, status: int, field_name: str | None = None
) -> dict[str, Any]:
    """The API's error shape with this status; with field_name, details naming that field."""
    assert answer.status_code == status, answer.text
    assert answer.is_json, answer.text
    error: dict[str, Any] = answer.json["error"]  # type: ignore[index]
    assert error["status"] == status and error["message"], error
    if field_name is not None:
        assert field_name in [d["field"] for d in error["details"]], error
    return error
