"""OpenCLIP embedding and image decoding for the model. Imports nothing of pixseek's."""

from embed.errors import EmbedError, ImageDecodeError, ModelSpecError, ModelUnavailableError
from embed.model import Embedder
from embed.spec import DEFAULT_MODEL, ModelSpec, parse_model_spec

__all__ = [
    "DEFAULT_MODEL",
    "EmbedError",
    "Embedder",
    "ImageDecodeError",
    "ModelSpec",
    "ModelSpecError",
    "ModelUnavailableError",
    "parse_model_spec",
]
