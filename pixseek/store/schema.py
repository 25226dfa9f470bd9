"""The store's schema version: recognised, upgraded in place, and refused when newer.

Every entry point opens the database through open_database(): a database at the head revision
is used as it is; an older one (or a data directory made before schema versions: a catalog
without Alembic's table, stamped at the baseline once its columns are all there) is backed up,
then upgraded in one transaction; a fresh one gets the whole schema; one from a newer release
is refused with the revision it needs. Processes starting at once upgrade one after the other
(a file lock beside a SQLite database, an advisory lock on PostgreSQL).

`pixseek db status` and `pixseek db upgrade` (cli/db.py) show and do the same by hand.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from pixseek.errors import StoreError
from pixseek.settings import Settings
from pixseek.store.db import Database, copy_sqlite, database_url

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
_ADVISORY_LOCK = 0x70697873  # "pixs": one upgrade at a time on a PostgreSQL server
# Columns the catalog gained before schema versions; a catalog from then gets them first.
_LEGACY_COLUMNS = {
    "queued_from": "TEXT",
    "queued_from_size": "INTEGER",
    "queued_from_mtime_ns": "INTEGER",
}


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no schema at all, or one made before schema versions
    head: str
    legacy: bool  # a catalog made before schema versions
    pending: list[str]  # revisions an upgrade would apply, oldest first

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.up_to_date:
            return f"schema {self.current} (current)"
        start = "made before schema versions" if self.legacy else f"schema {self.current}"
        if self.current is None and not self.legacy:
            start = "empty"
        return f"{start}; an upgrade applies {', '.join(self.pending)} to reach {self.head}"


def open_database(settings: Settings) -> Database:
    """The store's database for these settings, at the head revision (upgraded first when
    older)."""
    backups = settings.backups_dir if not settings.database_url else None
    return open_url(database_url(settings), backups)


def open_url(url: str, backups: Path | None = None) -> Database:
    """The database at url, at the head revision. A SQLite file's folder is its data
    directory (a pre-0002 library's users.sqlite3 and jobs.sqlite3 join from there); before an
    upgrade its database is copied into backups (default: the data directory's backups/)."""
    database = Database(url)
    try:
        upgrade(database, backups)
    except BaseException:
        database.close()
        raise
    return database


def open_as_it_is(settings: Settings) -> Database:
    """The store's database to read while another process holds the data directory: never
    upgraded here (that process uses it); StoreError when it is not at this release's head."""
    database = Database(database_url(settings))
    try:
        found = status(database)
    except BaseException:
        database.close()
        raise
    if not found.up_to_date:
        database.close()
        raise StoreError(
            f"the store {database.name} has {found.describe()}: stop the process using it, "
            "then run this again (it upgrades the store first)"
        )
    return database


def status(database: Database) -> SchemaStatus:
    """Where the database stands; StoreError when a newer release made it."""
    scripts = _scripts()
    head = scripts.get_current_head()
    assert head is not None, "the migrations have a head"
    with database.read() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        legacy = current is None and inspect(connection).has_table("files")
    ordered = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    if current is not None and current not in ordered:
        raise StoreError(
            f"the database {database.name} has schema {current}, made by a newer pixseek "
            f"than this one (which knows up to {head}): run that release or a newer one"
        )
    start = BASELINE if legacy else current
    pending = ordered[ordered.index(start) + 1 :] if start else ordered
    return SchemaStatus(current, head, legacy, pending)


def upgrade(database: Database, backups: Path | None = None) -> SchemaStatus:
    """Bring the database to the head revision, backing it up first when it holds a library;
    the status it had."""
    data_dir = _data_dir(database)
    with _one_upgrade_at_a_time(database, data_dir):
        found = status(database)
        if found.up_to_date:
            return found
        if data_dir is not None and (found.current is not None or found.legacy):
            _back_up_first(data_dir, backups or data_dir / "backups", found)
        if not database.is_sqlite and found.current is not None:
            log.warning("upgrading %s in one transaction; back it up with pg_dump", database.name)
        with database.write() as connection:
            if found.legacy:
                _bring_to_baseline(connection)
            config = _config(connection, data_dir)
            if found.legacy:
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
        said = log.warning if found.current is not None or found.legacy else log.info
        said("upgraded the store's schema: %s", found.describe())
        return found


def _data_dir(database: Database) -> Path | None:
    """The folder of a SQLite database file (None for a server or an in-memory database)."""
    path = database.engine.url.database if database.is_sqlite else None
    return Path(path).parent if path and path != ":memory:" else None


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(None, None))


def _config(connection: Connection | None, data_dir: Path | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["data_dir"] = data_dir  # where pre-0002 users.sqlite3, jobs.sqlite3 lie
    return config


def _bring_to_baseline(connection: Connection) -> None:
    """The columns a pre-version catalog may lack, added as the release before did."""
    present = {column["name"] for column in inspect(connection).get_columns("files")}
    for name, kind in _LEGACY_COLUMNS.items():
        if name not in present:
            connection.exec_driver_sql(f"ALTER TABLE files ADD COLUMN {name} {kind}")
    connection.exec_driver_sql("CREATE INDEX IF NOT EXISTS files_job ON files (job_id, status)")


def _back_up_first(data_dir: Path, backups: Path, found: SchemaStatus) -> None:
    """Copies of a SQLite library's database files in backups/before-schema-<head>-<time>/.
    (On PostgreSQL the upgrade runs in one transaction: nothing changes if it fails; backing
    the server up is its operator's, with pg_dump.)"""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = backups / f"before-schema-{found.head}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.sqlite3", "users.sqlite3", "jobs.sqlite3"):
        if (data_dir / name).is_file():
            copy_sqlite(data_dir / name, folder / name)
    log.warning("the store's schema is upgraded; a copy from before is in %s", folder)


@contextmanager
def _one_upgrade_at_a_time(database: Database, data_dir: Path | None) -> Iterator[None]:
    if database.is_sqlite:
        if data_dir is None:  # in memory: one connection, nobody else
            yield
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        with (data_dir / "schema.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    with database.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK})
            connection.commit()
