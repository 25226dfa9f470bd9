"""End-to-end indexing speed on camera-size JPEGs, against the OpenCLIP README recipe.

Generates N 4000x3000 JPEGs (textured, quality 90, with EXIF) once, then in one run measures:

- pixseek: `Indexer.run` (the `pixseek index` path; the workers run the same Ingester): hash,
  draft decode, metadata, thumbnails, batched embedding in the precision pixseek chose for this
  machine, upsert, catalog, and the HNSW build at the end;
- the baseline: the OpenCLIP README recipe per image (`Image.open`, `preprocess`, fp32
  `encode_image` of a batch of one, normalise), then an upsert of that one point into the same
  kind of index;
- the model alone: batches of already-shrunk pictures through pixseek's embedder.

ViT-B-32 with random weights costs the same FLOPs as the published ones.

    .venv/bin/python -m bench.ingest [--images 300] [--baseline-images 60] [--model ViT-B-32:none]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image

from embed.spec import parse_model_spec
from pixseek.index.base import IndexPoint
from pixseek.index.edge.shard import EdgeIndex
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.library import Library
from pixseek.photos.identity import point_id
from pixseek.settings import Settings, load_settings

CAMERA_SIZE = (4000, 3000)
CAMERAS = [("Canon", "Canon EOS 5D Mark IV"), ("FUJIFILM", "X-T3"), ("Apple", "iPhone 13")]
DEFAULT_LIBRARY = Path(tempfile.gettempdir()) / "pixseek-bench-camera-jpegs"


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


def timed_pixseek(settings: Settings, folder: Path, count: int) -> float:
    """images/s of a fresh `pixseek index` of folder (the model loaded beforehand)."""
    with Library(settings) as library:
        library.embedder.load()
        indexer = Indexer(Ingester.of(library))
        started = time.perf_counter()
        report = indexer.run([str(folder)])
        seconds = time.perf_counter() - started
        precision = library.embedder.precision
    assert report.indexed == count and not report.failed, report.as_dict()
    print(f"  pixseek: {count} images in {seconds:.1f} s, precision {precision}")
    return count / seconds


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


def model_only(settings: Settings, batches: int = 4) -> float:
    """images/s of the embedder alone on model-size pictures, in pixseek's batch and precision."""
    with Library(settings) as library:
        embedder = library.embedder
        side = embedder.image_size
        pictures = [camera_jpeg(i).resize((side, side)) for i in range(2)]
        batch = [pictures[i % 2] for i in range(settings.batch_size)]
        embedder.embed_images(batch)  # warm up
        started = time.perf_counter()
        for _ in range(batches):
            embedder.embed_images(batch)
        return batches * len(batch) / (time.perf_counter() - started)


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
    folder = args.library / "pixseek"  # exactly --images files, linked from the kept library
    folder.mkdir(exist_ok=True)
    for path in paths[: args.images]:
        if not (folder / path.name).exists():
            os.link(path, folder / path.name)
    megabytes = np.mean([p.stat().st_size for p in paths]) / 1e6
    print(f"{len(paths)} JPEGs of 4000x3000, {megabytes:.1f} MB on average; {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="pixseek-bench-") as scratch:
        settings = load_settings(
            data_dir=Path(scratch) / "data", model=args.model, device="cpu",
            precision=args.precision, decode_threads=args.decode_threads,
        )  # fmt: skip
        ingest = timed_pixseek(settings, folder, args.images)
        architecture = parse_model_spec(args.model).architecture
        baseline = timed_baseline(architecture, paths[: args.baseline_images], Path(scratch))
        model = model_only(settings)
    print(
        f"ingest: {ingest:.1f} img/s, baseline {baseline:.1f} img/s, "
        f"ratio {ingest / baseline:.1f}, model-only {model:.1f} img/s"
    )


if __name__ == "__main__":
    main()
