""" "Not duplicates" marks that persist: pairs of photos a person said are distinct, never
proposed as duplicates again.

Kept in the store (table distinct_pairs, pixseek/store/migrations/versions/0004), so every web
process and worker sees them and backups hold them. A pair is stored once, its smaller id
first; the version is the row count plus the last change, so a grouping knows when marks
changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from itertools import combinations

from pixseek.index.base import valid_point_ids
from pixseek.store.db import Database

MAX_MARKED = 200  # photos one mark may name: every pair of them is stored


class DistinctMarks:
    """Pairs marked "not duplicates", read into memory; shared by a process's threads."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._pairs = self._load()

    def _load(self) -> set[tuple[str, str]]:
        return {(str(a), str(b)) for a, b in self.database.rows("SELECT a, b FROM distinct_pairs")}

    def mark(self, ids: Sequence[str]) -> int:
        """Mark every pair of these photos distinct; answers how many pairs are newly marked.
        Ids that cannot name a photo are ignored."""
        unique = sorted(set(valid_point_ids(ids)))[:MAX_MARKED]
        rows = [{"a": a, "b": b, "now": time.time()} for a, b in combinations(unique, 2)]
        with self._lock:
            before = len(self._pairs)
            if rows:
                self.database.execute(
                    "INSERT INTO distinct_pairs (a, b, marked_at) VALUES (:a, :b, :now) "
                    "ON CONFLICT (a, b) DO NOTHING",
                    rows,
                )
            self._pairs = self._load()  # another process may have marked meanwhile
            return len(self._pairs) - before

    def distinct(self, a: str, b: str) -> bool:
        return (min(a, b), max(a, b)) in self._pairs

    def version(self) -> tuple[int, float]:
        """Changes whenever a mark is added, by this process or another."""
        with self._lock:
            [(count, last)] = self.database.rows(
                "SELECT count(*), max(marked_at) FROM distinct_pairs"
            )
            if int(count) != len(self._pairs):
                self._pairs = self._load()
            return int(count), float(last or 0.0)
