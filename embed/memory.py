"""The memory image decodes may hold at once, and giving it back to the system afterwards.

A picture's decoded size is known from its header before any pixel is decoded: a 13000x13000
PNG of half a megabyte holds 676 MB once loaded. Threads decoding such pictures at once (search
by image, first previews, ingest) would each hold that much, so every decode reserves its size
from one budget per process and waits while the budget is spent. A decode larger than the
whole budget still runs, alone, so no image the pixel limit admits is refused for it.

glibc keeps freed memory in its arenas for reuse instead of returning it: after a burst of
large decodes a process stays at its peak. `release_free_memory()` (malloc_trim) hands free
pages back; the budget calls it after each large decode.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIB = 1024 * 1024
MIN_BUDGET = 256 * MIB
MAX_BUDGET = 1024 * MIB
# Below this a decode's memory is ordinary churn that glibc reuses at once; above it, trimming
# afterwards (a few milliseconds) is worth it.
TRIM_ABOVE = 32 * MIB
_CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")


def system_memory_bytes() -> int:
    """The memory this process may use: physical memory, or a container's cgroup limit."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        physical = 8 * 1024 * MIB
    try:
        limit = _CGROUP_LIMIT.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def default_decode_budget() -> int:
    """A sixteenth of the memory, between 256 MB and 1 GB: on a 4 GB machine two 12-MP PNGs
    decode at once; on any machine one image at the pixel limit fits (alone)."""
    return min(max(system_memory_bytes() // 16, MIN_BUDGET), MAX_BUDGET)


class DecodeBudget:
    """Bytes of decoded pixels that may be held at once by this process's decodes."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a decode budget needs at least one byte, got {limit}")
        self.limit = limit
        self._used = 0
        self._free = threading.Condition()

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold size bytes of the budget while the block runs; wait until they are free. A size
        above the limit waits for the whole budget and runs alone."""
        with self._free:
            while self._used and self._used + size > self.limit:
                self._free.wait()
            self._used += size
        try:
            yield
        finally:
            with self._free:
                self._used -= size
                self._free.notify_all()
            if size >= TRIM_ABOVE:
                release_free_memory()


_budget: DecodeBudget | None = None
_budget_lock = threading.Lock()


def decode_budget() -> DecodeBudget:
    """This process's budget: set_decode_budget()'s, else default_decode_budget()."""
    global _budget
    with _budget_lock:
        if _budget is None:
            _budget = DecodeBudget(default_decode_budget())
        return _budget


def set_decode_budget(limit: int | None) -> DecodeBudget:
    """Size this process's budget (None: the default). Memory is the process's, so the budget
    is too; entry points call this once, from their settings."""
    global _budget
    with _budget_lock:
        _budget = DecodeBudget(limit or default_decode_budget())
        return _budget


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # musl, macOS: no malloc_trim, nothing to do
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> None:
    """Return the free memory of every malloc arena to the system (glibc; elsewhere a no-op)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
