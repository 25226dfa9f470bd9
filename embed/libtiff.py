"""libtiff's messages kept off the terminal and put where they matter: a failure's reason.

Pillow decodes compressed TIFFs with libtiff, whose default handlers print every warning and
error to stderr ("Using code not yet in table.", "ZIPDecode: Decoding error at scanline 0")
while Pillow raises only "decoder error -2". pixseek installs its own handlers in the libtiff
Pillow loaded (found in the process's mapped libraries): each message is formatted and kept for
the thread that decodes, so decode_rgb can name libtiff's own words in its ImageDecodeError,
and nothing reaches stderr. Where that library cannot be found, libtiff keeps its defaults.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_KEPT = 8  # messages kept per decode: enough for a reason, bounded for a file full of errors
_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_local = threading.local()
_installed: list[object] = []  # the handlers (ctypes must keep them alive) once installed
_install_lock = threading.Lock()
# where a va_list travels as one pointer, so that vsnprintf can format libtiff's message
_VA_LIST_IS_POINTER = platform.system() == "Linux" and platform.machine() in {"x86_64", "aarch64"}


def install() -> bool:
    """Route libtiff's warnings and errors to pixseek (once per process); False when Pillow's
    libtiff was not found, and libtiff prints as before."""
    with _install_lock:
        if _installed:
            return True
        library = _pillows_libtiff()
        if library is None:
            return False
        handler = _HANDLER(_keep)
        library.TIFFSetWarningHandler.argtypes = [_HANDLER]
        library.TIFFSetErrorHandler.argtypes = [_HANDLER]
        library.TIFFSetWarningHandler(handler)
        library.TIFFSetErrorHandler(handler)
        _installed.append(handler)
        return True


@contextmanager
def messages() -> Iterator[list[str]]:
    """libtiff's messages while the block decodes in this thread."""
    kept: list[str] = []
    before = getattr(_local, "kept", None)
    _local.kept = kept
    try:
        yield kept
    finally:
        _local.kept = before


def _keep(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
    try:
        text = _format(fmt or b"", args)
        name = (module or b"").decode(errors="replace")
        if name and "." not in name and name not in text:  # a codec's name, not Pillow's file's
            text = f"{name}: {text}"
        kept = getattr(_local, "kept", None)
        if kept is None:
            log.debug("libtiff: %s", text)
        elif len(kept) < _KEPT and text not in kept:
            kept.append(text)
    except Exception:  # a callback must never raise into C
        log.debug("cannot read a libtiff message", exc_info=True)


def _format(fmt: bytes, args: int | None) -> str:
    if not _VA_LIST_IS_POINTER or args is None:
        return fmt.decode(errors="replace")
    buffer = ctypes.create_string_buffer(512)
    _libc().vsnprintf(buffer, len(buffer), fmt, ctypes.c_void_p(args))
    return buffer.value.decode(errors="replace").strip()


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)
    libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    return libc


def _pillows_libtiff() -> ctypes.CDLL | None:
    """The libtiff Pillow's _imaging module loaded (its wheel bundles one; a distribution's
    Pillow links the system's), or None."""
    from PIL import _imaging  # noqa: F401  (loads libtiff into the process)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines() if "libtiff" in line}
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None
