"""OpenCLIP embedding and image decoding for the model. Imports nothing of pixseek's.

Embedder is imported on first use: torch and open_clip take seconds to import, and commands
that never embed (`pixseek jobs`, `pixseek stats`) should not pay for them.
"""

from typing import TYPE_CHECKING, Any

from embed.errors import EmbedError, ImageDecodeError, ModelSpecError, ModelUnavailableError
from embed.spec import DEFAULT_MODEL, ModelSpec, parse_model_spec

if TYPE_CHECKING:
    from embed.model import Embedder

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


def __getattr__(name: str) -> Any:
    if name == "Embedder":
        from embed.model import Embedder

        return Embedder
    raise AttributeError(f"module 'embed' has no attribute {name!r}")
