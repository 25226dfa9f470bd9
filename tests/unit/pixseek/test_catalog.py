"""The catalog on SQLite and on PostgreSQL: roots, queued files given back, job counts, claims
and their leases."""

from __future__ import annotations

import time

from sqlalchemy import text

from pixseek.store.catalog import Catalog, FileState
from pixseek.store.db import Database


def test_roots_are_kept_once_sorted(database: Database) -> None:
    catalog = Catalog(database)
    assert catalog.roots() == []
    catalog.add_roots(["/photos/b", "/photos/a"])
    catalog.add_roots(["/photos/a", "/photos/c"])
    catalog.add_roots([])
    assert catalog.roots() == ["/photos/a", "/photos/b", "/photos/c"]
    assert Catalog(database).roots() == ["/photos/a", "/photos/b", "/photos/c"]


def test_adding_a_known_root_keeps_its_first_date(database: Database) -> None:
    catalog = Catalog(database)
    catalog.add_roots(["/photos"])
    database.execute("UPDATE roots SET added_at = '2020-01-01T00:00:00+00:00'")
    catalog.add_roots(["/photos"])
    assert database.rows("SELECT added_at FROM roots") == [("2020-01-01T00:00:00+00:00",)]


def test_a_cancelled_queue_gives_each_file_back_its_state_from_before(database: Database) -> None:
    catalog = Catalog(database)
    catalog.mark_indexed([(FileState("/p/old.jpg", 10, 100), "aa")], "m1")
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
    # its size and mtime from before, so the next scan finds it changed again
    assert (old.status, old.size, old.mtime_ns, old.sha256, old.model_id) == (
        "indexed", 10, 100, "aa", "m1",
    )  # fmt: skip
    assert (bad.status, bad.mtime_ns, bad.sha256, bad.error) == ("failed", 50, "bb", "truncated")
    assert "/p/new.jpg" not in records and records["/p/held.jpg"].status == "pending"
    assert catalog.pending_count("job1") == 1


def test_a_jobs_counts_come_from_its_processed_files(database: Database) -> None:
    catalog = Catalog(database)
    files = [FileState(f"/p/{i}.jpg", i, i) for i in range(5)]
    catalog.enqueue(files, "job1")
    catalog.mark_indexed([(files[0], "a"), (files[1], "b"), (files[2], "a")], "m1")
    catalog.mark_failed(files[3], None, "unreadable")
    counts = catalog.job_counts("job1")
    assert (counts.done, counts.failed, counts.failures) == (3, 1, [("/p/3.jpg", "unreadable")])
    assert catalog.pending_count("job1") == 1 and catalog.job_counts("job2").done == 0


def test_a_mtime_in_nanoseconds_and_a_large_size_keep_every_digit(database: Database) -> None:
    catalog = Catalog(database)
    big = FileState("/p/big.tif", 5 * 2**32, 1_796_157_555_286_076_123)
    catalog.mark_indexed([(big, "cc")], "m1")
    assert catalog.records_under(["/p"])["/p/big.tif"].state == big


def test_a_claim_is_one_workers_until_its_lease_passes(database: Database) -> None:
    catalog = Catalog(database, lease=0.5)
    catalog.enqueue([FileState(f"/p/{i}.jpg", i, i) for i in range(4)], "job1")
    first = catalog.claim(3, "w1", "job1")
    second = catalog.claim(3, "w2", "job1")
    assert [c.record.path for c in first] == ["/p/0.jpg", "/p/1.jpg", "/p/2.jpg"]
    assert [c.record.path for c in second] == ["/p/3.jpg"]
    assert catalog.claimed_count("job1") == 4 and catalog.claim(3, "w3") == []
    catalog.renew_claims("w1")  # w1 works on; w2 is lost
    time.sleep(0.3)
    catalog.renew_claims("w1")
    time.sleep(0.3)
    taken_over = catalog.claim(5, "w3")
    assert [c.record.path for c in taken_over] == ["/p/3.jpg"]  # w2's, once its lease passed
    assert catalog.claimed_count("job1") == 4


def test_released_claims_go_back_to_the_queue(database: Database) -> None:
    catalog = Catalog(database, lease=60)
    catalog.enqueue([FileState("/p/a.jpg", 1, 1), FileState("/p/b.jpg", 2, 2)], "job1")
    catalog.claim(1, "w1")
    catalog.claim(1, "w2")
    assert catalog.release_claims("w1") == 1
    assert [c.record.path for c in catalog.claim(5, "w3")] == ["/p/a.jpg"]
    assert catalog.release_claims() == 2 and catalog.claimed_count("job1") == 0


def test_queued_files_move_to_another_job(database: Database) -> None:
    catalog = Catalog(database)
    catalog.enqueue([FileState("/p/a.jpg", 1, 1)], "job1")
    database.execute("UPDATE files SET job_id = NULL")
    assert catalog.move_pending(None, "job2") == 1
    assert catalog.pending_jobs() == {"job2": 1}
    with database.read() as connection:
        row = connection.execute(text("SELECT claimed_by, lease_until FROM files")).one()
    assert tuple(row) == (None, None)
