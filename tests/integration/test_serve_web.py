"""A real `pixseek serve` in the default mode, used as its README and its users use it: curl
from a shell, and the CLI next to it."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixseek.store.users import UserStore
from tests.conftest import sqlite_store
from tests.integration.library import generate_library
from tests.integration.services import (
    indexed_rows,
    pixseek_env,
    run_pixseek,
    served_url,
    start_pixseek,
    stop,
    wait_for,
)

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "http://127.0.0.1:8467/"
PHOTOS = 30
BROKEN = 3  # generate_library adds three files no decoder reads


@dataclass(frozen=True)
class Served:
    url: str
    data: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`pixseek serve` over a small library, every photo indexed; open mode (auth auto)."""
    root = tmp_path_factory.mktemp("serve")
    library = generate_library(root / "library", PHOTOS, size=(320, 240))
    data, env, log = root / "data", pixseek_env(), root / "serve.log"
    serve = start_pixseek(data, "serve", str(library.root), env=env, log=log)
    try:
        url = wait_for(lambda: served_url(log), 120, "serve to listen")
        wait_for(lambda: indexed_rows(data) == PHOTOS, 120, "the library indexed")
        wait_for(lambda: jobs_ended(url), 60, "the indexing job to end")
        yield Served(url, data, env)
    finally:
        stop(serve)


def jobs_ended(url: str) -> bool:
    with urllib.request.urlopen(url + "api/v1/jobs", timeout=10) as answer:
        jobs = json.load(answer)["jobs"]
    return bool(jobs) and all(job["state"] == "done" for job in jobs)


def readme_curl_commands() -> list[str]:
    """Each curl command of the README's shell blocks, its continuation lines joined."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        commands += [line.strip() for line in joined.splitlines() if line.startswith("curl ")]
    return commands


def run_curl(command: str, url: str) -> tuple[int, dict[str, object]]:
    """The README's command against this server (its address instead of the default port);
    the status and the JSON answer."""
    local = command.replace(README_URL, url) + " -w '\\n%{http_code}'"
    ran = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    body, _, status = ran.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_the_readme_names_its_curl_commands() -> None:
    commands = readme_curl_commands()
    assert any("/api/v1/search" in c for c in commands), commands
    assert all(README_URL in c for c in commands), commands


def test_the_readmes_curl_commands_work_in_the_default_mode(served: Served) -> None:
    for command in readme_curl_commands():
        status, answer = run_curl(command, served.url)
        assert status != 403, (command, answer)  # the CSRF refusal of before
        if "/api/v1/search" in command:
            assert status == 200 and "results" in answer, answer
        if "/api/v1/admin/model" in command:  # a model this machine cannot download
            assert status in (202, 422), answer


def test_a_cross_site_form_post_and_another_host_are_refused(served: Served) -> None:
    rescan = served.url + "api/v1/admin/rescan"
    form = ["curl", "-s", "-H", "Origin: https://evil.example", "-d", "x=1", rescan]
    answer = json.loads(subprocess.run(form, capture_output=True, text=True).stdout)
    assert answer["error"]["status"] == 403 and "another site" in answer["error"]["message"]
    rebound = ["curl", "-s", "-H", "Host: rebound.example", served.url + "api/v1/me"]
    answer = json.loads(subprocess.run(rebound, capture_output=True, text=True).stdout)
    assert answer["error"]["status"] == 403 and "rebound.example" in answer["error"]["message"]


def test_stats_and_jobs_read_the_library_while_serve_holds_it(served: Served) -> None:
    stats = run_pixseek(served.data, "stats", "--json", env=served.env)
    assert stats.returncode == 0, stats.stderr
    assert "holds this library" in stats.stderr
    found = json.loads(stats.stdout)
    broken = BROKEN
    assert (found["files_indexed"], found["files_failed"]) == (PHOTOS, BROKEN), found
    assert len(found["failures"]) == broken and all(f["reason"] for f in found["failures"])
    assert found["points"] is None  # the index is the serving process's

    jobs = run_pixseek(served.data, "jobs", "--json", env=served.env)
    assert jobs.returncode == 0, jobs.stderr
    indexed = [job for job in json.loads(jobs.stdout) if job["failed"]]
    assert indexed and indexed[0]["failed"] == broken, indexed
    shown = run_pixseek(served.data, "jobs", "show", indexed[0]["id"], env=served.env)
    assert shown.returncode == 0 and shown.stdout.count("failed: ") == broken, shown


def test_a_jobs_failed_files_are_served_as_a_page_and_as_csv(served: Served) -> None:
    listed = json.loads(subprocess.run(
        ["curl", "-s", served.url + "api/v1/jobs"], capture_output=True, text=True
    ).stdout)["jobs"]  # fmt: skip
    job = next(job for job in listed if job["failed"])
    page_url = f"{served.url}api/v1/jobs/{job['id']}/failures?limit=1"
    fetched = subprocess.run(["curl", "-s", page_url], capture_output=True, text=True)
    page = json.loads(fetched.stdout)
    assert page["total"] == job["failed"] and len(page["failures"]) == 1, page
    csv_url = f"{served.url}api/v1/jobs/{job['id']}/failures.csv"
    rows = subprocess.run(["curl", "-s", csv_url], capture_output=True, text=True).stdout
    assert rows.splitlines()[0] == "path,reason" and len(rows.splitlines()) == job["failed"] + 1


def test_users_are_added_listed_given_a_password_and_disabled_from_the_cli(
    served: Served,
) -> None:
    def users(*args: str) -> subprocess.CompletedProcess[str]:
        ran = run_pixseek(served.data, "users", *args, env=served.env)
        assert ran.returncode == 0, ran.stderr
        return ran

    users("add", "vera", "--password", "first password")
    users("add", "alma", "--role", "admin", "--password", "alma's password")
    again = run_pixseek(served.data, "users", "add", "vera", "--password", "x" * 9, env=served.env)
    assert again.returncode != 0 and "exists" in again.stderr
    short = run_pixseek(served.data, "users", "add", "bo", "--password", "short", env=served.env)
    assert short.returncode != 0 and "8 characters" in short.stderr
    users("passwd", "vera", "--password", "second password")
    users("disable", "alma")
    listed = {u["name"]: u for u in json.loads(users("list", "--json").stdout)}
    assert (listed["vera"]["role"], listed["vera"]["disabled"]) == ("viewer", False)
    assert (listed["alma"]["role"], listed["alma"]["disabled"]) == ("admin", True)
    database = sqlite_store(served.data)
    store = UserStore(database)
    try:
        assert store.authenticate("vera", "second password") is not None
        assert store.authenticate("vera", "first password") is None
        assert store.authenticate("alma", "alma's password") is None  # disabled
    finally:
        database.close()
    assert "disabled" in users("list").stdout
    missing = run_pixseek(served.data, "users", "disable", "nobody", env=served.env)
    assert missing.returncode != 0 and "nobody" in missing.stderr
