"""A data directory made by the release before schema versions (tests/fixtures/library-0.1),
opened by the real `pixseek` command: upgraded in place, backed up first, and every photo,
user, token, session, job and the model state found again; a newer schema is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pixseek.jobs.stores import SqlJobStore
from pixseek.library import Library
from pixseek.settings import load_settings
from pixseek.store.catalog import Catalog
from pixseek.store.users import User, UserStore
from tests.conftest import sqlite_store
from tests.integration.services import pixseek_env

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "library-0.1.tar.gz"
PHOTOS = {f"photo{n:03d}.jpg" for n in range(6)}


@pytest.fixture
def old_library(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as packed:
        packed.extractall(tmp_path, filter="data")
    return tmp_path


def pixseek(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(data), *args],
        env=pixseek_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_library_of_the_previous_release_is_upgraded_and_loses_nothing(
    old_library: Path,
) -> None:
    data = old_library / "data"
    before = pixseek(data, "db", "status")
    assert before.returncode == 0, before.stderr
    assert "made before schema versions" in before.stdout and "0002, 0003, 0004" in before.stdout

    stats = pixseek(data, "stats", "--json")  # any command upgrades what it opens
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["points"] == len(PHOTOS)
    assert "current" in pixseek(data, "db", "status").stdout

    [backup] = (data / "backups").glob("before-schema-0004-*")
    assert sorted(p.name for p in backup.iterdir()) == [
        "catalog.sqlite3", "jobs.sqlite3", "users.sqlite3",
    ]  # fmt: skip
    assert (data / "users.sqlite3.merged").exists() and not (data / "users.sqlite3").exists()

    database = sqlite_store(data)
    try:
        records = Catalog(database).records_under(["/tmp/fixlib/photos"])
        indexed = {Path(p).name for p, r in records.items() if r.status == "indexed"}
        assert indexed == PHOTOS
        assert records["/tmp/fixlib/photos/broken.jpg"].status == "failed"

        users = UserStore(database)
        assert users.authenticate("admin", "the admin password") == User("admin", "admin")
        assert users.authenticate("vera", "vera's password") == User("vera", "viewer")
        token = (old_library / "token.txt").read_text()
        assert users.user_for_token(token) == User("admin", "admin")
        session = (old_library / "session.txt").read_text()
        assert users.user_for_session(session) == User("vera", "viewer")

        jobs = {job.kind: job for job in SqlJobStore(database).list()}
        assert (jobs["index"].state, jobs["index"].done, jobs["index"].failed) == ("done", 6, 1)
        assert SqlJobStore(database).get(jobs["index"].id).failures  # type: ignore[union-attr]
        assert jobs["reindex"].state == "cancelled"
    finally:
        database.close()
    settings = load_settings(data_dir=data, model="pixseek-tiny", device="cpu")
    with Library(settings) as library:
        assert library.model_state().active == "pixseek-tiny"
        assert library.index.count() == len(PHOTOS)


def test_a_schema_newer_than_this_release_is_refused_with_what_to_run(
    old_library: Path,
) -> None:
    data = old_library / "data"
    assert pixseek(data, "db", "upgrade").returncode == 0
    database = sqlite_store(data)
    database.execute("UPDATE alembic_version SET version_num = '0099'")
    database.close()
    shutil.copy2(data / "catalog.sqlite3", old_library / "newer.sqlite3")

    refused = pixseek(data, "stats")
    assert refused.returncode == 1
    assert "schema 0099, made by a newer pixseek" in refused.stderr
    assert (data / "catalog.sqlite3").read_bytes() == (old_library / "newer.sqlite3").read_bytes()
