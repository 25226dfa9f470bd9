"""The database every store uses: one SQLAlchemy engine, one way to connect, one way to run a
transaction, and one set of typed errors, for SQLite (the embedded default,
DATA_DIR/catalog.sqlite3, WAL) and PostgreSQL (server mode, PIXSEEK_DATABASE_URL).

Stores write plain SQL that both speak (text() with named parameters); where they differ
(claiming with FOR UPDATE SKIP LOCKED, NULL-safe comparisons) a store asks `is_sqlite`.

SQLite: the driver runs in autocommit mode and transactions are begun here, BEGIN IMMEDIATE for
a writing one, so two writers never deadlock upgrading a read lock; readers (WAL) never wait.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, OperationalError

from pixseek.errors import StoreError, StoreUnavailableError
from pixseek.settings import Settings

log = logging.getLogger(__name__)
SQLITE_BUSY_MS = 30_000  # how long a writer waits for another process's transaction
_WRITE = "pixseek_write"  # execution option: this transaction writes
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]]  # one statement's, or one per row


def database_url(settings: Settings) -> str:
    """PIXSEEK_DATABASE_URL, or the data directory's SQLite file."""
    if settings.database_url:
        return settings.database_url.get_secret_value()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.catalog_path}"


class Database:
    """An engine and its transactions. Safe to share between threads; open one per process
    (open_database) and hand it to every store."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def name(self) -> str:
        """The database as a person would name it, without a password."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads (on SQLite it never waits for a writer)."""
        with _errors(self), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes: committed when the block ends, rolled back on an error."""
        with _errors(self), self.engine.connect() as connection:
            connection = connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The rows one query reads."""
        with self.read() as connection:
            return list(connection.execute(text(sql), params or {}))

    def execute(
        self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()
    ) -> int:
        """Run one writing statement (for each of a sequence of parameters) in its own
        transaction; how many rows it changed."""
        with self.write() as connection:
            return changed(connection.execute(text(sql), params or {}))

    def close(self) -> None:
        self.engine.dispose()


def changed(result: Any) -> int:
    """Rows a statement changed (its rowcount; -1 from some drivers is none)."""
    count = result.rowcount if isinstance(result, CursorResult) else 0
    return max(int(count), 0)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # pooled connections move between threads; each is used by one thread at a time
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit: transactions begin in _sqlite_begin
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"busy_timeout={SQLITE_BUSY_MS}",
        "foreign_keys=ON",
    ):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _sqlite_begin(connection: Connection) -> None:
    writes = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


@contextmanager
def _errors(database: Database) -> Iterator[None]:
    """The driver's errors as the store's: unreachable or locked is StoreUnavailableError,
    anything else the database refused is StoreError, each naming the database."""
    try:
        yield
    except OperationalError as exc:
        if database.is_sqlite and "locked" not in _reason(exc):  # SQLite says more with it
            raise StoreError(f"the database {database.name}: {_reason(exc)}") from exc
        raise StoreUnavailableError(
            f"the database {database.name} does not answer: {_reason(exc)}"
        ) from exc
    except DBAPIError as exc:
        raise StoreError(f"the database {database.name} refused a request: {_reason(exc)}") from exc


def _reason(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database file (others may write meanwhile): SQLite's
    online backup."""
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()
