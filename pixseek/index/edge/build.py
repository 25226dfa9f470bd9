"""Building a Qdrant Edge shard's HNSW aside, so that the serving process never freezes.

The shard is copied (a flush, then a file copy: seconds even at 1 M points), a child process
loads the copy and runs optimize() (minutes, on its own GIL), and the copy is swapped in. Writes
made to the live shard meanwhile are read back by id and applied to the copy after the swap.

A crash mid-swap leaves `index.old` beside `index`; the next open puts the old, complete shard
back, so nothing written is ever lost. Run as `python -m pixseek.index.edge.build PATH PARENT_PID`.

The child dies with the process that started it (PR_SET_PDEATHSIG on Linux; elsewhere it
checks that its parent is still there before it starts and before it writes), and it holds an
flock on `index.building.lock` for its whole life, which the serving process takes too before
it removes or refills `index.building`: a restart after a kill -9 never races a builder still
running on the same files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import qdrant_edge as qe

from pixseek.errors import IndexBackendError
from pixseek.photos.text import TEXT_VECTOR

log = logging.getLogger(__name__)
PointId = int | UUID | str


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
CONFIG_FILE = "edge_config.json"  # a shard's configuration, in its folder


@contextmanager
def building_copy(path: Path) -> Iterator[Path]:
    """A fresh copy of the (flushed) shard files at path to build on, removed afterwards; the
    builder lock is held while it is made, so no builder left by a dead process writes there."""
    copy = _sibling(path, "building")
    with builder_lock(copy):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(path, copy)
    try:
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def optimize_in_child(path: Path) -> None:
    """Run optimize() on the shard at path in another process, which dies with this one."""
    result = subprocess.run(
        [sys.executable, "-m", "pixseek.index.edge.build", str(path), str(os.getpid())],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise IndexBackendError(f"building the search index failed: {result.stderr[-2000:]}")


def recover_interrupted_swap(path: Path) -> None:
    """Put the last complete shard back if a swap was cut short; drop unfinished copies."""
    old = _sibling(path, "old")
    if old.exists():
        log.warning("an index swap was interrupted; restoring the shard from before it")
        shutil.rmtree(path, ignore_errors=True)
        os.replace(old, path)
    building = _sibling(path, "building")
    with builder_lock(building):  # a builder that outlived its process finishes first
        shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(_sibling(path, "restoring"), ignore_errors=True)


@contextmanager
def builder_lock(building: Path) -> Iterator[None]:
    """An exclusive flock on the lock file beside a build folder, holding the holder's pid: the
    builder child holds it for its whole life, the serving process while it removes or refills
    the folder. Waits (saying for whom) while another process holds it."""
    fd = os.open(_lock_path(building), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            log.warning("waiting for the index builder %s, still running on %s", holder, building)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # which lets go of the lock


def _lock_path(building: Path) -> Path:
    return building.with_name(f"{building.name}.lock")


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), and leave now if the
    parent is gone already (it may have died before the request took effect)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    _exit_if_orphaned(parent)


def _exit_if_orphaned(parent: int) -> None:
    if os.getppid() != parent:
        sys.stderr.write("the process that started this index build is gone; stopping\n")
        os._exit(1)


def replace_shard(path: Path, saved: Path) -> None:
    """Put a copy of the shard files at saved in place of the (closed) shard at path. A crash
    before the end leaves the shard as it was (recover_interrupted_swap puts it back)."""
    copy = _sibling(path, "restoring")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(saved, copy)
    old = _sibling(path, "old")
    if path.exists():
        os.replace(path, old)
    os.replace(copy, path)
    shutil.rmtree(old, ignore_errors=True)


def swap_in(path: Path, copy: Path, live: qe.EdgeShard, touched: list[PointId]) -> qe.EdgeShard:
    """Put the built copy in place of the live shard at path (which this closes) and give it
    the writes made to the live shard during the build (their ids: touched) and the vector
    spaces added or dropped meanwhile; returns the new shard, open. The caller holds its
    index's lock, so nothing writes to either meanwhile."""
    records = live.retrieve(touched, True, True) if touched else []
    spaces = vector_spaces(path)
    live.flush()
    live.close()
    old = _sibling(path, "old")
    os.replace(path, old)
    os.replace(copy, path)
    shard = qe.EdgeShard.load(str(path))
    _match_spaces(shard, vector_spaces(path), spaces)
    _reapply(shard, touched, records)
    shard.flush()
    shutil.rmtree(old)  # only now is the new shard complete
    return shard


def vector_spaces(path: Path) -> dict[str, int]:
    """The named vectors of the shard at path and their sizes, from its config file."""
    config_file = path / CONFIG_FILE
    if not config_file.exists():
        return {}
    vectors = json.loads(config_file.read_text()).get("vectors", {})
    return {name: int(params["size"]) for name, params in vectors.items()}


def has_text_space(path: Path) -> bool:
    """Whether the shard at path holds the sparse text vector (shards made before text search
    do not)."""
    config_file = path / CONFIG_FILE
    if not config_file.exists():
        return False
    return TEXT_VECTOR in json.loads(config_file.read_text()).get("sparse_vectors", {})


def _match_spaces(shard: qe.EdgeShard, built: dict[str, int], live: dict[str, int]) -> None:
    """Named vectors added or dropped during the build (a model switch) are added or dropped
    on the copy as well, before the writes are applied again."""
    for name, size in live.items():
        if name not in built:
            shard.update(qe.UpdateOperation.create_dense_vector(name, size, qe.Distance.Cosine))
    for name in built:
        if name not in live:
            shard.update(qe.UpdateOperation.delete_vector_name(name))


def _reapply(shard: qe.EdgeShard, touched: list[PointId], records: list[qe.Record]) -> None:
    """Writes made during the build: the live shard's current state of each touched point."""
    if records:
        points = [qe.Point(r.id, r.vector or {}, r.payload or {}) for r in records]
        shard.update(qe.UpdateOperation.upsert_points(points))
    present = {str(r.id) for r in records}
    deleted: list[PointId] = [i for i in touched if str(i) not in present]
    if deleted:
        shard.update(qe.UpdateOperation.delete_points(deleted))


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(f"{path.name}.{suffix}")


def main(path: str, parent: int) -> None:
    _die_with_parent(parent)
    with builder_lock(Path(path)):
        shard = qe.EdgeShard.load(path)
        shard.optimize()  # holds the GIL throughout: only the kernel can stop it meanwhile
        _exit_if_orphaned(parent)  # where PR_SET_PDEATHSIG is missing: write nothing more
        shard.flush()
        shard.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
