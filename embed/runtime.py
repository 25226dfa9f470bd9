"""The engines that run a model's towers: PyTorch, and ONNX Runtime on the CPU.

A Tower turns a batch (preprocessed pixels, or tokens) into features, whatever runs it. The
Embedder holds one image tower and one text tower and may change either when the precision
check (embed/agreement.py) finds a faster one that agrees with fp32 on the library's photos.

ONNX Runtime is used where it is installed and its export matches PyTorch at load
(PARITY_MIN_COSINE on fixed pictures and texts); otherwise PyTorch runs, as it always does on
CUDA. Measured on a 2-core AVX-512 VNNI CPU, ViT-B-32 image tower, batch 32: torch fp32 16.5
img/s, ONNX Runtime fp32 20, torch dynamic int8 27, ONNX Runtime dynamic int8 43
(docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embed.text import cut_padding

log = logging.getLogger(__name__)

ENGINES = ("auto", "torch", "onnxruntime")
# An export whose embeddings are further than this from PyTorch's (cosine, per embedding) is
# wrong, not merely rounded: a correct fp32 export measures 0.9999998 or closer here.
PARITY_MIN_COSINE = 0.9999

Features = Callable[[torch.Tensor], np.ndarray]


@dataclass(frozen=True)
class Tower:
    """One tower of the model in one engine and precision. cut: takes text tokens cut after
    the longest text's end token (run() does the cutting)."""

    engine: str
    precision: str
    run: Features

    @property
    def label(self) -> str:
        return f"{self.engine} {self.precision}"


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime imports here (it is a dependency; a broken or stripped install
    makes pixseek run on PyTorch instead)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session on the model at path (its threads: as given, else one per
    core, like torch's)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3  # errors only: its warnings are advice for its developers
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_tower(
    path: Path, tower: str, precision: str, cut: bool, threads: int | None = None
) -> Tower:
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name

    def run(batch: torch.Tensor) -> np.ndarray:
        if tower == "text" and cut:
            batch = cut_padding(batch)
        features: np.ndarray = session.run(None, {name: batch.cpu().numpy()})[0]
        return features

    return Tower("onnxruntime", precision, run)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, dim) arrays."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.asarray(np.sum(a * b, axis=1))
