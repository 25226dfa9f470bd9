"""The OpenCLIP model wrapper: loaded once, batched, L2-normalised float32 embeddings.

Its two towers run in ONNX Runtime on the CPU where that is installed and its export matches
PyTorch (embed/export.py, embed/runtime.py), else in PyTorch; with PIXSEEK_PRECISION=auto
they start in fp32 and move to a faster precision once the precision check has found it
agrees with fp32 on a sample of the library's photos (embed/agreement.py).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
from PIL import Image

from embed import agreement, export
from embed.agreement import CheckRecords, CheckResult, Thresholds
from embed.batching import Coalescer, VectorCache
from embed.configs import register_model_configs
from embed.device import (
    TORCH_DTYPES,
    candidate_precisions,
    choose_device,
    choose_engine,
    choose_precision,
    choose_text_precision,
    cpu_flags,
)
from embed.errors import ModelSpecError, ModelUnavailableError
from embed.runtime import PARITY_MIN_COSINE, Tower, cosines, onnx_tower, onnxruntime_available
from embed.spec import ModelSpec
from embed.text import encode_text
from embed.weights import resolve_pretrained

log = logging.getLogger(__name__)

RANDOM_SEED = 0
PARITY_TEXTS = ("a photo of a dog", "red bicycle by a canal at night", "x", "beach " * 40)


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
        engine: str = "auto",
        decode_threads: int = 0,
    ) -> None:
        self.spec = spec
        # ONNX Runtime's threads for the image tower: the cores the caller's decode threads
        # leave (ingest decodes while the model runs; one more thread than cores makes both
        # wait: 15.9 against 13.5 img/s end to end on 2 cores, docs/performance.md)
        self.image_threads = max(1, torch.get_num_threads() - decode_threads)
        self.device = choose_device(device)
        self.requested_precision = precision
        self.start_precision = choose_precision(self.device, precision)
        self.start_text_precision = choose_text_precision(self.device, precision)
        self.precision = self.start_precision  # the image tower's, now
        self.text_precision = self.start_text_precision
        self.engine = choose_engine(self.device, engine)  # torch after a fallback
        self.cache_dir = cache_dir
        self.precision_check: CheckResult | None = None  # the check in force, once made
        self._loaded: LoadedModel | None = None
        self._building: LoadedModel | None = None  # while load() makes the towers
        self._lock = threading.Lock()
        self._text_batches = Coalescer(self._embed_texts_now)
        self._text_cache = VectorCache()
        self._export: export.Export | None = None
        self._towers: dict[tuple[str, str], Tower] = {}
        self._image_tower: Tower | None = None
        self._text_tower: Tower | None = None
        self._check_key = ""
        self._records: Path | None = None  # where the library's precision checks are kept
        self._sample: list[Image.Image] = []
        self._checking = threading.Lock()  # one precision check at a time

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
        assert self._image_tower is not None, "load() sets the towers"
        return _normalised(self._image_tower.run(batch))

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
        assert self._text_tower is not None, "load() sets the towers"
        return _normalised(self._text_tower.run(loaded.tokenizer(texts)))

    def warm_up(self) -> None:
        """Load the model and run both towers once, so the first search is not the slow one
        (the first forward pass builds the kernels for its shapes)."""
        side = self.image_size
        self.embed_images([Image.new("RGB", (side, side))])
        self.embed_texts(["a photo"])

    @property
    def image_engine(self) -> str:
        """What runs the image tower now, e.g. "onnxruntime int8" (loads the model)."""
        self.load()
        assert self._image_tower is not None
        return self._image_tower.label

    @property
    def text_engine(self) -> str:
        """What runs the text tower now, e.g. "onnxruntime fp32" (loads the model)."""
        self.load()
        assert self._text_tower is not None
        return self._text_tower.label

    # The precision check (embed/agreement.py): the indexer tells of the photos it embeds; once
    # enough have come, the check runs, and may move either tower to a faster precision.

    @property
    def precision_check_pending(self) -> bool:
        """Whether a precision check is still to run (auto on a CPU, none made yet here)."""
        return self.loaded and self.precision_check is None and bool(self._candidates("image"))

    def note_embedded(
        self,
        images: Sequence[Image.Image],
        library: str | None = None,
        batch_size: int = 32,
        final: bool = False,
    ) -> CheckResult | None:
        """Photos of the library just embedded: kept for the precision check while one is
        pending, which runs once SAMPLE_PHOTOS have come (final, at the end of a run: at least
        MIN_SAMPLE_PHOTOS; a smaller library waits for more). Returns the check when it ran."""
        if not self.precision_check_pending:
            return None
        with self._lock:
            room = max(agreement.SAMPLE_PHOTOS - len(self._sample), 0)
            self._sample.extend(images[:room])
            needed = agreement.MIN_SAMPLE_PHOTOS if final else agreement.SAMPLE_PHOTOS
            if len(self._sample) < needed:
                return None
        with self._checking:
            if not self.precision_check_pending:
                return None  # another thread ran it meanwhile
            sample, self._sample = self._sample, []
            return self.check_precision(sample, library, batch_size=batch_size)

    def check_precision(
        self,
        images: Sequence[Image.Image] | None = None,
        library: str | None = None,
        thresholds: Thresholds | None = None,
        candidates: dict[str, dict[str, Tower]] | None = None,
        batch_size: int = 32,
    ) -> CheckResult:
        """Embed the sample (images, else the photos kept) and the sample texts with fp32
        and with each candidate precision, use the fastest candidate that agrees, record the
        result in the model cache and log it. candidates: towers to try instead of this
        machine's (tests use it to offer a deliberately broken one)."""
        sample = list(images if images is not None else self._sample)
        thresholds = thresholds or Thresholds()
        result = self._run_check(sample, library, thresholds, candidates, batch_size)
        self._adopt(result)
        self._drop_unused_towers()
        if candidates is None and self._records is not None:
            CheckRecords(self._records).save(result)
        log.info("precision check for %s: %s", self.spec, result.summary())
        return result

    def follow_checks(self, records: Path) -> None:
        """Work for the library whose precision checks are kept in records (a JSON file):
        use the towers its check for this model, machine and runtime chose, or start in the
        start precision and check on its photos. A process has one library; an embedder
        shared across libraries (the tests') follows the last one named."""
        if records == self._records:
            return
        with self._checking:
            self._records, self._sample = records, []
            if self._loaded is not None:
                self._start_towers()

    def _run_check(
        self,
        images: list[Image.Image],
        library: str | None,
        thresholds: Thresholds,
        candidates: dict[str, dict[str, Tower]] | None,
        batch_size: int,
    ) -> CheckResult:
        loaded = self.load()
        pixels = torch.stack([loaded.preprocess(image) for image in images])
        tokens = [loaded.tokenizer([text]) for text in agreement.SAMPLE_TEXTS]
        reference = {"image": self.tower("image", "fp32"), "text": self.tower("text", "fp32")}
        ref_images, image_speed = _timed_images(reference["image"], pixels, batch_size)
        ref_texts, text_speed = _timed_texts(reference["text"], tokens)
        ref_queries = _image_queries(ref_images, ref_texts)
        measures = []
        for name, tower in self._candidate_towers("image", candidates):
            found, speed = _timed_images(tower, pixels, batch_size)
            queries = (ref_queries, _image_queries(found, ref_texts))
            measures.append(agreement.compare("image", name, ref_images, found, queries,
                                              (image_speed, speed), thresholds))  # fmt: skip
        for name, tower in self._candidate_towers("text", candidates):
            found, speed = _timed_texts(tower, tokens)
            queries = (ref_texts @ ref_images.T, found @ ref_images.T)
            measures.append(agreement.compare("text", name, ref_texts, found, queries,
                                              (text_speed, speed), thresholds))  # fmt: skip
        chosen = {}
        for tower_name, ref in reference.items():
            usable = [m for m in measures if m.tower == tower_name and m.usable(thresholds)]
            chosen[tower_name] = max(usable, key=lambda m: m.speed).candidate if usable else (
                ref.label)  # fmt: skip
        return CheckResult(
            self.model_id, self._check_key, {k: t.label for k, t in reference.items()}, chosen,
            len(images), len(tokens), thresholds, measures, library,
        )  # fmt: skip

    def _candidate_towers(
        self, tower: str, given: dict[str, dict[str, Tower]] | None
    ) -> list[tuple[str, Tower]]:
        if given is not None:
            return list(given.get(tower, {}).items())
        found = []
        for precision in self._candidates(tower):
            try:
                made = self.tower(tower, precision)
            except Exception as exc:  # a candidate that cannot be built is simply not one
                log.warning("no %s tower in %s here: %s", tower, precision, exc)
                continue
            found.append((made.label, made))
        return found

    def _candidates(self, tower: str) -> list[str]:
        return candidate_precisions(self.device, self.requested_precision, tower)

    def _adopt(self, result: CheckResult) -> None:
        """Use the towers a check chose (a label this machine cannot build keeps fp32)."""
        self.precision_check = result
        for tower, label in result.chosen.items():
            engine, _, precision = label.partition(" ")
            try:
                made = self.tower(tower, precision, engine)
            except Exception as exc:
                log.warning("cannot use %s for the %s tower: %s", label, tower, exc)
                continue
            if tower == "image":
                self._image_tower, self.precision = made, precision
            else:
                self._text_tower, self.text_precision = made, precision

    def _drop_unused_towers(self) -> None:
        """Let go of the towers a check tried and did not choose (each holds a copy of its
        weights); they are made again if another check wants them."""
        used = (self._image_tower, self._text_tower)
        self._towers = {k: t for k, t in self._towers.items() if any(t is u for u in used)}

    def tower(self, tower: str, precision: str, engine: str | None = None) -> Tower:
        """The image or text tower in a precision, made once (loads the model): in ONNX
        Runtime for fp32 and int8 while the export serves, else in PyTorch; engine: that
        one (ValueError where it cannot run the tower so). The check and the benchmarks
        use it; embed_images and embed_texts use the towers in force."""
        self._ensure_loaded()
        engine = engine or ("onnxruntime" if self._export and precision in ("fp32", "int8")
                            else "torch")  # fmt: skip
        key = (tower, f"{engine} {precision}")
        if key not in self._towers:
            self._towers[key] = self._make_tower(tower, precision, engine)
        return self._towers[key]

    def _make_tower(self, tower: str, precision: str, engine: str) -> Tower:
        if engine == "onnxruntime":
            if self._export is None or precision not in ("fp32", "int8"):
                raise ValueError(f"ONNX Runtime runs no {tower} tower in {precision} here")
            path = self._export.path(tower)
            if precision == "int8":
                path = export.quantized(self._export, tower)
            threads = self.image_threads if tower == "image" else None
            return onnx_tower(path, tower, precision, self._export.text_cut, threads)
        loaded = self._loaded_or_building()
        if tower == "image":
            return _torch_image_tower(loaded.model, precision, self.device)
        if precision == "int8":
            raise ValueError("PyTorch runs no int8 text tower")
        return _torch_text_tower(loaded, precision, self.device)

    def _ensure_loaded(self) -> None:
        if self._building is None:  # load() itself makes the first towers while building
            self.load()

    def _loaded_or_building(self) -> LoadedModel:
        assert self._building is not None or self._loaded is not None
        return self._loaded or self._building  # type: ignore[return-value]

    def _build(self) -> LoadedModel:
        register_model_configs()
        model, preprocess = self._create()
        dtype = TORCH_DTYPES[self.precision if self.precision in ("bf16", "fp16") else "fp32"]
        model = model.to(self.device, dtype=dtype).eval()
        tokenizer = open_clip.get_tokenizer(self.spec.architecture)
        dim = int(model.text_projection.shape[1]) if _has_text_projection(model) else _probe(model)
        text_model = text_tower_in(model, TORCH_DTYPES[self.text_precision])
        self._building = LoadedModel(
            model, preprocess, tokenizer, dim, _image_size(model), text_model
        )
        try:
            self._set_up_towers(self._building)
        finally:
            built, self._building = self._building, None
        log.info(
            "loaded %s on %s: images in %s, texts in %s (dim %d)",
            self.spec, self.device, self._image_tower.label if self._image_tower else "?",
            self._text_tower.label if self._text_tower else "?", dim,
        )  # fmt: skip
        return built

    def _set_up_towers(self, loaded: LoadedModel) -> None:
        """The towers to start with: ONNX Runtime where it serves, a recorded check's choice
        where one was made on this machine."""
        if self.engine == "onnxruntime":
            self._export = self._checked_export(loaded)
            if self._export is None:
                self.engine = "torch"
        if self._candidates("image"):
            digest = export.weights_digest(loaded.model)
            versions = export.runtime_versions() | {"engine": self.engine}
            self._check_key = agreement.machine_key(self.model_id, digest, versions, cpu_flags())
        self._start_towers()

    def _start_towers(self) -> None:
        """The start precisions' towers, then those of the library's recorded check."""
        self._image_tower = self.tower("image", self.start_precision)
        self._text_tower = self.tower("text", self.start_text_precision)
        self.precision, self.text_precision = self.start_precision, self.start_text_precision
        self.precision_check = None
        if self._records is None or not self._candidates("image"):
            return
        found = CheckRecords(self._records).find(self.model_id, self._check_key)
        if found is not None:
            self._adopt(found)
            self._drop_unused_towers()
            log.info("precision check for %s, made earlier: %s", self.spec, found.summary())

    def _checked_export(self, loaded: LoadedModel) -> export.Export | None:
        """The model's ONNX export when ONNX Runtime is here and the export gives PyTorch's
        embeddings (PARITY_MIN_COSINE); None, said in the log, to run on PyTorch instead."""
        if not onnxruntime_available():
            log.warning("ONNX Runtime is not installed: %s runs on PyTorch", self.spec)
            return None
        if next(loaded.model.parameters()).dtype != torch.float32:
            return None  # bf16 or fp16 asked for: PyTorch's
        root = export.export_root(self.cache_dir)
        try:
            found = export.cached_export(loaded.model, self.model_id, loaded.image_size, root)
            worst = self._parity(loaded, found)
        except Exception as exc:  # the exporter and the runtime raise many kinds of error
            log.warning("%s runs on PyTorch: no ONNX export: %s: %s",
                        self.spec, type(exc).__name__, exc)  # fmt: skip
            return None
        if worst < PARITY_MIN_COSINE:
            log.warning(
                "%s runs on PyTorch: its ONNX export disagrees with PyTorch (cosine %.6f < %s); "
                "the export is removed and made again at the next start",
                self.spec, worst, PARITY_MIN_COSINE,
            )  # fmt: skip
            export.forget_export(found)
            return None
        return found

    def _parity(self, loaded: LoadedModel, found: export.Export) -> float:
        """The lowest cosine between ONNX Runtime's and PyTorch's fp32 embeddings of fixed
        pictures and texts (of several batch sizes and lengths)."""
        side = loaded.image_size
        generator = torch.Generator().manual_seed(0)
        smooth = torch.nn.functional.interpolate(
            torch.randn(3, 3, 4, 4, generator=generator), size=(side, side), mode="bilinear"
        )
        pixels = smooth + 0.3 * torch.randn(3, 3, side, side, generator=generator)
        tokens = loaded.tokenizer(list(PARITY_TEXTS))
        onnx_image = onnx_tower(found.path("image"), "image", "fp32", found.text_cut)
        onnx_text = onnx_tower(found.path("text"), "text", "fp32", found.text_cut)
        torch_image = _torch_image_tower(loaded.model, "fp32", self.device)
        torch_text = _torch_text_tower(loaded, "fp32", self.device)
        pairs = [
            (onnx_image.run(pixels), torch_image.run(pixels)),
            (onnx_text.run(tokens), torch_text.run(tokens)),
            (onnx_text.run(tokens[:1]), torch_text.run(tokens[:1])),
        ]
        self._towers[("image", "onnxruntime fp32")] = onnx_image
        self._towers[("text", "onnxruntime fp32")] = onnx_text
        return min(float(cosines(a, b).min()) for a, b in pairs)

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


def _torch_image_tower(model: Any, precision: str, device: str) -> Tower:
    """The image tower in PyTorch: the model's own in its dtype, else a copy in precision
    (int8: its linear layers in dynamic int8)."""
    visual = model.visual
    own = next(visual.parameters()).dtype
    if precision == "int8":
        visual = int8_image_tower(visual)
    elif TORCH_DTYPES[precision] != own:
        visual = copy.deepcopy(visual).to(dtype=TORCH_DTYPES[precision]).eval()
    dtype = TORCH_DTYPES[precision]

    def run(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return _as_array(visual(batch.to(device, dtype=dtype)))

    return Tower("torch", precision, run)


def _torch_text_tower(loaded: LoadedModel, precision: str, device: str) -> Tower:
    dtype = TORCH_DTYPES[precision]
    text_model = loaded.text_model
    if next(text_model.parameters()).dtype != dtype:
        text_model = text_tower_in(loaded.model, dtype)

    def run(tokens: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return _as_array(encode_text(text_model, tokens.to(device)))

    return Tower("torch", precision, run)


def _timed_images(tower: Tower, pixels: torch.Tensor, batch_size: int) -> tuple[np.ndarray, float]:
    """The tower's normalised embeddings of pixels in batches, and its images/s (after a
    first batch that warms it up and is not counted)."""
    tower.run(pixels[:batch_size])
    started = time.perf_counter()
    found = [tower.run(pixels[i : i + batch_size]) for i in range(0, len(pixels), batch_size)]
    seconds = time.perf_counter() - started
    return _normalised(np.concatenate(found)), len(pixels) / max(seconds, 1e-9)


def _timed_texts(tower: Tower, tokens: list[torch.Tensor]) -> tuple[np.ndarray, float]:
    """Each text alone through the tower, as a search asks: embeddings and queries/s."""
    tower.run(tokens[0])
    started = time.perf_counter()
    found = [tower.run(one) for one in tokens]
    seconds = time.perf_counter() - started
    return _normalised(np.concatenate(found)), len(tokens) / max(seconds, 1e-9)


def _image_queries(photos: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """Every photo's similarities to the other photos, then every text's to the photos: the
    queries whose nearest photos the check compares."""
    return np.vstack([agreement.photo_neighbours(photos), texts @ photos.T])


def _as_array(features: torch.Tensor) -> np.ndarray:
    array: np.ndarray = features.float().cpu().numpy()
    return array


def _normalised(features: np.ndarray) -> np.ndarray:
    array = np.asarray(features, dtype=np.float32)
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
