"""Building a Qdrant Edge shard's HNSW aside, so that the serving process never freezes.

The shard is copied (a flush, then a file copy: seconds even at 1 M points), a child process
loads the copy and runs optimize() (minutes, on its own GIL), and the copy is swapped in. Writes
made to the live shard meanwhile are read back by id and applied to the copy after the swap.

A crash mid-swap leaves `index.old` beside `index`; the next open puts the old, complete shard
back, so nothing written is ever lost. Run as `python -m pixseek.index.edge_build PATH PARENT_PID`.

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
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import qdrant_edge as qe

from pixseek.errors import IndexBackendError

if TYPE_CHECKING:
    from pixseek.index.edge import EdgeIndex

log = logging.getLogger(__name__)
PointId = int | UUID | str


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def build_aside(index: EdgeIndex) -> None:
    """Optimize a copy of the index in a child process, then swap it in."""
    copy = _sibling(index.path, "building")
    with builder_lock(copy), index._lock:  # no builder left by a dead process writes there
        index._require().flush()
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(index.path, copy)
        index._touched = set()
    started = time.monotonic()
    try:
        optimize_in_child(copy)
        with index._lock:
            _swap_in(index, copy)
    finally:
        index._touched = None
        shutil.rmtree(copy, ignore_errors=True)
    log.info("HNSW built aside and swapped in after %.1f s", time.monotonic() - started)


def optimize_in_child(path: Path) -> None:
    """Run optimize() on the shard at path in another process, which dies with this one."""
    result = subprocess.run(
        [sys.executable, "-m", "pixseek.index.edge_build", str(path), str(os.getpid())],
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


def _swap_in(index: EdgeIndex, copy: Path) -> None:
    live = index._require()
    touched: list[PointId] = sorted(index._touched or ())
    records = live.retrieve(touched, True, True) if touched else []
    spaces = index.vector_names()
    live.flush()
    live.close()
    index._shard = None
    old = _sibling(index.path, "old")
    os.replace(index.path, old)
    os.replace(copy, index.path)
    shard = qe.EdgeShard.load(str(index.path))
    index._shard = shard
    _match_spaces(shard, index.vector_names(), spaces)
    _reapply(shard, touched, records)
    shard.flush()
    shutil.rmtree(old)  # only now is the new shard complete


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
