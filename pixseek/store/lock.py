"""One process at a time per data directory: the embedded index is a set of files, not a server."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from types import TracebackType

from pixseek.errors import DataDirLockedError

LOCK_NAME = "pixseek.lock"


class DataDirLock:
    """An exclusive lock on a data directory, naming its holder for whoever is refused."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DataDirLockedError saying which process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DataDirLockedError(
                f"the data directory {self.path.parent} is in use by {holder}. Wait for it to "
                "finish or stop it, or use another data directory (PIXSEEK_DATA_DIR or "
                "--data-dir) for a separate library.",
                holder,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} ({' '.join(sys.argv)[:200]})".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
