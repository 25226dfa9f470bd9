"""Model specifications: which OpenCLIP architecture, with which weights.

Accepted forms (PIXSEEK_MODEL):
  ViT-B-32:datacomp_xl_s13b_b90k     architecture and an OpenCLIP pretrained tag (downloaded once)
  ViT-B-32:/path/to/weights.bin      architecture and a local weights file
  local-dir:/path/to/folder          a folder with open_clip_config.json and its weights
  hf-hub:org/repo                    an OpenCLIP model on the Hugging Face hub
  ViT-B-32:none                      random weights (useless for real search; warned about)
  pixseek-tiny                       the project's tiny test model, random weights, fixed seed
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from embed.errors import ModelSpecError

DEFAULT_MODEL = "ViT-B-32:datacomp_xl_s13b_b90k"
TINY_MODELS = frozenset({"pixseek-tiny", "pixseek-tiny-b"})
RANDOM = "none"
SCHEMAS = ("local-dir:", "hf-hub:")


@dataclass(frozen=True)
class ModelSpec:
    """An architecture plus where its weights come from.

    weights is an OpenCLIP pretrained tag, a local file path, "none" for random weights, or
    None when the architecture string itself carries them (local-dir:, hf-hub:).
    """

    architecture: str
    weights: str | None

    @property
    def is_random(self) -> bool:
        return self.weights == RANDOM

    @property
    def weights_file(self) -> Path | None:
        if self.weights and self.weights != RANDOM and _looks_like_path(self.weights):
            return Path(self.weights).expanduser()
        return None

    @property
    def model_id(self) -> str:
        """A stable name for this model's vectors in the index, e.g. vit-b-32--laion2b-s34b-b79k."""
        if self.weights is None:
            return _slug(self.architecture)
        weights = f"local-{self.weights_file.stem}" if self.weights_file else self.weights
        return f"{_slug(self.architecture)}--{_slug(weights)}"

    def __str__(self) -> str:
        return self.architecture if self.weights is None else f"{self.architecture}:{self.weights}"


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a PIXSEEK_MODEL value; raise ModelSpecError saying which forms are accepted."""
    text = text.strip()
    if not text:
        raise ModelSpecError("the model is empty; " + _FORMS)
    if text.startswith(SCHEMAS):
        if not text.partition(":")[2].strip():
            raise ModelSpecError(f"{text!r} names no folder or repository; " + _FORMS)
        return ModelSpec(text, None)
    if text in TINY_MODELS:
        return ModelSpec(text, RANDOM)
    architecture, sep, weights = text.partition(":")
    if not sep or not weights.strip() or not architecture.strip():
        raise ModelSpecError(f"{text!r} does not say which weights to use; " + _FORMS)
    return ModelSpec(architecture.strip(), weights.strip())


def _looks_like_path(weights: str) -> bool:
    return "/" in weights or "\\" in weights or weights.endswith((".bin", ".pt", ".safetensors"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_FORMS = (
    "use ARCHITECTURE:PRETRAINED_TAG (e.g. ViT-B-32:datacomp_xl_s13b_b90k), "
    "ARCHITECTURE:/path/to/weights.bin, local-dir:/folder, hf-hub:org/repo, "
    "ARCHITECTURE:none (random weights) or pixseek-tiny (test model)"
)
