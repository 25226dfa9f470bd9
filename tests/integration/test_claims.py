"""Claims that survive lost workers, on a real PostgreSQL (FOR UPDATE SKIP LOCKED) and on
SQLite: four worker processes claim from one queue, one is killed with -9 and never comes
back; every file ends indexed, no file is processed by two workers, and the dead worker's
files are taken by the others once its lease has passed. Once more with each worker on a host
of its own (a network namespace) reaching PostgreSQL over the network."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixseek.store.catalog import Catalog, FileState
from pixseek.store.schema import open_url
from tests import netns, postgres
from tests.integration.services import wait_for

FILES = 240
LEASE = 3.0
WORKERS = ["w1", "w2", "w3", "doomed"]
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Setup:
    url: str  # the store, as the workers reach it
    hosts: list[netns.Host]  # one per worker, or none: workers run on this host


@pytest.fixture(params=["postgresql", "sqlite", "postgresql-hosts"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    if request.param == "sqlite":
        yield Setup(f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite3'}", [])
    elif request.param == "postgresql":
        with postgres.database(request.getfixturevalue("postgres_server")) as url:
            yield Setup(url, [])
    else:  # every worker on a host of its own, reaching PostgreSQL over its own network
        if not netns.available():
            pytest.skip("network namespaces need root")
        with ExitStack() as stack:
            gateway, hosts = stack.enter_context(netns.hosts(len(WORKERS)))
            server = stack.enter_context(postgres.cluster_for(gateway, "10.201.0.0/24"))
            yield Setup(stack.enter_context(postgres.database(server)), hosts)


def test_a_worker_killed_mid_claim_loses_no_file_and_doubles_none(
    setup: Setup, tmp_path: Path
) -> None:
    database = open_url(setup.url)
    catalog = Catalog(database)
    catalog.enqueue([FileState(f"/lib/{n:04d}.jpg", n, n) for n in range(FILES)], "job1")
    logs = {name: tmp_path / f"{name}.log" for name in WORKERS}
    hosts = setup.hosts or [None] * len(WORKERS)
    processes = {
        name: _start(setup.url, name, logs[name], host)
        for name, host in zip(WORKERS, hosts, strict=True)
    }
    wait_for(lambda: _lines(logs["doomed"]) >= 3, 60, "the doomed worker to process files")
    processes["doomed"].send_signal(signal.SIGKILL)
    processes["doomed"].wait(10)
    killed_at = time.time()
    held = [
        path for (path,) in database.rows(
            "SELECT path FROM files WHERE claimed_by = 'doomed' AND status = 'pending'"
        )
    ]  # fmt: skip
    for name in WORKERS[:3]:
        assert processes[name].wait(120) == 0, f"{name} did not finish"

    assert catalog.status_counts() == {"indexed": FILES}
    processed = {name: _processed(logs[name]) for name in WORKERS}
    seen = Counter(path for name in WORKERS for path in processed[name])
    assert max(seen.values()) == 1, "no file is processed twice"
    assert len(seen) >= FILES - 1  # the doomed one may have died between marking and logging
    assert held, "the kill should land while the doomed worker holds files"
    survivors = {p: t for name in WORKERS[:3] for p, t in processed[name].items()}
    for path in held:  # taken over once the lease had passed (renewed just before the kill)
        assert survivors[path] >= killed_at + LEASE - 0.5
    database.close()


def _start(url: str, name: str, log: Path, host: netns.Host | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.integration.claimer", url, name, str(log)]
    prefix = host.exec_prefix if host else []
    return subprocess.Popen([*prefix, *command, str(LEASE)], cwd=ROOT)


def _lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _processed(log: Path) -> dict[str, float]:
    if not log.exists():
        return {}
    return {path: float(at) for path, at in (line.split() for line in log.read_text().splitlines())}
