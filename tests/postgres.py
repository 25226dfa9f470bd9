"""A real PostgreSQL for the tests: the server this machine runs at 127.0.0.1:5432 (trust
authentication), or, where none answers, a private cluster started here with initdb and
pg_ctl on a free port (scripts/test installs Debian's postgresql where it is missing).
PIXSEEK_TEST_POSTGRES_URL names another server. Each test run works in databases of its own,
dropped at the end."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

LOCAL = "postgresql+psycopg://postgres@127.0.0.1:5432"


def server_url() -> Iterator[str]:
    """A server URL without a database name: the local server, or a private cluster."""
    given = os.environ.get("PIXSEEK_TEST_POSTGRES_URL")
    if given:
        yield given.rstrip("/")
        return
    if _answers(LOCAL):
        yield LOCAL
        return
    with _private_cluster() as url:
        yield url


@contextmanager
def database(server: str) -> Iterator[str]:
    """A new, empty database on server; its URL, dropped afterwards."""
    name = f"pixseek_test_{uuid.uuid4().hex[:12]}"
    _admin(server, f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(_plain(url) + "/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _admin(server: str, statement: str) -> None:
    with psycopg.connect(_plain(server) + "/postgres", autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def _plain(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def _private_cluster(listen: str = "127.0.0.1", clients: str = "") -> Iterator[str]:
    """initdb and pg_ctl in a folder of /tmp of its own (pytest's temporary folders are
    private to root, and the cluster runs as the postgres user), removed afterwards."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        raise RuntimeError("PostgreSQL is not installed (scripts/test installs it)")
    bin_dir = Path(binaries[-1])
    workdir = Path(tempfile.mkdtemp(prefix="pixseek-postgres-"))
    data = workdir / "cluster"
    port = _free_port()
    as_owner = _as_postgres_user(workdir)
    subprocess.run([*as_owner, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust"], check=True, capture_output=True)  # fmt: skip
    if clients:  # other hosts (network namespaces) may connect too
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {clients} trust\n")
    options = f"-p {port} -k {workdir} -c listen_addresses={listen}"
    subprocess.run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                    "-l", str(workdir / "postgres.log"), "start"], check=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@{listen.split(',')[-1]}:{port}"
    finally:
        subprocess.run([*as_owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)


def _as_postgres_user(workdir: Path) -> list[str]:
    """initdb refuses to run as root: run it as the postgres user Debian's package made."""
    if os.geteuid() != 0:
        return []
    shutil.chown(workdir, "postgres", "postgres")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def cluster_for(address: str, clients: str) -> Iterator[str]:
    """A private cluster listening on address (and loopback), open to the clients network;
    its URL by address (no database)."""
    with _private_cluster(f"127.0.0.1,{address}", clients) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
