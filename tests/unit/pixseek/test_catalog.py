"""The catalog: roots, earlier releases' schema, queued files given back, job counts."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from pixseek.store.catalog import SCHEMA, Catalog, FileState


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


# The files table as the release before queued_from existed made it.
PREVIOUS_FILES_TABLE = """
CREATE TABLE files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT,
    status TEXT NOT NULL CHECK (status IN ('indexed', 'failed', 'pending', 'excluded')),
    model_id TEXT, error TEXT, updated_at TEXT NOT NULL, job_id TEXT, claimed_by TEXT,
    claimed_at REAL
);
"""


def test_a_cancelled_queue_gives_each_file_back_its_state_from_before(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.executescript(PREVIOUS_FILES_TABLE)  # made by the previous release
        db.execute(
            "INSERT INTO files VALUES ('/p/old.jpg', 10, 100, 'aa', 'indexed', 'm1', NULL, "
            "'then', NULL, NULL, NULL)"
        )
    catalog = Catalog(path)
    catalog.mark_failed(FileState("/p/bad.jpg", 5, 50), "bb", "truncated")
    # a rescan queues the indexed file changed on disk, the failed one and a new one
    catalog.enqueue(
        [FileState("/p/old.jpg", 11, 101), FileState("/p/bad.jpg", 5, 50),
         FileState("/p/new.jpg", 7, 70), FileState("/p/held.jpg", 8, 80)],
        "job1",
    )  # fmt: skip
    catalog.enqueue([FileState("/p/bad.jpg", 5, 51)], "job2")  # queued twice: job2 has it now
    held = catalog.claim(1, "worker", "job1")
    assert [c.record.path for c in held] == ["/p/held.jpg"]

    assert catalog.unqueue("job1") == 2  # old.jpg back, new.jpg out; held.jpg stays claimed
    assert catalog.unqueue("job2") == 1
    records = catalog.records_under(["/p"])
    old, bad = records["/p/old.jpg"], records["/p/bad.jpg"]
    assert (old.status, old.size, old.mtime_ns, old.sha256, old.model_id) == (
        "indexed",
        10,
        100,
        "aa",
        "m1",
    )  # so the next scan finds it changed again
    assert (bad.status, bad.mtime_ns, bad.sha256, bad.error) == ("failed", 50, "bb", "truncated")
    assert "/p/new.jpg" not in records and records["/p/held.jpg"].status == "pending"
    assert catalog.pending_count("job1") == 1
    catalog.close()


def test_a_jobs_counts_come_from_its_processed_files(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    files = [FileState(f"/p/{i}.jpg", i, i) for i in range(5)]
    catalog.enqueue(files, "job1")
    catalog.mark_indexed([(files[0], "a"), (files[1], "b"), (files[2], "a")], "m1")
    catalog.mark_failed(files[3], None, "unreadable")
    counts = catalog.job_counts("job1")
    assert (counts.done, counts.failed, counts.failures) == (3, 1, [("/p/3.jpg", "unreadable")])
    assert catalog.pending_count("job1") == 1 and catalog.job_counts("job2").done == 0
    catalog.close()
