"""The project's own OpenCLIP model configs (pixseek-tiny, ...), made known to OpenCLIP once."""

from __future__ import annotations

import threading
from pathlib import Path

import open_clip

CONFIG_DIR = Path(__file__).parent / "model_configs"
_registered = False
_lock = threading.Lock()


def register_model_configs() -> None:
    """Add the configs in embed/model_configs to OpenCLIP's list; later calls do nothing."""
    global _registered
    with _lock:
        if not _registered:
            open_clip.add_model_config(CONFIG_DIR)
            _registered = True
