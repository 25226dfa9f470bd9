"""Every row of the store moved whole: from one database to another (`pixseek
migrate-catalog`: an embedded library's SQLite into PostgreSQL; a restore into another kind of
database), or to and from JSON Lines files (a backup of a PostgreSQL store).

Both ends are at the head revision (open_url upgrades them), so their tables match. Tables go
parents first (a token needs its user); a load replaces everything in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from more_itertools import chunked
from sqlalchemy import Connection, MetaData, Table, delete, insert, select

from pixseek.store.db import Database

# Parents before children: a row's foreign keys point to rows copied before it.
TABLES = (
    "users", "tokens", "sessions", "roots", "model_state", "files", "jobs", "job_failures",
    "distinct_pairs",
)  # fmt: skip
BATCH = 2000  # rows per insert


def copy_tables(source: Database, target: Database) -> dict[str, int]:
    """Replace every row of target's tables by source's; rows copied per table."""
    with source.read() as reading, target.write() as writing:
        tables = _tables(writing)
        _empty(writing, tables)
        return {
            name: _insert(writing, tables[name], _rows(reading, _tables(reading)[name]))
            for name in TABLES
        }


def dump_tables(source: Database, folder: Path) -> dict[str, int]:
    """Each table as folder/<table>.jsonl, a JSON object per row; rows written per table."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with source.read() as connection:
        tables = _tables(connection)
        for name in TABLES:
            with (folder / f"{name}.jsonl").open("w") as out:
                counts[name] = 0
                for row in _rows(connection, tables[name]):
                    out.write(json.dumps(row) + "\n")
                    counts[name] += 1
    return counts


def load_tables(target: Database, folder: Path) -> dict[str, int]:
    """Replace every row of target's tables by those dump_tables wrote in folder."""
    with target.write() as connection:
        tables = _tables(connection)
        _empty(connection, tables)
        return {name: _insert(connection, tables[name], _read(folder / f"{name}.jsonl"))
                for name in TABLES}  # fmt: skip


def _tables(connection: Connection) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(connection, only=TABLES)
    return {name: metadata.tables[name] for name in TABLES}


def _empty(connection: Connection, tables: dict[str, Table]) -> None:
    for name in reversed(TABLES):  # children first
        connection.execute(delete(tables[name]))


def _rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    for row in connection.execute(select(table)).mappings():
        yield dict(row)


def _read(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open() as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _insert(connection: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    for batch in chunked(rows, BATCH):
        connection.execute(insert(table), batch)
        count += len(batch)
    return count
