"""Folder filters by name (`trips` for /photos/trips) against a real Edge index."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from pixseek.index.base import IndexPoint, SearchFilters
from pixseek.index.edge.shard import EdgeIndex
from pixseek.search.filters import build_filters
from pixseek.search.folders import resolve_folder_names

FOLDERS = {
    "beach": ["/", "/photos", "/photos/trips", "/photos/trips/2019", "/photos/trips/2019/Japan"],
    "alps": ["/", "/photos", "/photos/trips", "/photos/trips/2021"],
    "copy": ["/", "/backup", "/backup/Trips"],
    "day": ["/", "/photos", "/photos/daytrips"],
}


def test_a_folder_name_matches_every_folder_ending_with_it_and_nothing_else(
    tmp_path: Path,
) -> None:
    index = EdgeIndex(tmp_path / "index")
    index.ensure_vector("v", 4)
    rng = np.random.default_rng(0)
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_OID, name)) for name in FOLDERS}
    index.upsert([
        IndexPoint(ids[name], {"v": rng.normal(size=4).astype(np.float32)}, {"folders": folders})
        for name, folders in FOLDERS.items()
    ])  # fmt: skip

    def matching(*typed: str) -> set[str]:
        filters = resolve_folder_names(build_filters(folders=typed), index)
        hits = index.search("v", np.ones(4, np.float32), filters, limit=10)
        return {name for name, point in ids.items() if point in {hit.id for hit in hits}}

    assert matching("trips") == {"beach", "alps", "copy"}  # any case; not "daytrips"
    assert matching("2019/japan") == {"beach"}
    assert matching("japan", "2021") == {"beach", "alps"}
    assert matching("/photos/trips") == {"beach", "alps"}  # a path stays a path
    assert matching("nowhere") == set()
    unchanged = SearchFilters(folders=("/photos",))
    assert resolve_folder_names(unchanged, index) is unchanged
    index.close()
