"""bench/ingest.py indexes exactly the photos its --images asks for, whatever ran before."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from bench.ingest import linked_set


def test_a_smaller_run_after_a_larger_one_links_only_its_own_photos(tmp_path: Path) -> None:
    kept = []
    for i in range(6):
        kept.append(tmp_path / f"IMG_{i:05d}.jpg")
        Image.new("RGB", (8, 8), (i, 0, 0)).save(kept[-1])
    assert len(list(linked_set(tmp_path, kept).iterdir())) == 6  # a run with --images 6
    folder = linked_set(tmp_path, kept[:3])  # then --images 3: it used to index all 6
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in kept[:3]]
    assert all(p.exists() for p in kept), "the kept library itself is untouched"
