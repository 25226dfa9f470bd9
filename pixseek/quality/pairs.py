"""Duplicate detection measured on a copy set: pair precision and recall per transform, per
signal and combined, and the thresholds the copy set would choose.

Every pair of the set's pictures is judged: a copy and its original (counted per transform),
two copies of one original (true, not counted per transform), and pictures of different
originals (false pairs among distinct photos).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from pixseek.quality.duplicates import Thresholds, parse_hash
from pixseek.quality.evalset import EvalSet

TARGET_PRECISION = 0.99  # a threshold chosen on a copy set keeps precision at least this


def measure_pairs(
    evalset: EvalSet,
    vectors: Mapping[str, np.ndarray],
    hashes: Mapping[str, Mapping[str, str]],
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Pair figures at these thresholds (the cosine calibrated on the set's vectors, as the
    library's grouping does), for each signal alone and combined. Recall counts (copy,
    original) pairs; precision every pair flagged (two copies of one photo are right too)."""
    table = _PairTable(evalset, vectors, hashes)
    if len(table.keys) < 2:
        return {}
    thresholds = thresholds.calibrated(np.stack([vectors[k] for k in table.keys]))
    combined = (table.phash <= thresholds.phash) & (table.dhash <= thresholds.dhash)
    combined |= (table.cosine >= thresholds.cosine) & (table.phash <= thresholds.phash_with_cosine)
    signals = {
        "combined": combined,
        "phash": table.phash <= thresholds.phash,
        "dhash": table.dhash <= thresholds.dhash,
        "cosine": table.cosine >= thresholds.cosine,
    }
    return {
        "thresholds": asdict(thresholds),
        "pairs": {"true": int(table.same.sum()), "distinct": int((~table.same).sum())},
        "signals": {name: table.figures(flagged) for name, flagged in signals.items()},
        "suggested": table.suggest(),
    }


class _PairTable:
    """Every unordered pair of the set's pictures: its distances and whether it is true."""

    def __init__(
        self,
        evalset: EvalSet,
        vectors: Mapping[str, np.ndarray],
        hashes: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.keys = [k for k in vectors if k in hashes]
        family, transform = _families(evalset)
        position = {k: i for i, k in enumerate(self.keys)}
        upper = np.triu_indices(len(self.keys), k=1)
        self.left, self.right = upper
        stacked = np.stack([vectors[k] for k in self.keys]) if self.keys else np.zeros((0, 1))
        self.cosine = (stacked @ stacked.T)[upper]
        self.phash = _distances([hashes[k].get("phash") for k in self.keys])[upper]
        self.dhash = _distances([hashes[k].get("dhash") for k in self.keys])[upper]
        families = np.array([family.get(k, f"alone:{k}") for k in self.keys])
        self.same = families[self.left] == families[self.right]
        # the transform of a (copy, original) pair; "" for every other pair
        self.transform = np.full(len(self.left), "", dtype=object)
        for key, name in transform.items():
            original = family.get(key)
            if key in position and original in position:
                i, j = sorted((position[key], position[original]))
                self.transform[_pair_index(i, j, len(self.keys))] = name

    def figures(self, flagged: np.ndarray) -> dict[str, Any]:
        found = int(flagged.sum())
        right = int((flagged & self.same).sum())
        per_transform = {
            str(name): round(float(flagged[self.transform == name].mean()), 4)
            for name in sorted(set(self.transform) - {""})
        }
        copies = self.transform != ""
        return {
            "precision": round(right / found, 4) if found else 1.0,
            "recall": round(float(flagged[copies].mean()), 4) if copies.any() else 0.0,
            "false_pairs": found - right,
            "recall_by_transform": per_transform,
        }

    def suggest(self) -> dict[str, Any]:
        """Per signal, the threshold catching the most true pairs at TARGET_PRECISION."""
        return {
            "phash": _best(self.phash, self.same, smaller_is_closer=True),
            "dhash": _best(self.dhash, self.same, smaller_is_closer=True),
            "cosine": _best(self.cosine, self.same, smaller_is_closer=False),
        }


def _families(evalset: EvalSet) -> tuple[dict[str, str], dict[str, str]]:
    """Each picture's original (an original is its own), and each copy's transform."""
    family: dict[str, str] = {}
    transform: dict[str, str] = {}
    for query in evalset.queries:
        if query.group == "original":
            family[query.id] = query.id
        elif query.relevant:
            family[query.id] = next(iter(query.relevant))
            transform[query.id] = query.group
    return family, transform


def _distances(values: list[str | None]) -> np.ndarray:
    """Hamming distances between 64-bit hashes (65 where one is missing: never close)."""
    parsed = [parse_hash(v) for v in values]
    codes = np.array([p or 0 for p in parsed], dtype=np.uint64)
    distances = np.bitwise_count(codes[:, None] ^ codes[None, :]).astype(np.int64)
    missing = np.array([p is None for p in parsed])
    distances[missing, :] = 65
    distances[:, missing] = 65
    return distances


def _pair_index(i: int, j: int, n: int) -> int:
    """Where pair (i, j), i < j, lies in numpy's upper-triangle order."""
    return i * n - i * (i + 1) // 2 + (j - i - 1)


def _best(values: np.ndarray, same: np.ndarray, smaller_is_closer: bool) -> dict[str, Any]:
    order = np.argsort(values if smaller_is_closer else -values, kind="stable")
    hits = np.cumsum(same[order])
    precision = hits / np.arange(1, len(order) + 1)
    good = np.nonzero(precision >= TARGET_PRECISION)[0]
    if not len(good) or not same.any():
        return {"threshold": None, "recall": 0.0}
    last = int(good[-1])
    return {
        "threshold": float(values[order][last]),
        "recall": round(float(hits[last] / same.sum()), 4),
        "precision": round(float(precision[last]), 4),
    }
