"""The precision check: a faster precision is used only where it agrees with fp32 on the
library's own photos, and a library keeps the result."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embed import Embedder, parse_model_spec
from embed.agreement import MIN_SAMPLE_PHOTOS, SAMPLE_TEXTS, Thresholds, top_k_overlap
from embed.runtime import Tower
from tests.imagegen import textured_rgb

TINY = parse_model_spec("pixseek-tiny")
# Speed is the machine's to say; these tests are about agreement, so any agreeing is enough.
AGREEMENT_ONLY = Thresholds(min_speedup=0.0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def photos() -> list:
    return [textured_rgb(i, (96, 64)) for i in range(96)]


def auto_embedder(cache: Path, records: Path) -> Embedder:
    embedder = Embedder(TINY, device="cpu", cache_dir=str(cache))
    embedder.follow_checks(records)
    embedder.load()
    return embedder


def test_int8_is_used_where_it_agrees_and_the_library_keeps_the_choice(
    cache: Path, tmp_path: Path, photos: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    # int8 alone: a CPU with AVX-512 bf16 or AMX offers bf16 too, and the faster one would win
    monkeypatch.setattr("embed.model.candidate_precisions", lambda *_: ["int8"])
    records = tmp_path / "precision-checks.json"
    embedder = auto_embedder(cache, records)
    assert embedder.precision_check_pending and embedder.image_engine == "onnxruntime fp32"

    result = embedder.check_precision(photos, library="the library", thresholds=AGREEMENT_ONLY)

    [int8] = [m for m in result.measures if m.tower == "image"]
    assert int8.candidate == "onnxruntime int8" and int8.agrees
    assert int8.mean_cosine >= AGREEMENT_ONLY.mean_cosine and int8.top10_overlap >= 0.9
    assert result.chosen["image"] == "onnxruntime int8" == embedder.image_engine
    assert embedder.precision == "int8" and not embedder.precision_check_pending
    assert (result.photos, result.texts) == (len(photos), len(SAMPLE_TEXTS))
    kept = json.loads(records.read_text())["pixseek-tiny--none"]
    assert kept["chosen"]["image"] == "onnxruntime int8" and kept["library"] == "the library"

    # another process on the same library, model and machine uses it without checking again
    again = auto_embedder(cache, records)
    assert again.image_engine == "onnxruntime int8" and not again.precision_check_pending
    # an embedder working for another library starts over
    again.follow_checks(tmp_path / "other-library.json")
    assert again.image_engine == "onnxruntime fp32" and again.precision_check_pending


def one_bit_image_tower(embedder: Embedder) -> Tower:
    """A deliberately broken quantization: every linear weight rounded to its sign times the
    layer's mean magnitude."""
    visual = copy.deepcopy(embedder.load().model.visual)
    with torch.no_grad():
        for module in visual.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(module.weight.sign() * module.weight.abs().mean())

    def run(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(visual(batch).numpy())

    return Tower("torch", "int1", run)


def test_a_broken_quantization_is_refused(cache: Path, tmp_path: Path, photos: list) -> None:
    embedder = auto_embedder(cache, tmp_path / "precision-checks.json")
    broken = {"image": {"torch int1": one_bit_image_tower(embedder)}}

    result = embedder.check_precision(photos, thresholds=AGREEMENT_ONLY, candidates=broken)

    [measure] = result.measures
    assert not measure.agrees and measure.min_cosine < AGREEMENT_ONLY.min_cosine
    assert result.chosen["image"] == "onnxruntime fp32" == embedder.image_engine
    assert "torch int1: disagrees" in result.summary()


def test_the_check_waits_for_enough_photos(cache: Path, tmp_path: Path, photos: list) -> None:
    embedder = auto_embedder(cache, tmp_path / "precision-checks.json")
    few = photos[: MIN_SAMPLE_PHOTOS - 10]
    assert embedder.note_embedded(few, final=True) is None, "too few for a check"
    assert embedder.precision_check_pending
    result = embedder.note_embedded(photos[len(few) : len(few) + 20], final=True)
    assert result is not None and result.photos == len(few) + 20
    assert not embedder.precision_check_pending
    assert embedder.note_embedded(photos, final=True) is None, "checked once"


def test_explicit_precisions_are_not_checked(cache: Path, tmp_path: Path) -> None:
    embedder = Embedder(TINY, device="cpu", precision="fp32", cache_dir=str(cache))
    embedder.follow_checks(tmp_path / "precision-checks.json")
    embedder.load()
    assert not embedder.precision_check_pending
    assert embedder.note_embedded([textured_rgb(i) for i in range(300)]) is None


def test_top_k_overlap_counts_shared_neighbours() -> None:
    scores = np.arange(20, dtype=float)[None, :]
    assert top_k_overlap(scores, scores) == 1.0
    swapped = scores.copy()
    swapped[0, [19, 0]] = swapped[0, [0, 19]]  # the best leaves the top 10, the worst enters
    assert top_k_overlap(scores, swapped) == pytest.approx(0.9)
