"""The OpenCLIP wrapper on the project's tiny model: real weights files are not needed."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from embed import Embedder, ModelSpecError, ModelUnavailableError, parse_model_spec
from embed.device import (
    candidate_precisions,
    choose_precision,
    choose_text_precision,
    cpu_has_bf16_units,
)
from embed.model import encode_text, int8_image_tower
from embed.weights import resolve_pretrained
from tests.imagegen import textured_rgb

AMX_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n"
OLD_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"
# AVX-512 bf16 without AMX: measured slower in bf16 than in fp32
AVX512_BF16_CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n"


def test_image_and_text_embeddings_are_normalised_float32(tiny_embedder: Embedder) -> None:
    images = tiny_embedder.embed_images([textured_rgb(i, (120, 90)) for i in range(5)])
    texts = tiny_embedder.embed_texts(["a red bicycle", "a dog on a beach"])
    assert images.shape == (5, tiny_embedder.dim) and texts.shape == (2, tiny_embedder.dim)
    assert images.dtype == texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(images[0], images[1])


def test_empty_batches_give_empty_arrays(tiny_embedder: Embedder) -> None:
    assert tiny_embedder.embed_images([]).shape == (0, tiny_embedder.dim)
    assert tiny_embedder.embed_texts([]).shape == (0, tiny_embedder.dim)


def test_a_batch_embeds_like_single_images(tiny_embedder: Embedder) -> None:
    pictures = [textured_rgb(i) for i in range(4)]
    batched = tiny_embedder.embed_images(pictures)
    single = np.concatenate([tiny_embedder.embed_images([p]) for p in pictures])
    np.testing.assert_allclose(batched, single, atol=2e-2)


def test_text_features_do_not_depend_on_the_padding_cut(tiny_embedder: Embedder) -> None:
    model = tiny_embedder.load().model
    texts = ["dog", "red bicycle by a canal at night", "beach " * 30]
    tokens = tiny_embedder.load().tokenizer(texts)
    with torch.inference_mode():
        whole, trimmed = model.encode_text(tokens), encode_text(model, tokens)
        alone = [encode_text(model, tokens[i : i + 1]) for i in range(len(texts))]
    np.testing.assert_allclose(trimmed.numpy(), whole.numpy(), atol=1e-5)
    np.testing.assert_allclose(torch.cat(alone).numpy(), whole.numpy(), atol=1e-5)
    assert int((tokens[0] != 0).sum()) < tokens.shape[1] // 10, "short texts are mostly padding"


def test_random_weights_are_the_same_in_every_process(tiny_embedder: Embedder) -> None:
    again = Embedder(parse_model_spec("pixseek-tiny"), device="cpu")  # as the fixture's
    text = ["the same words"]
    np.testing.assert_array_equal(again.embed_texts(text), tiny_embedder.embed_texts(text))


def test_concurrent_first_calls_build_one_model() -> None:
    embedder = Embedder(parse_model_spec("pixseek-tiny"), device="cpu")
    built: list[object] = []
    threads = [threading.Thread(target=lambda: built.append(embedder.load())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 4 and all(model is built[0] for model in built)


def test_precision_starts_in_fp32_and_checks_what_the_hardware_offers() -> None:
    assert cpu_has_bf16_units(AMX_CPUINFO) and not cpu_has_bf16_units(OLD_CPUINFO)
    assert choose_precision("cpu", "auto", AMX_CPUINFO) == "fp32"
    assert choose_precision("cuda", "auto", OLD_CPUINFO) == "fp16"
    assert choose_precision("cpu", "bf16", OLD_CPUINFO) == "bf16"
    assert candidate_precisions("cpu", "auto", "image", AMX_CPUINFO) == ["int8", "bf16"]
    # AVX-512 bf16 without AMX: bf16 is slower than fp32 for images, faster for short texts
    assert candidate_precisions("cpu", "auto", "image", AVX512_BF16_CPUINFO) == ["int8"]
    assert candidate_precisions("cpu", "auto", "text", AVX512_BF16_CPUINFO) == ["int8", "bf16"]
    assert candidate_precisions("cpu", "auto", "image", OLD_CPUINFO) == ["int8"]
    assert candidate_precisions("cpu", "fp32", "image", AMX_CPUINFO) == []
    assert candidate_precisions("cuda", "auto", "image", AMX_CPUINFO) == []
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_precision("cpu", "int4")


@pytest.mark.parametrize(
    ("device", "requested", "text_precision"),
    [("cpu", "auto", "fp32"), ("cpu", "int8", "fp32"), ("cpu", "bf16", "bf16"),
     ("cuda", "auto", "fp16")],
)  # fmt: skip
def test_texts_start_as_asked_and_int8_is_for_images(
    device: str, requested: str, text_precision: str
) -> None:
    assert choose_text_precision(device, requested, AMX_CPUINFO) == text_precision


def test_a_bf16_text_tower_agrees_with_fp32_and_leaves_images_alone() -> None:
    spec = parse_model_spec("pixseek-tiny")
    mixed = Embedder(spec, device="cpu", precision="fp32")
    mixed.start_text_precision = mixed.text_precision = "bf16"
    plain = Embedder(spec, device="cpu", precision="fp32")
    texts = ["a dog on a beach", "red bicycle by a canal at night"]
    similarity = np.sum(mixed.embed_texts(texts) * plain.embed_texts(texts), axis=1)
    assert similarity.min() > 0.99
    assert mixed.text_engine == "torch bf16" and plain.text_engine == "onnxruntime fp32"
    assert mixed.load().text_model is not mixed.load().model
    assert plain.load().text_model is plain.load().model
    picture = [textured_rgb(3)]
    np.testing.assert_array_equal(mixed.embed_images(picture), plain.embed_images(picture))


def test_int8_images_agree_with_fp32_and_run_on_the_cpu_only() -> None:
    spec = parse_model_spec("pixseek-tiny")
    pictures = [textured_rgb(i) for i in range(4)]
    int8 = Embedder(spec, device="cpu", precision="int8", engine="torch")
    fp32 = Embedder(spec, device="cpu", precision="fp32", engine="torch")
    similarity = np.sum(int8.embed_images(pictures) * fp32.embed_images(pictures), axis=1)
    assert similarity.min() > 0.99
    assert int8.image_engine == "torch int8" and fp32.image_engine == "torch fp32"
    dynamic = [m for m in modules_of(int8_image_tower(int8.load().model.visual))
               if "quantized.dynamic" in type(m).__module__]  # fmt: skip
    assert len(dynamic) == 2 * 2, "both MLP layers of each of the 2 blocks run in int8"
    with pytest.raises(ValueError, match="CPU only"):
        choose_precision("cuda", "int8")


def modules_of(module: torch.nn.Module) -> list[torch.nn.Module]:
    return list(module.modules())


def test_fp32_and_bf16_agree_closely() -> None:
    spec = parse_model_spec("pixseek-tiny")
    picture = [textured_rgb(11)]
    fp32 = Embedder(spec, device="cpu", precision="fp32").embed_images(picture)
    bf16 = Embedder(spec, device="cpu", precision="bf16").embed_images(picture)
    assert float(fp32[0] @ bf16[0]) > 0.99


@pytest.mark.parametrize(
    ("text", "architecture", "weights", "model_id"),
    [
        (
            "ViT-B-32:laion2b_s34b_b79k",
            "ViT-B-32",
            "laion2b_s34b_b79k",
            "vit-b-32--laion2b-s34b-b79k",
        ),
        ("ViT-B-32:/w/open_clip.bin", "ViT-B-32", "/w/open_clip.bin", "vit-b-32--local-open-clip"),
        ("ViT-B-32:none", "ViT-B-32", "none", "vit-b-32--none"),
        ("pixseek-tiny", "pixseek-tiny", "none", "pixseek-tiny--none"),
        ("local-dir:/models/clip", "local-dir:/models/clip", None, "local-dir-models-clip"),
    ],
)
def test_model_specs_parse(
    text: str, architecture: str, weights: str | None, model_id: str
) -> None:
    spec = parse_model_spec(text)
    assert (spec.architecture, spec.weights, spec.model_id) == (architecture, weights, model_id)


@pytest.mark.parametrize("text", ["", "ViT-B-32", "ViT-B-32:", ":laion2b", "local-dir:"])
def test_malformed_model_specs_say_which_forms_work(text: str) -> None:
    with pytest.raises(ModelSpecError, match="ARCHITECTURE:PRETRAINED_TAG"):
        parse_model_spec(text)


def test_an_unknown_pretrained_tag_lists_the_known_ones() -> None:
    with pytest.raises(ModelSpecError, match="laion2b_s34b_b79k"):
        resolve_pretrained(parse_model_spec("ViT-B-32:no_such_tag"))


def test_offline_download_says_how_to_use_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = parse_model_spec("ViT-B-32:laion2b_s34b_b79k")
    with pytest.raises(ModelUnavailableError) as caught:
        Embedder(spec, device="cpu", cache_dir=str(tmp_path)).load()
    message = str(caught.value)
    assert "PIXSEEK_MODEL=ViT-B-32:/path/to/open_clip_pytorch_model.bin" in message
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in message


def test_a_missing_weights_file_is_named(tmp_path: Path) -> None:
    spec = parse_model_spec(f"pixseek-tiny:{tmp_path}/missing.bin")
    with pytest.raises(ModelUnavailableError, match=r"missing\.bin"):
        Embedder(spec, device="cpu").load()


def test_a_local_weights_file_loads(tmp_path: Path) -> None:
    import torch

    reference = Embedder(parse_model_spec("pixseek-tiny"), device="cpu", precision="fp32")
    weights = tmp_path / "tiny.pt"
    torch.save(reference.load().model.state_dict(), weights)
    local = Embedder(parse_model_spec(f"pixseek-tiny:{weights}"), device="cpu", precision="fp32")
    picture = [Image.new("RGB", (64, 64), "orange")]
    np.testing.assert_allclose(
        local.embed_images(picture), reference.embed_images(picture), atol=1e-5
    )
