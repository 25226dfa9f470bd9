"""Shared fixtures: isolated settings in a temporary data directory, the tiny real model, and
the store's database on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from embed import Embedder, parse_model_spec
from pixseek.settings import Settings, load_settings
from pixseek.store.db import Database
from pixseek.store.schema import open_url
from pixseek.store.transfer import TABLES
from tests import postgres

TINY_MODEL = "pixseek-tiny"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PIXSEEK_ setting of the developer's leaks into a test; no test touches the network."""
    for name in list(os.environ):
        if name.startswith("PIXSEEK_") and not name.startswith("PIXSEEK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_embedder() -> Embedder:
    """The project's tiny OpenCLIP model (random weights, fixed seed), loaded once."""
    embedder = Embedder(parse_model_spec(TINY_MODEL), device="cpu")
    embedder.load()
    return embedder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", model=TINY_MODEL, device="cpu")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL (no database): see tests/postgres.py."""
    yield from postgres.server_url()


@pytest.fixture(scope="session")
def _postgres_store(postgres_server: str) -> Iterator[Database]:
    """One database at the head revision for the whole run; each test empties it."""
    with postgres.database(postgres_server) as url:
        database = open_url(url)
        yield database
        database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The store's database, empty, at the head revision: SQLite in a temporary data
    directory, and a real PostgreSQL. Tests using it are the store's contract suite."""
    yield from empty_database(request, request.param, tmp_path)


def empty_database(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Iterator[Database]:
    """An empty store of this kind ("sqlite" or "postgresql") for one test."""
    if kind == "sqlite":
        opened = sqlite_store(tmp_path / "data")
        yield opened
        opened.close()
        return
    shared: Database = request.getfixturevalue("_postgres_store")
    with shared.write() as connection:
        for table in reversed(TABLES):
            connection.execute(text(f"DELETE FROM {table}"))
    yield shared


def sqlite_store(data_dir: Path) -> Database:
    """The embedded store of a data directory (made, or upgraded, as pixseek would)."""
    return open_url(f"sqlite:///{data_dir / 'catalog.sqlite3'}")
