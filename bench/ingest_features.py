"""What ingest pays per photo for the perceptual hashes and the re-ranking features: taken of the
decode (as ingest did first) or of the grid thumbnail's picture (as it does now: the thumbnail
is made anyway, so its reduction is not paid twice). Real photographs, decoded as ingest
decodes them for ViT-B-32 (224 px): matplotlib's grace_hopper.jpg (512x600) as it is, enlarged
to 1000x1170, and enlarged to a 12-MP-like 3413x4000 JPEG (which decodes at a 1/8 draft), plus
any photo named on the command line.

The two ways run interleaved, round after round; the minimum over the rounds is quoted (the
machine is shared, and a minimum is what the work costs when nothing else runs), with the
median beside it, and the sum of each part's minimum (hashes, grey 320 px picture, ORB,
keeping the file), which a busy machine disturbs least. Also printed: how far the hashes
and the features of the two ways are apart (pHash/dHash bits; RANSAC inliers of one way's
features against the other's).

    .venv/bin/python -m bench.ingest_features [--rounds 30] [PHOTO ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import imagehash
import matplotlib
import numpy as np
from PIL import Image

from embed.decode import decode_rgb, open_image
from pixseek.photos.identity import perceptual_hashes
from pixseek.photos.thumbnails import decode_side_for, grid_thumbnail
from pixseek.search.rerank import FeatureFiles, Features, OrbMatcher, grey_for_features

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
MODEL_SIDE = 224  # ViT-B-32's input
SHA = "ab" * 32


def sources(folder: Path, extra: list[Path]) -> dict[str, Path]:
    """The photos measured: the sample as it is, and enlarged (written as JPEGs, quality 92)."""
    found = {"grace_hopper 512x600": PHOTO}
    with Image.open(PHOTO) as photo:
        for size in [(1000, 1170), (3413, 4000)]:
            path = folder / f"grace_hopper-{size[0]}x{size[1]}.jpg"
            photo.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(path, quality=92)
            found[f"grace_hopper enlarged to {size[0]}x{size[1]}"] = path
    found.update({p.name: p for p in extra})
    return found


def decoded(path: Path) -> Image.Image:
    """As ingest decodes it: one decode sized for the model and the grid thumbnail."""
    with open_image(path) as image:
        side = decode_side_for(image.width, image.height, MODEL_SIDE)
        return decode_rgb(image, min_side=side)


def parts(picture: Image.Image, thumbs: Path) -> dict[str, float]:
    """The work ingest adds for quality, timed part by part (ms): the perceptual hashes, the
    grey 320 px picture, its ORB features, and keeping them (thumbs/ab/<sha>-orb.npz)."""
    took = {"hashes": timed(partial(perceptual_hashes, picture))}
    grey: list[np.ndarray] = []
    took["grey"] = timed(lambda: grey.append(grey_for_features(picture)))
    found: list[Features] = []
    took["orb"] = timed(lambda: found.append(OrbMatcher().features(grey[0])))
    took["keep"] = timed(partial(FeatureFiles(thumbs).write, SHA, found[0]))
    return took


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def agreement(rgb: Image.Image, grid: Image.Image) -> str:
    """Hash bits apart, and how many of the features' matches a homography verifies."""
    before, after = perceptual_hashes(rgb), perceptual_hashes(grid)
    apart = {
        name: imagehash.hex_to_hash(before[name]) - imagehash.hex_to_hash(after[name])
        for name in before
    }
    matcher = OrbMatcher()
    old = matcher.features(grey_for_features(rgb))
    new = matcher.features(grey_for_features(grid))
    inliers = matcher.inliers(new, old)
    return (
        f"pHash {apart['phash']} bits apart, dHash {apart['dhash']}; keypoints "
        f"{len(old.points)} / {len(new.points)}, {inliers} inliers between them"
    )


def measure(name: str, path: Path, rounds: int, folder: Path) -> None:
    rgb = decoded(path)
    grid = grid_thumbnail(rgb, SHA, folder / "grid")
    ways = {"decode": (rgb, folder / "a"), "grid": (grid, folder / "b")}
    took: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
    for round_ in range(rounds):  # interleaved, each first in turn: both see the same load
        for way in sorted(ways, reverse=bool(round_ % 2)):
            took[way].append(parts(*ways[way]))
    print(f"{name}: decoded {rgb.width}x{rgb.height}, grid {grid.width}x{grid.height}")
    for way, measured in took.items():
        least = {part: min(m[part] for m in measured) for part in measured[0]}
        whole = [sum(m.values()) for m in measured]
        each = ", ".join(f"{part} {ms:.2f}" for part, ms in least.items())
        print(
            f"  of the {way:6}: min {min(whole):5.2f} ms, median {statistics.median(whole):5.2f}; "
            f"parts' minimums {each} (sum {sum(least.values()):.2f})"
        )
    print(f"  {agreement(rgb, grid)}")
    kept = FeatureFiles(folder / "b").path(SHA).stat().st_size
    print(f"  features file {kept / 1000:.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("photos", nargs="*", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, path in sources(Path(folder), args.photos).items():
            measure(name, path, args.rounds, Path(folder))


if __name__ == "__main__":
    main()
