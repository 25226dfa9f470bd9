"""OpenCLIP towers exported to ONNX once and kept in the model cache.

An export is keyed by the model id, a digest of the weights as loaded, and the versions of
everything that shapes the file (torch's exporter, open_clip, onnx, onnxruntime, this module's
format), so new weights or a runtime upgrade make a new export and never reuse a stale one.
It is written to a hidden folder and renamed into place, so a process that dies while
exporting leaves nothing another process could load half-written; the model's older exports
(other weights, an older runtime) are removed then.

The image tower takes preprocessed pixels (n, 3, side, side); the text tower of a CLIP-style
model takes tokens (n, length) for any length up to the context length (the padding after the
longest text's end token is cut before it runs, as embed.model.encode_text does for torch);
other text towers take tokens at the full context length. The int8 variants are made on demand
from the fp32 files with ONNX Runtime's dynamic quantization (8-bit weights, activations
quantized per batch), measured at 2.6x the fp32 image tower's speed on a CPU with VNNI
(docs/performance.md); weights are signed there and unsigned on CPUs without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from embed.device import cpu_has_vnni
from embed.text import causal_argmax_text, encode_cut_text

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1  # bump when what this module writes changes
OPSET = 18
IMAGE_FILE, TEXT_FILE = "image.onnx", "text.onnx"
MANIFEST = "manifest.json"
_VERSIONED = ("torch", "open_clip_torch", "onnx", "onnxscript", "onnxruntime")


@dataclass(frozen=True)
class Export:
    """A folder holding a model's towers in ONNX. text_cut: the text tower takes tokens cut
    after the longest text's end token (else the full context length)."""

    folder: Path
    text_cut: bool

    def path(self, tower: str, precision: str = "fp32") -> Path:
        name = IMAGE_FILE if tower == "image" else TEXT_FILE
        return self.folder / (name if precision == "fp32" else name.replace(".", f"-{precision}."))


def export_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    """Where exports live: under PIXSEEK_MODEL_CACHE_DIR when set, else the user's cache."""
    if cache_dir is not None:
        return Path(cache_dir) / "pixseek-onnx"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pixseek" / "onnx"


def weights_digest(model: torch.nn.Module) -> str:
    """A digest of every parameter and buffer as loaded (names, shapes, dtypes and bytes):
    whatever the weights came from, the same digest means the same network."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tuple(data.shape)}:{data.dtype}".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def runtime_versions() -> dict[str, str]:
    """The versions an export depends on (a missing package: 'none')."""
    found = {"format": str(EXPORT_FORMAT), "opset": str(OPSET)}
    for package in _VERSIONED:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "none"
    return found


def export_key(model_id: str, digest: str) -> str:
    versions = json.dumps(runtime_versions(), sort_keys=True)
    return hashlib.blake2b(f"{model_id}|{digest}|{versions}".encode(), digest_size=8).hexdigest()


def cached_export(model: Any, model_id: str, image_size: int, root: Path) -> Export:
    """The export of model's towers, made now unless the cache holds it. Raises whatever the
    exporter raises when the model cannot be exported (the caller falls back to torch)."""
    folder = root / f"{model_id}-{export_key(model_id, weights_digest(model))}"
    if (folder / MANIFEST).is_file():
        return _read(folder)
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
    scratch.chmod(0o755)  # mkdtemp's 0700 would keep other users of a shared cache out
    try:
        text_cut = _export_towers(model, image_size, scratch)
        manifest = {"model_id": model_id, "text_cut": text_cut, **runtime_versions()}
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2))
        try:
            scratch.rename(folder)
        except OSError:  # another process finished the same export first: use its files
            if not (folder / MANIFEST).is_file():
                raise
        log.info("exported %s to ONNX in %s", model_id, folder)
        _forget_older(root, model_id, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _read(folder)


def _forget_older(root: Path, model_id: str, kept: Path) -> None:
    """Exports of the model for other weights or runtimes: an upgrade would leave them to
    pile up (hundreds of MB each)."""
    for older in root.glob(f"{model_id}-*"):
        manifest = older / MANIFEST
        if older != kept and manifest.is_file() and _read_model_id(manifest) == model_id:
            shutil.rmtree(older, ignore_errors=True)


def _read_model_id(manifest: Path) -> str | None:
    try:
        return str(json.loads(manifest.read_text())["model_id"])
    except (OSError, ValueError, KeyError):
        return None


def forget_export(export: Export) -> None:
    """Remove an export that failed its check, so the next load makes it again."""
    shutil.rmtree(export.folder, ignore_errors=True)


def quantized(export: Export, tower: str, signed_weights: bool | None = None) -> Path:
    """The tower in dynamic int8 (8-bit weights of every MatMul, Gemm and Conv; activations
    quantized per batch), made once beside the fp32 file. Weights are signed (s8) where the
    CPU has VNNI, else unsigned (u8): see embed.device.VNNI_CPU_FLAGS. A model cache shared by
    machines of both kinds holds both files."""
    if signed_weights is None:
        signed_weights = cpu_has_vnni()
    target = export.path(tower, "int8" if signed_weights else "int8u8")
    if not target.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        weights = QuantType.QInt8 if signed_weights else QuantType.QUInt8
        scratch = target.with_name(f".{target.name}.{os.getpid()}")
        with _quiet():
            quantize_dynamic(export.path(tower), scratch, weight_type=weights)
        scratch.replace(target)
    return target


def _read(folder: Path) -> Export:
    manifest = json.loads((folder / MANIFEST).read_text())
    return Export(folder, bool(manifest["text_cut"]))


class ImageTower(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)


class TextTower(torch.nn.Module):
    """encode_text; with cut=True, on tokens cut after the longest text's end token."""

    def __init__(self, model: Any, cut: bool) -> None:
        super().__init__()
        self.model = model
        self.cut = cut

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.cut:
            return self.model.encode_text(tokens)
        return encode_cut_text(self.model, tokens)


def _export_towers(model: Any, image_size: int, folder: Path) -> bool:
    batch = torch.export.Dim("batch", min=1, max=4096)
    pixels = torch.zeros(2, 3, image_size, image_size)
    _export(ImageTower(model), pixels, folder / IMAGE_FILE, {0: batch})
    cut = causal_argmax_text(model)
    context = int(getattr(model, "context_length", 77))
    tokens = torch.ones(2, 8 if cut else context, dtype=torch.long)
    length = torch.export.Dim("length", min=2, max=context)
    _export(TextTower(model, cut), tokens, folder / TEXT_FILE, {0: batch, 1: length} if cut
            else {0: batch})  # fmt: skip
    return cut


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, dims: Any) -> None:
    with _quiet(), torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            module.eval(), (example,), str(path), input_names=["input"],
            output_names=["features"], opset_version=OPSET, dynamo=True,
            dynamic_shapes=(dims,), verbose=False,
        )  # fmt: skip


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter and the quantizer warn and log advice meant for their developers (the
    quantizer on the root logger, so a filter there drops its advice and nothing else):
    keep it out of pixseek's log; a failure still raises."""
    advice = _DropAdvice()
    root = logging.getLogger()
    root.addFilter(advice)
    try:
        with (
            warnings.catch_warnings(),
            _logger_level("onnxscript", logging.ERROR),
            _logger_level("torch.onnx", logging.ERROR),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(advice)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "before quantization" not in record.getMessage()


@contextlib.contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
