"""End-to-end indexing speed on camera-size JPEGs, against two peers' recipes.

Generates N 4000x3000 JPEGs (textured, quality 90, with EXIF) once, then in one run measures:

- pixseek: `Indexer.run` (the `pixseek index` path; the workers run the same Ingester): hash,
  draft decode, metadata, thumbnails, batched embedding in the precision pixseek chose for this
  machine, upsert, catalog, and the HNSW build at the end. With precision auto, the library's
  precision check runs first on up to 256 of its photos (timed and printed on its own: a
  library pays it once), so the timed run is the steady state;
- the OpenCLIP README recipe per image (`Image.open`, `preprocess`, fp32 `encode_image` of a
  batch of one, normalise), then an upsert of that one point into the same kind of index;
- the Immich recipe per image: a preview-size decode (Pillow draft, resized to 1440 px on the
  long side and written as a JPEG, as Immich's thumbnail job writes its preview), then what
  its machine-learning service does with the preview: decode, resize and centre-crop to the
  model's side, normalise, ONNX Runtime fp32 on a batch of one; then an upsert of that point;
- the model alone: batches of model-size pictures through every engine and precision.

ViT-B-32 with random weights costs the same FLOPs as the published ones.

    .venv/bin/python -m bench.ingest [--images 300] [--baseline-images 60] [--model ViT-B-32:none]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

from embed.agreement import SAMPLE_PHOTOS, SAMPLE_TEXTS
from embed.decode import decode_rgb, open_image
from embed.export import cached_export, export_root
from embed.model import Embedder
from embed.runtime import Tower, onnx_session
from embed.spec import parse_model_spec
from pixseek.index.base import IndexPoint
from pixseek.index.edge.shard import EdgeIndex
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.indexing.precision import follow_library
from pixseek.library import Library
from pixseek.photos.identity import point_id
from pixseek.photos.pipeline import shrink_for_model
from pixseek.settings import Settings, load_settings

CAMERA_SIZE = (4000, 3000)
CAMERAS = [("Canon", "Canon EOS 5D Mark IV"), ("FUJIFILM", "X-T3"), ("Apple", "iPhone 13")]
DEFAULT_LIBRARY = Path(tempfile.gettempdir()) / "pixseek-bench-camera-jpegs"
IMMICH_PREVIEW_SIDE = 1440  # Immich's default preview size, which its ML service reads


def camera_jpeg(seed: int) -> Image.Image:
    """A 12-MP picture with texture at several scales, so it costs what a photo costs to decode
    (a smooth picture compresses to a fraction of a camera file and decodes faster)."""
    rng = np.random.default_rng(seed)
    width, height = CAMERA_SIZE
    picture = np.zeros((height, width, 3), dtype=np.float32)
    for scale, strength in ((250, 120.0), (50, 50.0), (8, 25.0)):
        coarse = rng.normal(0, 1, size=(height // scale + 1, width // scale + 1, 3))
        layer = Image.fromarray(((coarse * 40) + 128).clip(0, 255).astype(np.uint8))
        layer = layer.resize((width, height), Image.Resampling.BILINEAR)
        picture += (np.asarray(layer, dtype=np.float32) - 128) * (strength / 40)
    picture += 128 + 6 * rng.standard_normal(size=(height, width, 3), dtype=np.float32)  # grain
    return Image.fromarray(picture.clip(0, 255).astype(np.uint8))


def write_camera_jpeg(args: tuple[Path, int]) -> None:
    path, seed = args
    make, model = CAMERAS[seed % len(CAMERAS)]
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = make, model, 1  # Make, Model, Orientation
    exif.get_ifd(0x8769)[0x9003] = f"2023:{1 + seed % 12:02d}:{1 + seed % 28:02d} 12:00:00"
    camera_jpeg(seed).save(path, "JPEG", quality=90, exif=exif.tobytes())


def ensure_library(folder: Path, count: int) -> list[Path]:
    """count camera JPEGs in folder, made once and kept for later runs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"IMG_{i:05d}.jpg" for i in range(count)]
    missing = [(p, i) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        print(f"writing {len(missing)} camera JPEGs (4000x3000, quality 90) to {folder}")
        with multiprocessing.Pool(os.cpu_count()) as pool:
            pool.map(write_camera_jpeg, missing)
    return paths


def linked_set(library: Path, paths: list[Path]) -> Path:
    """A folder holding exactly these photos (hard links into the kept library): links left
    by an earlier run with another --images are removed, so the run indexes what it says."""
    folder = library / "pixseek"
    folder.mkdir(exist_ok=True)
    wanted = {path.name for path in paths}
    for stale in folder.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for path in paths:
        if not (folder / path.name).exists():
            os.link(path, folder / path.name)
    return folder


def timed_pixseek(settings: Settings, folder: Path, count: int) -> float:
    """images/s of a fresh `pixseek index` of folder (the model loaded beforehand, and on
    precision auto the library's precision check made first)."""
    with Library(settings) as library:
        embedder = library.embedder
        follow_library(embedder, settings)
        embedder.load()
        if embedder.precision_check_pending:
            precision_check(embedder, sorted(folder.iterdir()), settings)
        indexer = Indexer(Ingester.of(library))
        started = time.perf_counter()
        report = indexer.run([str(folder)])
        seconds = time.perf_counter() - started
        engines = f"images {embedder.image_engine}, texts {embedder.text_engine}"
    assert report.indexed == count and not report.failed, report.as_dict()
    print(f"  pixseek: {count} images in {seconds:.1f} s, {engines}")
    return count / seconds


def precision_check(embedder: Embedder, paths: list[Path], settings: Settings) -> None:
    """The library's precision check, on up to SAMPLE_PHOTOS of its photos decoded as the
    indexer decodes them; its own time is printed (a library pays it once)."""
    side = embedder.image_size
    sample = []
    for path in paths[:SAMPLE_PHOTOS]:
        with open_image(path) as image:
            sample.append(shrink_for_model(decode_rgb(image, min_side=side), side))
    started = time.perf_counter()
    result = embedder.check_precision(
        sample, str(settings.data_dir), batch_size=settings.batch_size
    )
    print(f"  precision check ({time.perf_counter() - started:.1f} s): {result.summary()}")


def timed_baseline(architecture: str, paths: list[Path], data: Path) -> float:
    """images/s of the OpenCLIP README recipe, one image at a time, each upserted on its own."""
    model, _, preprocess = open_clip.create_model_and_transforms(architecture, pretrained=None)
    model.eval()
    index = EdgeIndex(data / "baseline-index")
    with torch.no_grad():
        dim = int(model.encode_image(torch.zeros(1, 3, 224, 224)).shape[1])
        index.ensure_vector("baseline", dim)
        started = time.perf_counter()
        for path in paths:
            image = preprocess(Image.open(path)).unsqueeze(0)
            features = model.encode_image(image)
            features /= features.norm(dim=-1, keepdim=True)
            vector = features[0].numpy()
            point = IndexPoint(point_id(str(path)), {"baseline": vector}, {"path": str(path)})
            index.upsert([point])
        index.flush()
        seconds = time.perf_counter() - started
    index.close()
    print(f"  baseline: {len(paths)} images in {seconds:.1f} s")
    return len(paths) / seconds


def timed_immich(architecture: str, model: str, paths: list[Path], cache: Path) -> float:
    """images/s of the Immich recipe: per photo a preview-size decode written as a JPEG, then
    the ML service's steps on that preview with ONNX Runtime fp32, batch of one; an upsert."""
    embedder = Embedder(parse_model_spec(model), device="cpu", precision="fp32", engine="torch")
    loaded = embedder.load()
    export = cached_export(loaded.model, embedder.model_id, loaded.image_size, export_root(cache))
    session = onnx_session(export.path("image"))
    index = EdgeIndex(cache / "immich-index")
    index.ensure_vector("immich", loaded.dim)
    started = time.perf_counter()
    for path in paths:
        preview = immich_preview(path)
        pixels = loaded.preprocess(Image.open(io.BytesIO(preview)).convert("RGB"))
        features = session.run(None, {"input": pixels.unsqueeze(0).numpy()})[0][0]
        vector = features / np.linalg.norm(features)
        index.upsert([IndexPoint(point_id(str(path)), {"immich": vector}, {"path": str(path)})])
    index.flush()
    seconds = time.perf_counter() - started
    index.close()
    print(f"  Immich recipe: {len(paths)} images in {seconds:.1f} s")
    return len(paths) / seconds


def immich_preview(path: Path) -> bytes:
    """The photo at preview size (long side 1440) as a JPEG, as Immich's thumbnail job makes
    it from a camera file before its ML service reads it."""
    with Image.open(path) as image:
        image.draft("RGB", (IMMICH_PREVIEW_SIDE, IMMICH_PREVIEW_SIDE))
        image.thumbnail((IMMICH_PREVIEW_SIDE, IMMICH_PREVIEW_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def model_only(model: str, cache: Path, batch_size: int, batches: int = 4) -> list[str]:
    """Each engine and precision alone: images/s on batches of model-size pictures in
    pixseek's batch size, and ms per text query (one at a time, texts of several lengths)."""
    rows = []
    for engine in ("torch", "onnxruntime"):
        embedder = Embedder(parse_model_spec(model), device="cpu", precision="fp32",
                            cache_dir=str(cache), engine=engine)  # fmt: skip
        loaded = embedder.load()
        side = loaded.image_size
        pictures = [loaded.preprocess(camera_jpeg(i).resize((side, side))) for i in range(2)]
        pixels = torch.stack([pictures[i % 2] for i in range(batch_size)])
        tokens = [loaded.tokenizer([text]) for text in SAMPLE_TEXTS[:16]]
        for precision in ("fp32", "int8", "bf16"):
            try:
                image = embedder.tower("image", precision, engine)
            except ValueError:
                continue  # ONNX Runtime runs no bf16 here
            rows.append(f"{image.label}: {timed_tower(image, [pixels] * batches):.1f} img/s"
                        + text_latency(embedder, precision, engine, tokens))  # fmt: skip
    return rows


def text_latency(
    embedder: Embedder, precision: str, engine: str, tokens: list[torch.Tensor]
) -> str:
    try:
        text = embedder.tower("text", precision, engine)
    except ValueError:
        return ""  # PyTorch runs no int8 text tower
    for one in tokens:  # each length once first: bf16 kernels are made per shape
        text.run(one)
    per_query = 1 / timed_tower(text, tokens)
    return f", a text query {1000 * per_query:.1f} ms"


def timed_tower(tower: Tower, inputs: list[torch.Tensor]) -> float:
    """Items per second through the tower (after one warm-up run)."""
    tower.run(inputs[0])
    started = time.perf_counter()
    for batch in inputs:
        tower.run(batch)
    return sum(len(batch) for batch in inputs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--baseline-images", type=int, default=60)
    parser.add_argument("--model", default="ViT-B-32:none")
    parser.add_argument("--library", type=Path, default=DEFAULT_LIBRARY)
    parser.add_argument("--precision", default="auto", help="PIXSEEK_PRECISION for pixseek")
    parser.add_argument("--decode-threads", type=int, default=None)
    args = parser.parse_args()

    paths = ensure_library(args.library, max(args.images, args.baseline_images))
    folder = linked_set(args.library, paths[: args.images])
    megabytes = np.mean([p.stat().st_size for p in paths]) / 1e6
    print(f"{len(paths)} JPEGs of 4000x3000, {megabytes:.1f} MB on average; {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="pixseek-bench-") as scratch:
        cache = Path(scratch) / "models"
        settings = load_settings(
            data_dir=Path(scratch) / "data", model=args.model, device="cpu",
            precision=args.precision, decode_threads=args.decode_threads, model_cache_dir=cache,
        )  # fmt: skip
        ingest = timed_pixseek(settings, folder, args.images)
        architecture = parse_model_spec(args.model).architecture
        peers = paths[: args.baseline_images]
        baseline = timed_baseline(architecture, peers, Path(scratch))
        immich = timed_immich(architecture, args.model, peers, cache)
        models = model_only(args.model, cache, settings.batch_size)
    print("model alone:\n  " + "\n  ".join(models))
    print(
        f"ingest: {ingest:.1f} img/s, OpenCLIP README recipe {baseline:.1f} img/s "
        f"(ratio {ingest / baseline:.1f}), Immich recipe {immich:.1f} img/s "
        f"(ratio {ingest / immich:.1f})"
    )


if __name__ == "__main__":
    main()
