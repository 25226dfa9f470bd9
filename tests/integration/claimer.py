"""A worker of the claim test (test_claims.py), run as its own process: it claims queued files
from the store at DATABASE_URL as WORKER, "processes" each (a short pause), marks it indexed,
and writes a line `path time` to LOG; it renews its lease after each file, and ends once the
queue is empty. Run as `python -m tests.integration.claimer DATABASE_URL WORKER LOG LEASE`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pixseek.store.catalog import Catalog
from pixseek.store.schema import open_url

CLAIM = 5
WORK_SECONDS = 0.02
GIVE_UP_AFTER = 120.0


def main(url: str, worker: str, log: Path, lease: float) -> None:
    database = open_url(url)
    catalog = Catalog(database, lease=lease)
    deadline = time.monotonic() + GIVE_UP_AFTER
    with log.open("a", buffering=1) as out:
        while time.monotonic() < deadline:
            claimed = catalog.claim(CLAIM, worker)
            if not claimed:
                if not database.rows("SELECT count(*) FROM files WHERE status = 'pending'")[0][0]:
                    return
                time.sleep(0.1)  # what is left is held by others, until their leases pass
                continue
            for file in claimed:
                time.sleep(WORK_SECONDS)
                catalog.mark_indexed([(file.record.state, f"sha-{file.record.path}")], "m")
                out.write(f"{file.record.path} {time.time()}\n")
                catalog.renew_claims(worker)
    raise SystemExit(f"{worker}: the queue did not empty in {GIVE_UP_AFTER} s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4]))
