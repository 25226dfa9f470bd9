"""The catalog's library roots."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from pixseek.catalog import SCHEMA, Catalog


def test_roots_are_kept_once_sorted_and_across_reopening(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    assert catalog.roots() == []
    catalog.add_roots(["/photos/b", "/photos/a"])
    catalog.add_roots(["/photos/a", "/photos/c"])
    catalog.add_roots([])
    assert catalog.roots() == ["/photos/a", "/photos/b", "/photos/c"]
    catalog.close()
    again = Catalog(tmp_path / "catalog.sqlite3")
    assert again.roots() == ["/photos/a", "/photos/b", "/photos/c"]
    again.close()


def test_adding_a_known_root_keeps_its_first_date(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    catalog = Catalog(path)
    catalog.add_roots(["/photos"])
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE roots SET added_at = '2020-01-01T00:00:00+00:00'")
    catalog.add_roots(["/photos"])
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute("SELECT added_at FROM roots").fetchall() == [
            ("2020-01-01T00:00:00+00:00",)
        ]
    catalog.close()


def test_a_catalog_made_before_roots_existed_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    old_schema = SCHEMA.split("CREATE TABLE IF NOT EXISTS roots")[0]
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(old_schema)
        db.execute(
            "INSERT INTO files (path, size, mtime_ns, status, updated_at) "
            "VALUES ('/photos/a.jpg', 1, 1, 'failed', 'now')"
        )
    catalog = Catalog(path)
    catalog.add_roots(["/photos"])
    assert catalog.roots() == ["/photos"]
    assert catalog.status_counts() == {"failed": 1}
    catalog.close()
