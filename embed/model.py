"""The OpenCLIP model wrapper: loaded once, batched, L2-normalised float32 embeddings."""

from __future__ import annotations

import copy
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import open_clip
import torch
from open_clip.transformer import text_global_pool
from PIL import Image

from embed.batching import Coalescer, VectorCache
from embed.configs import register_model_configs
from embed.device import TORCH_DTYPES, choose_device, choose_precision, choose_text_precision
from embed.errors import ModelSpecError, ModelUnavailableError
from embed.spec import ModelSpec
from embed.weights import resolve_pretrained

log = logging.getLogger(__name__)

RANDOM_SEED = 0


@dataclass(frozen=True)
class LoadedModel:
    """What load() builds: the network, its image transform and its tokenizer."""

    model: Any
    preprocess: Callable[[Image.Image], torch.Tensor]
    tokenizer: Callable[[list[str]], torch.Tensor]
    dim: int
    image_size: int
    text_model: Any  # the model itself, or a copy without the image tower in another precision


class Embedder:
    """Embeds images and texts into one space. Build it once per process and pass it around.

    The constructor only stores configuration; load() builds the model once, behind a lock,
    because two requests may arrive for a model neither has loaded.
    """

    def __init__(
        self,
        spec: ModelSpec,
        device: str = "auto",
        precision: str = "auto",
        cache_dir: str | None = None,
    ) -> None:
        self.spec = spec
        self.device = choose_device(device)
        self.precision = choose_precision(self.device, precision)
        self.text_precision = choose_text_precision(self.device, precision)
        self.cache_dir = cache_dir
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        self._text_batches = Coalescer(self._embed_texts_now)
        self._text_cache = VectorCache()

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def dim(self) -> int:
        return self.load().dim

    @property
    def image_size(self) -> int:
        """The side of the square the model sees; decoding need not keep more pixels."""
        return self.load().image_size

    @property
    def loaded(self) -> bool:
        """Whether load() has built the model (readiness checks ask this; it never loads)."""
        return self._loaded is not None

    def load(self) -> LoadedModel:
        """Build the model on first call; later calls return the same one."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._build()
        return self._loaded

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, for RGB images (n may be 0)."""
        loaded = self.load()
        if not images:
            return np.zeros((0, loaded.dim), dtype=np.float32)
        batch = torch.stack([loaded.preprocess(image) for image in images])
        with torch.inference_mode():
            features = loaded.model.encode_image(self._to_model(batch))
        return _normalised(features)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised (n may be 0). Texts seen lately come from a cache;
        concurrent calls share one pass through the text tower."""
        loaded = self.load()
        vectors: list[np.ndarray | None] = [self._text_cache.get(text) for text in texts]
        missing = sorted({text for text, v in zip(texts, vectors, strict=True) if v is None})
        if missing:
            fresh = dict(zip(missing, self._text_batches(missing), strict=True))
            for text, vector in fresh.items():
                self._text_cache.put(text, vector)
            vectors = [fresh[t] if v is None else v for t, v in zip(texts, vectors, strict=True)]
        if not vectors:
            return np.zeros((0, loaded.dim), dtype=np.float32)
        return np.stack([v for v in vectors if v is not None])

    def _embed_texts_now(self, texts: list[str]) -> np.ndarray:
        loaded = self.load()
        tokens = loaded.tokenizer(texts).to(self.device)
        with torch.inference_mode():
            features = encode_text(loaded.text_model, tokens)
        return _normalised(features)

    def warm_up(self) -> None:
        """Load the model and run both towers once, so the first search is not the slow one
        (the first forward pass builds the kernels for its shapes)."""
        side = self.image_size
        self.embed_images([Image.new("RGB", (side, side))])
        self.embed_texts(["a photo"])

    def _to_model(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.to(self.device, dtype=TORCH_DTYPES[self.precision])

    def _build(self) -> LoadedModel:
        register_model_configs()
        model, preprocess = self._create()
        model = model.to(self.device, dtype=TORCH_DTYPES[self.precision]).eval()
        if self.precision == "int8":
            model.visual = int8_image_tower(model.visual)
        tokenizer = open_clip.get_tokenizer(self.spec.architecture)
        dim = int(model.text_projection.shape[1]) if _has_text_projection(model) else _probe(model)
        text_model = text_tower_in(model, TORCH_DTYPES[self.text_precision])
        log.info(
            "loaded %s on %s in %s, texts in %s (dim %d)",
            self.spec, self.device, self.precision, self.text_precision, dim,
        )  # fmt: skip
        return LoadedModel(model, preprocess, tokenizer, dim, _image_size(model), text_model)

    def _create(self) -> tuple[Any, Any]:
        pretrained = self._pretrained_argument()
        if self.spec.is_random:
            _warn_random(self.spec)
        try:
            # a private RNG stream: random weights are the same in every process, and the
            # caller's global torch seed is left as it was
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_SEED)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    self.spec.architecture, pretrained=pretrained, cache_dir=self.cache_dir
                )
        except RuntimeError as exc:
            if "download" in str(exc).lower():
                raise ModelUnavailableError(str(exc)) from exc
            raise
        except (FileNotFoundError, ValueError) as exc:
            raise ModelSpecError(f"cannot build model {self.spec}: {exc}") from exc
        return model, preprocess

    def _pretrained_argument(self) -> str | None:
        spec = self.spec
        if spec.weights is None or spec.is_random:
            return None
        if spec.weights_file is not None:
            if not spec.weights_file.is_file():
                raise ModelUnavailableError(f"weights file not found: {spec.weights_file}")
            return str(spec.weights_file)
        return resolve_pretrained(spec, self.cache_dir)


def _warn_random(spec: ModelSpec) -> None:
    if spec.architecture.startswith("pixseek-tiny"):
        log.warning("%s has random weights (seed %d): for tests and demos", spec, RANDOM_SEED)
        return
    log.warning(
        "!!! %s uses RANDOM weights: embeddings carry no meaning and search results will be "
        "arbitrary. Use this for benchmarks only. !!!",
        spec,
    )


def int8_image_tower(visual: torch.nn.Module) -> torch.nn.Module:
    """The image tower with its linear layers in dynamic int8 (int8 weights, activations
    quantized per batch): twice the images/s of fp32 on CPUs with VNNI but no AMX, embeddings
    within 0.9998 cosine of fp32's (ViT-B-32; see docs/performance.md)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        quantized: torch.nn.Module = torch.ao.quantization.quantize_dynamic(
            visual, {torch.nn.Linear}, dtype=torch.qint8
        )
    return quantized


def text_tower_in(model: Any, dtype: torch.dtype) -> Any:
    """The model for texts: itself when dtype is its own, else a copy in dtype without the
    image tower (only CLIP-style models, whose text tower is the model's own parts)."""
    if next(model.parameters()).dtype == dtype or not isinstance(model, open_clip.CLIP):
        return model
    visual, model.visual = model.visual, None
    try:
        text_model = copy.deepcopy(model)
    finally:
        model.visual = visual
    return text_model.to(dtype=dtype).eval()


def encode_text(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """model.encode_text, without the padding after the longest text when that is exact.

    CLIP's text tower is causal and reads its features at the end token (the highest token id),
    so positions after it cannot change them: a query of a few words needs 8 of the 77
    positions, and the tower costs that much less. Other text towers run as they are.
    """
    if not _causal_argmax_text(model):
        return model.encode_text(tokens)
    used = int((tokens != 0).nonzero()[:, 1].max()) + 1 if tokens.any() else tokens.shape[1]
    tokens = tokens[:, :used]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:used].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:used, :used])
    x = text_global_pool(model.ln_final(x), tokens, "argmax")
    projection = model.text_projection
    return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def _causal_argmax_text(model: Any) -> bool:
    return (
        type(model).encode_text is open_clip.CLIP.encode_text
        and getattr(model, "text_pool_type", None) == "argmax"
        and isinstance(getattr(model, "attn_mask", None), torch.Tensor)
        and getattr(model, "text_projection", None) is not None
    )


def _normalised(features: torch.Tensor) -> np.ndarray:
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


def _has_text_projection(model: Any) -> bool:
    projection = getattr(model, "text_projection", None)
    return isinstance(projection, torch.Tensor) and projection.ndim == 2


def _probe(model: Any) -> int:
    size = _image_size(model)
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    with torch.inference_mode():
        return int(
            model.encode_image(torch.zeros(1, 3, size, size, dtype=dtype, device=device)).shape[1]
        )


def _image_size(model: Any) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, tuple | list) else size)
