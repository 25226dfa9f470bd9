"""Finding model weights: the local cache first, the Hugging Face hub only when it is reachable.

Offline, huggingface_hub retries for almost a minute before it gives up with a message that does
not say what to do; a quick name lookup tells us up front, and the cache still serves offline.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import open_clip

from embed.configs import register_model_configs
from embed.errors import ModelSpecError, ModelUnavailableError
from embed.spec import ModelSpec

log = logging.getLogger(__name__)

HF_ENDPOINT_DEFAULT = "https://huggingface.co"


def resolve_pretrained(spec: ModelSpec, cache_dir: str | None = None) -> str:
    """A local file holding the weights a pretrained tag names, downloading it if needed."""
    cfg = open_clip.get_pretrained_cfg(spec.architecture, spec.weights or "")
    if not cfg:
        raise ModelSpecError(_unknown_tag_message(spec))
    cached = _cached_file(cfg, cache_dir)
    if cached:
        return cached
    if not hub_reachable():
        raise ModelUnavailableError(offline_message(spec, cfg))
    try:
        return str(open_clip.download_pretrained(cfg, cache_dir=cache_dir))
    except Exception as exc:  # network, HTTP and file errors all come out of the hub client
        raise ModelUnavailableError(f"{offline_message(spec, cfg)} (cause: {exc})") from exc


def check_known(spec: ModelSpec) -> None:
    """Raise ModelSpecError when spec names nothing that could load here: an architecture
    OpenCLIP does not know, a pretrained tag it does not list, a weights file or folder that is
    not there. Hub repositories pass: only loading them tells."""
    if spec.architecture.startswith("hf-hub:"):
        return
    if spec.architecture.startswith("local-dir:"):
        folder = Path(spec.architecture.partition(":")[2].strip()).expanduser()
        if not folder.is_dir():
            raise ModelSpecError(f"no folder {folder} on this machine")
        return
    register_model_configs()
    if spec.architecture not in open_clip.list_models():
        raise ModelSpecError(
            f"OpenCLIP has no architecture {spec.architecture!r}; "
            "see open_clip.list_models() for the names"
        )
    if spec.weights_file is not None:
        if not spec.weights_file.is_file():
            raise ModelSpecError(f"weights file not found: {spec.weights_file}")
    elif not spec.is_random and not open_clip.get_pretrained_cfg(
        spec.architecture, spec.weights or ""
    ):
        raise ModelSpecError(_unknown_tag_message(spec))


def check_local_weights(spec: ModelSpec) -> None:
    """Raise ModelSpecError unless the weights this machine holds for spec (a weights file,
    or a local-dir: folder) load into its architecture: the file is a checkpoint torch reads
    with weights_only (no code in it runs) and every tensor fits the architecture's shapes.

    OpenCLIP's own loader does the fitting on a model built on the meta device, so this costs
    a read of the file, not the model's memory. Pretrained tags and hub repositories pass
    (only downloading them tells); a switch to one that then fails to load fails its job."""
    is_folder = spec.architecture.startswith("local-dir:")
    if spec.weights_file is None and not is_folder:
        return
    if spec.weights_file is not None:
        _check_checkpoint(spec.weights_file)
    register_model_configs()
    import torch

    where = spec.weights_file or spec.architecture.partition(":")[2].strip()
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")  # "copying into a meta parameter is a no-op"
            open_clip.create_model(
                spec.architecture,
                pretrained=str(spec.weights_file) if spec.weights_file else None,
                device="meta",
            )
    except Exception as exc:  # OpenCLIP says a misfit with several exception types
        raise ModelSpecError(
            f"{where} does not hold weights that fit {spec.architecture}: {_first_lines(exc)}"
        ) from exc


def _check_checkpoint(path: Path) -> None:
    """ModelSpecError unless path is a checkpoint holding tensors. Memory-mapped: a large file
    is not read into memory."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as opened:
                names = list(opened.keys())
        else:
            names = _tensor_names(_torch_load(path))
    except Exception as exc:  # torch raises anything from IndexError to UnpicklingError
        raise ModelSpecError(
            f"{path} is not a model checkpoint torch can read as weights only: "
            f"{_first_lines(exc, sentences=1)}"  # torch's advice after it is to run code: no
        ) from exc
    if not names:
        raise ModelSpecError(f"{path} holds no model weights")


def _torch_load(path: Path) -> Any:
    """torch.load with weights only, memory-mapped where the file's format allows it."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc):
            raise
    # the legacy (not zip) format cannot be memory-mapped
    return torch.load(path, map_location="cpu", weights_only=True)


def _tensor_names(checkpoint: Any) -> list[str]:
    """The names of the tensors a loaded checkpoint holds (bare, or under "state_dict")."""
    import torch

    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict):
        return []
    return [str(k) for k, v in checkpoint.items() if isinstance(v, torch.Tensor)]


def _first_lines(exc: BaseException, limit: int = 400, sentences: int | None = None) -> str:
    """An exception in a line: its type, and the first two lines (or sentences) of its
    message."""
    message = " ".join(line.strip() for line in str(exc).strip().splitlines()[:2])
    if sentences is not None:
        message = ". ".join(message.split(". ")[:sentences])
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint's host resolves and accepts a connection."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", HF_ENDPOINT_DEFAULT))
    try:
        with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def offline_message(spec: ModelSpec, cfg: dict[str, Any]) -> str:
    """What to do when the weights cannot be downloaded, in one paragraph."""
    source = _source(cfg)
    return (
        f"The weights of {spec} are not on this machine and cannot be downloaded "
        f"(no connection to {source}). On a machine with internet access download them from "
        f"{source}, copy the file here, and point pixseek at it: "
        f"PIXSEEK_MODEL={spec.architecture}:/path/to/open_clip_pytorch_model.bin "
        "(or PIXSEEK_MODEL=local-dir:/folder for a folder with open_clip_config.json and weights)."
    )


def _source(cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub"):
        repo = os.path.split(str(cfg["hf_hub"]))[0]  # "org/repo/" or "org/repo/file.bin"
        return f"{os.environ.get('HF_ENDPOINT', HF_ENDPOINT_DEFAULT)}/{repo}"
    return str(cfg.get("url") or "the model's download address")


def _cached_file(cfg: dict[str, Any], cache_dir: str | None) -> str | None:
    if cfg.get("hf_hub"):
        return _cached_hub_file(str(cfg["hf_hub"]), cache_dir)
    if cfg.get("url"):
        path = Path(cache_dir or "~/.cache/clip").expanduser() / os.path.basename(cfg["url"])
        return str(path) if path.is_file() else None
    return None


def _cached_hub_file(hf_hub: str, cache_dir: str | None) -> str | None:
    from huggingface_hub import hf_hub_download  # a dependency of open_clip's hub loading

    repo, filename = os.path.split(hf_hub)
    filename = filename or "open_clip_pytorch_model.bin"
    candidates = [str(Path(filename).with_suffix(".safetensors")), filename]
    for name in candidates:
        try:
            return str(hf_hub_download(repo, name, cache_dir=cache_dir, local_files_only=True))
        except Exception:  # not cached: the hub client raises several error types for that
            continue
    return None


def _unknown_tag_message(spec: ModelSpec) -> str:
    tags = open_clip.list_pretrained_tags_by_model(spec.architecture)
    if not tags:
        return (
            f"OpenCLIP has no published weights for architecture {spec.architecture!r}; "
            "see open_clip.list_pretrained() for the names"
        )
    return (
        f"{spec.weights!r} is not a pretrained tag of {spec.architecture}; "
        f"known tags: {', '.join(sorted(tags))}"
    )
