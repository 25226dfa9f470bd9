"""ONNX Runtime beside PyTorch: the export matches PyTorch at load, is cached by model, weights
and runtime, and PyTorch runs when the runtime is missing or its export disagrees."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from embed import Embedder, parse_model_spec
from embed.device import cpu_has_vnni
from embed.export import MANIFEST, cached_export, export_root, quantized
from embed.runtime import PARITY_MIN_COSINE, cosines, onnx_tower
from tests.imagegen import textured_rgb

TINY = parse_model_spec("pixseek-tiny")
TEXTS = ["a dog on a beach", "red bicycle by a canal at night", "x", "beach " * 40]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the module: the tiny model is exported into it once."""
    return tmp_path_factory.mktemp("model-cache")


def exports(cache: Path, model_id: str = "pixseek-tiny") -> list[Path]:
    return sorted(p for p in export_root(cache).glob(f"{model_id}*") if p.is_dir())


def test_the_onnx_export_gives_pytorchs_embeddings_within_the_tolerance(cache: Path) -> None:
    older = export_root(cache) / "pixseek-tiny--none-0123456789abcdef"  # from an old runtime
    older.mkdir(parents=True)
    (older / MANIFEST).write_text(json.dumps({"model_id": "pixseek-tiny--none"}))
    onnx = Embedder(TINY, device="cpu", precision="fp32", cache_dir=str(cache))
    plain = Embedder(TINY, device="cpu", precision="fp32", engine="torch")
    assert onnx.image_engine == onnx.text_engine == "onnxruntime fp32"
    assert plain.image_engine == plain.text_engine == "torch fp32"
    pictures = [textured_rgb(i, (80 + i, 64)) for i in range(5)]
    assert cosines(onnx.embed_images(pictures), plain.embed_images(pictures)).min() >= (
        PARITY_MIN_COSINE
    )
    # one text at a time and several of different lengths (the export cuts the padding)
    alone = np.concatenate([onnx.embed_texts([text]) for text in TEXTS[:2]])
    assert cosines(alone, plain.embed_texts(TEXTS[:2])).min() >= PARITY_MIN_COSINE
    assert cosines(onnx.embed_texts(TEXTS), plain.embed_texts(TEXTS)).min() >= PARITY_MIN_COSINE
    [folder] = exports(cache)  # the older export was removed when this one was made
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["model_id"] == "pixseek-tiny--none" and manifest["onnxruntime"] != "none"


def test_the_export_is_reused_and_new_weights_get_their_own(cache: Path, tmp_path: Path) -> None:
    Embedder(TINY, device="cpu", cache_dir=str(cache)).load()
    [folder] = exports(cache)
    made = (folder / MANIFEST).stat().st_mtime_ns
    Embedder(TINY, device="cpu", cache_dir=str(cache)).load()
    assert exports(cache) == [folder] and (folder / MANIFEST).stat().st_mtime_ns == made

    weights = tmp_path / "tiny.pt"
    state = Embedder(TINY, device="cpu", engine="torch").load().model.state_dict()
    state["visual.proj"] = state["visual.proj"] * 2  # other weights, same architecture
    torch.save(state, weights)
    other = Embedder(parse_model_spec(f"pixseek-tiny:{weights}"), device="cpu",
                     cache_dir=str(cache))  # fmt: skip
    assert other.image_engine == "onnxruntime fp32"
    assert len(exports(cache)) == 2


def test_an_export_that_disagrees_with_pytorch_falls_back_and_is_removed(
    cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Embedder(TINY, device="cpu", cache_dir=str(cache)).load()
    [exported] = exports(cache, TINY.model_id)
    shutil.copytree(exported, export_root(tmp_path) / exported.name)
    [folder] = exports(tmp_path)
    # a corrupted export: the image tower's weights (its external data) scrambled
    data = folder / "image.onnx.data"
    values = np.frombuffer(data.read_bytes(), dtype=np.float32).copy()
    np.random.default_rng(0).shuffle(values)
    data.write_bytes(values.tobytes())

    with caplog.at_level(logging.WARNING, logger="embed.model"):
        broken = Embedder(TINY, device="cpu", cache_dir=str(tmp_path))
        assert broken.image_engine == broken.text_engine == "torch fp32"
    assert "disagrees with PyTorch" in caplog.text
    assert exports(tmp_path) == []  # removed: the next start exports again
    plain = Embedder(TINY, device="cpu", engine="torch")
    picture = [textured_rgb(3)]
    np.testing.assert_allclose(broken.embed_images(picture), plain.embed_images(picture))


def test_without_onnxruntime_pytorch_runs(tmp_path: Path) -> None:
    """onnxruntime made unimportable the way Python itself does it (a None in sys.modules
    makes `import onnxruntime` raise ImportError), in a process of its own."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["onnxruntime"] = None
        from embed import Embedder, parse_model_spec
        from tests.imagegen import textured_rgb

        embedder = Embedder(parse_model_spec("pixseek-tiny"), device="cpu",
                            cache_dir={str(tmp_path)!r})
        vectors = embedder.embed_images([textured_rgb(3)])
        print(json.dumps({{"image": embedder.image_engine, "text": embedder.text_engine,
                          "vector": vectors[0].tolist()}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["image"] == found["text"] == "torch fp32"
    assert "ONNX Runtime is not installed" in done.stderr
    assert not export_root(tmp_path).exists(), "nothing exported without the runtime"
    plain = Embedder(TINY, device="cpu", engine="torch").embed_images([textured_rgb(3)])
    np.testing.assert_allclose(np.array(found["vector"]), plain[0], atol=1e-6)


def test_int8_weights_are_signed_with_vnni_and_unsigned_without(cache: Path) -> None:
    assert cpu_has_vnni("flags\t: fpu avx2 avx512f avx512_vnni") and cpu_has_vnni("flags: avx_vnni")
    assert not cpu_has_vnni("flags\t: fpu sse4_2 avx2 avx512f avx512bw")
    model = Embedder(TINY, device="cpu", engine="torch").load().model
    side = int(model.visual.image_size[0])
    export = cached_export(model, "pixseek-tiny--none", side, export_root(cache))
    pixels = torch.rand(4, 3, side, side)
    exact = onnx_tower(export.path("image"), "image", "fp32", False).run(pixels)
    for signed, name in ((True, "image-int8.onnx"), (False, "image-int8u8.onnx")):
        path = quantized(export, "image", signed_weights=signed)
        assert path.name == name
        assert cosines(onnx_tower(path, "image", "int8", False).run(pixels), exact).min() > 0.99
