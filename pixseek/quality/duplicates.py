"""Near-duplicate groups: resized, recompressed, lightly edited or cropped copies, and bursts.

Two signals per photo: its perceptual hashes (pHash and dHash in the payload, made from the
decode ingest does anyway; 64 bits each) and its model vector (CLIP cosine). Candidate pairs
are each photo's nearest neighbours by vector (the index's own search) and photos sharing a
16-bit quarter of their pHash (every pair within 3 bits shares one); a candidate pair is a
duplicate when the thresholds say so, unless someone marked the two "not duplicates"
(marks.py). Groups are the connected pairs (union-find). Thresholds were chosen on copy sets
(`pixseek eval --copies`; docs/quality.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixseek.index.base import SearchFilters, StoredPoint, VectorIndex
from pixseek.photos.identity import perceptual_hashes
from pixseek.photos.thumbnails import thumbnail_path
from pixseek.quality.marks import DistinctMarks

log = logging.getLogger(__name__)

NEIGHBOURS = 10  # nearest photos by vector looked at per photo
CALIBRATION_PAIRS = 20_000  # random pairs whose cosines calibrate the cosine threshold
# Search results are folded by the last grouping while a new one is worked out in the background;
# only a library of up to this many photos, never grouped yet, makes its first search wait.
SYNC_POINTS = 2_000
HashFn = Callable[[StoredPoint], "dict[str, str] | None"]


@dataclass(frozen=True)
class Thresholds:
    """When a pair counts as duplicates: both hashes close enough, or vectors close enough with
    a pHash not too far. The vector alone never decides, and how close is close depends on the
    model (a random model puts every pair above 0.99): the cosine threshold is at least the
    library's own 99.9th percentile of cosines between random pairs (calibrated)."""

    # chosen on a 500-photo copy set (docs/quality.md): pair precision 0.93 there, among
    # generated pictures far more alike than photos, with every downscaled and recompressed
    # copy and 95 % of the colour-shifted ones found; 8/10/18 found 1 % more and 4x the false
    # pairs
    phash: int = 6  # pHash Hamming distance at most this...
    dhash: int = 8  # ... and dHash at most this: duplicates
    cosine: float = 0.95  # cosine at least this (or the calibrated one, when higher)...
    phash_with_cosine: int = 14  # ... with pHash at most this: duplicates

    def duplicates(self, phash: int | None, dhash: int | None, cosine: float | None) -> bool:
        if phash is not None and dhash is not None and phash <= self.phash and dhash <= self.dhash:
            return True
        return (
            cosine is not None
            and cosine >= self.cosine
            and phash is not None
            and phash <= self.phash_with_cosine
        )

    def calibrated(self, vectors: np.ndarray, seed: int = 0) -> Thresholds:
        """These thresholds with the cosine raised to the 99.9th percentile of the cosines of
        random pairs among vectors (rows, unit length), when that is higher."""
        if len(vectors) < 3:
            return self
        rng = np.random.default_rng(seed)
        left, right = rng.integers(0, len(vectors), (2, CALIBRATION_PAIRS))
        apart = left != right
        cosines = np.einsum("ij,ij->i", vectors[left[apart]], vectors[right[apart]])
        return replace(self, cosine=max(self.cosine, float(np.quantile(cosines, 0.999))))


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Signals:
    """What grouping knows of one photo."""

    id: str
    vector: np.ndarray | None
    phash: int | None
    dhash: int | None
    payload: dict[str, Any]


@dataclass
class Group:
    """Photos found to be copies of one another; keep: the one to keep (the largest, then the
    earliest taken, then the largest file)."""

    ids: list[str]
    keep: str
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return min(self.ids)


def hamming(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else (a ^ b).bit_count()


def parse_hash(value: Any) -> int | None:
    try:
        return int(str(value), 16) if value else None
    except ValueError:
        return None


def find_groups(
    signals: Sequence[Signals],
    neighbours: Mapping[str, Iterable[tuple[str, float]]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    distinct: Callable[[str, str], bool] = lambda a, b: False,
) -> list[Group]:
    """Groups of two or more from the candidate pairs (vector neighbours given, pHash quarters
    found here), largest group first."""
    by_id = {s.id: s for s in signals}
    parent = {s.id: s.id for s in signals}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving keeps the trees flat
            node = parent[node]
        return node

    for a, b, cosine in _candidates(signals, neighbours):
        if a == b or a not in by_id or b not in by_id or root(a) == root(b):
            continue
        first, second = by_id[a], by_id[b]
        if cosine is None and first.vector is not None and second.vector is not None:
            cosine = float(np.dot(first.vector, second.vector))
        phash, dhash = hamming(first.phash, second.phash), hamming(first.dhash, second.dhash)
        if thresholds.duplicates(phash, dhash, cosine) and not distinct(a, b):
            parent[root(a)] = root(b)
    members: dict[str, list[str]] = defaultdict(list)
    for node in parent:
        members[root(node)].append(node)
    groups = [_group(sorted(ids), by_id) for ids in members.values() if len(ids) > 1]
    return sorted(groups, key=lambda g: (-len(g.ids), g.id))


def _candidates(
    signals: Sequence[Signals], neighbours: Mapping[str, Iterable[tuple[str, float]]]
) -> Iterable[tuple[str, str, float | None]]:
    for a, found in neighbours.items():
        for b, cosine in found:
            yield a, b, cosine
    quarters: dict[tuple[int, int], list[str]] = defaultdict(list)
    for signal in signals:
        if signal.phash is not None:
            for quarter in range(4):
                quarters[(quarter, (signal.phash >> (16 * quarter)) & 0xFFFF)].append(signal.id)
    for ids in quarters.values():
        if len(ids) <= 64:  # a quarter shared by many (flat pictures) says little
            for a, b in combinations(ids, 2):
                yield a, b, None


def _group(ids: list[str], by_id: Mapping[str, Signals]) -> Group:
    payloads = {i: by_id[i].payload for i in ids}
    keep = min(ids, key=lambda i: _keep_order(payloads[i], i))
    return Group(ids, keep, payloads)


def _keep_order(payload: Mapping[str, Any], point_id: str) -> tuple[Any, ...]:
    pixels = int(payload.get("width") or 0) * int(payload.get("height") or 0)
    taken = str(payload.get("taken_at") or "9999")
    return (-pixels, taken, -int(payload.get("bytes") or 0), point_id)


class Duplicates:
    """The library's duplicate groups, worked out from its index when first asked and again
    once the index or the marks changed; the last grouping serves meanwhile when the library
    is too large to wait for. One per process (the web app keeps one)."""

    def __init__(
        self,
        index: VectorIndex,
        marks: DistinctMarks,
        thumbs_dir: Path | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        self.index = index
        self.thumbs_dir = thumbs_dir
        self.marks = marks
        self.thresholds = thresholds
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._groups: list[Group] = []
        self._group_of: dict[str, str] = {}
        self.seconds = 0.0  # how long the last grouping took
        self.calibrated = thresholds  # the thresholds of the last grouping

    def groups(self, model: str) -> list[Group]:
        """The current groups (worked out again first when stale and small enough)."""
        self._refresh(model, wait=True)
        return list(self._groups)

    def group_of(self, model: str) -> Callable[[str], str | None]:
        """A photo's group id, for folding search results; never makes a caller wait for a
        regrouping (the last grouping answers until the new one is done), except the first
        of a small library."""
        self._refresh(model, wait=False)
        found = self._group_of
        return found.get

    def mark_distinct(self, ids: Sequence[str]) -> int:
        """Every pair of these photos is not duplicates, now and later; answers the pairs."""
        return self.marks.mark(ids)

    def _refresh(self, model: str, wait: bool) -> None:
        stamp = (model, self.index.count(), self.marks.version())
        if stamp == self._stamp:
            return
        if wait or (self._stamp is None and stamp[1] <= SYNC_POINTS):
            with self._refreshing:
                if stamp != self._stamp:
                    self._regroup(model, stamp)
            return
        if self._refreshing.acquire(blocking=False):
            thread = threading.Thread(
                target=self._regroup_in_background, args=(model, stamp), daemon=True
            )
            thread.start()

    def _regroup_in_background(self, model: str, stamp: tuple[Any, ...]) -> None:
        try:
            self._regroup(model, stamp)
        except Exception:  # a thread's failure must reach the log, not vanish
            log.exception("grouping duplicates failed")
        finally:
            self._refreshing.release()

    def _regroup(self, model: str, stamp: tuple[Any, ...]) -> None:
        started = time.monotonic()
        signals = library_signals(self.index, model, self.thumbs_dir)
        thresholds = self.thresholds.calibrated(_vectors(signals))
        neighbours = vector_neighbours(self.index, model, signals, thresholds.cosine)
        groups = find_groups(signals, neighbours, thresholds, self.marks.distinct)
        self.calibrated = thresholds
        with self._lock:
            self._groups = groups
            self._group_of = {i: g.id for g in groups for i in g.ids}
            self._stamp = stamp
        self.seconds = time.monotonic() - started
        log.info("%d duplicate groups among %d photos in %.1f s", len(groups), len(signals),
                 self.seconds)  # fmt: skip


def library_signals(
    index: VectorIndex, model: str, thumbs_dir: Path | None = None
) -> list[Signals]:
    """Every photo's vector and hashes, read from the index in pages. A photo indexed before
    hashes were (its payload lacks them) is hashed from its grid thumbnail, when there is one."""
    signals: list[Signals] = []
    start: str | None = None
    while True:
        points, start = index.scroll(model, 1000, start)
        signals += [_signals(p, thumbs_dir) for p in points]
        if start is None:
            return signals


def _signals(point: StoredPoint, thumbs_dir: Path | None) -> Signals:
    payload = point.payload
    hashes = payload if payload.get("phash") else _thumbnail_hashes(payload, thumbs_dir)
    return Signals(
        point.id, point.vector, parse_hash(hashes.get("phash")), parse_hash(hashes.get("dhash")),
        payload,
    )  # fmt: skip


def _thumbnail_hashes(payload: dict[str, Any], thumbs_dir: Path | None) -> dict[str, Any]:
    if thumbs_dir is None:
        return {}
    try:
        path = thumbnail_path(thumbs_dir, str(payload.get("sha256", "")), "grid")
        with Image.open(path) as image:
            return perceptual_hashes(image.convert("RGB"))
    except (ValueError, OSError):
        return {}


def _vectors(signals: Sequence[Signals]) -> np.ndarray:
    found = [s.vector for s in signals if s.vector is not None]
    return np.stack(found) if found else np.zeros((0, 1), np.float32)


def vector_neighbours(
    index: VectorIndex, model: str, signals: Sequence[Signals], floor: float
) -> dict[str, list[tuple[str, float]]]:
    """Each photo's NEIGHBOURS nearest others by vector (cosine at least floor)."""
    found: dict[str, list[tuple[str, float]]] = {}
    for signal in signals:
        if signal.vector is None:
            continue
        filters = SearchFilters(exclude_ids=(signal.id,))
        hits = index.search(model, signal.vector, filters, NEIGHBOURS, score_threshold=floor)
        found[signal.id] = [(h.id, h.score) for h in hits]
    return found
