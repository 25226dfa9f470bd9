"""Building the HNSW aside: searches keep answering, writes made meanwhile survive the swap, and
the builder child neither outlives its parent nor races a restart."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from pixseek.index.base import IndexPoint, SearchFilters
from pixseek.index.edge.build import builder_lock
from pixseek.index.edge.shard import EdgeIndex
from tests.integration.services import wait_for

DIM = 64
VECTOR = "v"


def points(start: int, count: int, tag: str = "first") -> list[IndexPoint]:
    rng = np.random.default_rng(start)
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    return [
        IndexPoint(
            str(uuid.UUID(int=start + i)), {VECTOR: vectors[i]}, {"tag": tag, "n": start + i}
        )
        for i in range(count)
    ]


def filled(path: Path, count: int) -> EdgeIndex:
    index = EdgeIndex(path, build_aside=True, indexing_threshold_kb=1000)
    index.ensure_vector(VECTOR, DIM)
    for start in range(0, count, 2000):
        index.upsert(points(start, min(2000, count - start)))
    return index


def small_vectors(ids: range, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {str(uuid.UUID(int=i)): rng.normal(size=8).astype(np.float32) for i in ids}


def test_searches_answer_and_writes_survive_while_the_hnsw_builds_aside(tmp_path: Path) -> None:
    index = filled(tmp_path / "index", 30_000)
    index.ensure_vector("old-model", 8)
    index.update_vectors("old-model", small_vectors(range(5), 1))
    build = threading.Thread(target=index.optimize)
    build.start()
    answered = 0
    query = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    while build.is_alive() and answered < 50:
        assert len(index.search(VECTOR, query, SearchFilters(), limit=5)) == 5
        answered += 1
    # written while the child process builds: must be in the swapped-in shard
    index.upsert(points(100_000, 10, tag="during"))
    index.set_payload(str(uuid.UUID(int=7)), {"tag": "changed"})
    index.delete([str(uuid.UUID(int=8))])
    # a model switch meanwhile: a vector space added and filled, another one dropped
    index.ensure_vector("new-model", 8)
    index.update_vectors("new-model", small_vectors(range(20, 25), 2))
    index.drop_vector("old-model")
    assert build.is_alive(), "the writes should land during the build"
    build.join()
    assert answered >= 5, "searches should not wait for the HNSW build"

    assert index.count() == 30_000 + 10 - 1
    assert index.retrieve([str(uuid.UUID(int=7))])[0].payload["tag"] == "changed"
    assert index.retrieve([str(uuid.UUID(int=8))]) == []
    assert len(index.retrieve([str(uuid.UUID(int=100_000 + i)) for i in range(10)])) == 10
    assert index._require().info().indexed_vectors_count >= 30_000 - 1
    assert index.vector_names() == {VECTOR: DIM, "new-model": 8}
    switched = index.retrieve([str(uuid.UUID(int=20))], vector="new-model")
    written = small_vectors(range(20, 21), 2)[switched[0].id]
    np.testing.assert_allclose(switched[0].vector, written / np.linalg.norm(written), atol=1e-5)
    assert not (tmp_path / "index.old").exists() and not (tmp_path / "index.building").exists()
    index.close()


def test_an_interrupted_swap_restores_the_complete_shard(tmp_path: Path) -> None:
    complete = filled(tmp_path / "index.old", 30)
    complete.close()
    partial = filled(tmp_path / "index", 10)
    partial.close()
    reopened = EdgeIndex(tmp_path / "index")
    assert reopened.count() == 30
    assert not (tmp_path / "index.old").exists()
    reopened.close()


def builder_pid(lock: Path, parent: int) -> int | None:
    """The pid parent's builder child wrote into its lock file, once it holds it."""
    try:
        holder = int(lock.read_text().removeprefix("process "))
    except (FileNotFoundError, ValueError):
        return None
    return holder if alive(holder) and _stat(holder)[1] == str(parent) else None


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    stat = _stat(pid)
    return bool(stat) and stat[0] != "Z"


def _stat(pid: int) -> list[str]:
    """State, parent pid, ... of a process; [] when there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return []


def test_the_builder_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    filled(tmp_path / "index", 30_000).close()
    building = tmp_path / "index.building"
    shutil.copytree(tmp_path / "index", building)
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, pathlib, pixseek.index.edge.build as b; "
         "b.optimize_in_child(pathlib.Path(sys.argv[1]))", str(building)],
    )  # fmt: skip
    try:
        child = wait_for(
            lambda: builder_pid(tmp_path / "index.building.lock", parent.pid), 30, "the builder"
        )
        time.sleep(0.5)  # well into the build (12 s here for 30 k points)
        assert alive(child)
    finally:
        parent.kill()  # as a kill -9 of `pixseek serve`
        parent.wait(10)
    wait_for(lambda: not alive(child), 5, "the builder to die with its parent")
    reopened = EdgeIndex(tmp_path / "index")  # what the restart does: no builder to wait for
    assert reopened.count() == 30_000 and not building.exists()
    reopened.close()


def test_a_restart_waits_for_a_builder_still_running_before_it_removes_its_folder(
    tmp_path: Path,
) -> None:
    filled(tmp_path / "index", 10).close()
    building = tmp_path / "index.building"
    shutil.copytree(tmp_path / "index", building)
    opened: list[EdgeIndex] = []
    with builder_lock(building):  # a builder that outlived its process (no PR_SET_PDEATHSIG)
        opener = threading.Thread(target=lambda: opened.append(EdgeIndex(tmp_path / "index")))
        opener.start()
        opener.join(1.0)
        assert opener.is_alive() and building.exists(), "the open must wait for the builder"
    opener.join(30)
    assert opened and opened[0].count() == 10 and not building.exists()
    opened[0].close()


def test_reads_during_a_swap_wait_for_the_new_shard_and_find_every_point(tmp_path: Path) -> None:
    """A photo page opened while the HNSW was swapped in answered 404: retrieve saw the shard
    empty for a moment. Reads now look under the lock the swap holds."""
    index = filled(tmp_path / "index", 100)
    wanted = str(uuid.UUID(int=3))
    found: dict[str, int] = {}
    reads = {
        "retrieve": lambda: len(index.retrieve([wanted])),
        "scroll": lambda: len(index.scroll(None, 50)[0]),
        "lacking": lambda: len(index.lacking_vector("other", 50)[0]),
        "search": lambda: len(index.search(VECTOR, np.ones(DIM, np.float32), SearchFilters(), 5)),
    }
    index.ensure_vector("other", 8)
    with index._lock:  # as _build_aside does: the live shard taken out while the copy goes in
        live, index._shard = index._shard, None
        readers = [
            threading.Thread(target=lambda n=name, r=read: found.__setitem__(n, r()))
            for name, read in reads.items()
        ]
        for reader in readers:
            reader.start()
        time.sleep(0.3)  # every reader is now waiting on the lock, or has answered wrongly
        index._shard = live
    for reader in readers:
        reader.join(10)
    assert found == {"retrieve": 1, "scroll": 50, "lacking": 50, "search": 5}
    index.close()
