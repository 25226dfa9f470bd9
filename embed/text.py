"""CLIP's text tower without the padding: the same features for a fraction of the work.

CLIP's text tower is causal and reads its features at the end token (the highest token id), so
positions after it cannot change them: a query of a few words needs 8 of the 77 positions, and
the tower costs that much less. PyTorch runs it so (encode_text), and the ONNX export traces
encode_cut_text with the length as a dimension of its own.
"""

from __future__ import annotations

from typing import Any

import open_clip
import torch
from open_clip.transformer import text_global_pool


def cut_padding(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens without the positions after the longest text's end token (all of them when
    every token is padding)."""
    if not tokens.any():
        return tokens
    used = int((tokens != 0).nonzero()[:, 1].max()) + 1
    return tokens[:, :used]


def encode_text(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """model.encode_text, without the padding after the longest text when that is exact.

    CLIP's text tower is causal and reads its features at the end token (the highest token id),
    so positions after it cannot change them: a query of a few words needs 8 of the 77
    positions, and the tower costs that much less. Other text towers run as they are.
    """
    if not causal_argmax_text(model):
        return model.encode_text(tokens)
    return encode_cut_text(model, cut_padding(tokens))


def encode_cut_text(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """A CLIP text tower's features of tokens of any length up to the context length (the
    ONNX export traces this, with the length as a dimension of its own)."""
    used = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:used].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:used, :used])
    x = text_global_pool(model.ln_final(x), tokens, "argmax")
    projection = model.text_projection
    return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def causal_argmax_text(model: Any) -> bool:
    return (
        type(model).encode_text is open_clip.CLIP.encode_text
        and getattr(model, "text_pool_type", None) == "argmax"
        and isinstance(getattr(model, "attn_mask", None), torch.Tensor)
        and getattr(model, "text_projection", None) is not None
    )
