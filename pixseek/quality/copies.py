"""A copy-detection set made from the user's own library: N photos picked at random, and edited
copies of each written into the eval's own folder (never into a library folder).

Each original queries for its copies; each copy for its original (the other copies of the same
photo are junk for it: neither right nor wrong). A manifest.json in the folder records what was
made, so the same --copies and --seed make nothing again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from embed.decode import decode_rgb, open_image
from embed.errors import ImageDecodeError
from pixseek.errors import QueryError
from pixseek.index.base import VectorIndex
from pixseek.quality.evalset import EvalQuery, EvalSet, doc_key
from pixseek.quality.transforms import TRANSFORMS

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
COPY_SIDE = 1024  # originals are read at most this large: copies are for finding, not keeping
COPY_QUALITY = 90  # every copy is written as a JPEG of this quality (jpeg's own is lower)


@dataclass(frozen=True)
class Original:
    """A library photo a copy is made of."""

    point_id: str
    path: Path


def pick_originals(index: VectorIndex, count: int, seed: int) -> list[Original]:
    """count photos of the index whose first file is on disk, picked at random with seed."""
    found: list[Original] = []
    start: str | None = None
    while True:
        points, start = index.scroll(None, 1000, start)
        for point in points:
            paths = point.payload.get("paths") or []
            if paths and Path(paths[0]).is_file():
                found.append(Original(point.id, Path(paths[0])))
        if start is None:
            break
    if len(found) < count:
        raise QueryError(f"--copies {count}: the library holds {len(found)} photos on disk")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(found), size=count, replace=False)
    return [found[i] for i in sorted(chosen)]


def make_copy_set(
    originals: Sequence[Original],
    folder: Path,
    seed: int,
    transforms: Sequence[str] = tuple(TRANSFORMS),
    distractors: int = 0,
) -> EvalSet:
    """Write each original's copies into folder (made again only when the manifest differs)
    and answer the eval set: originals and copies, their queries, the library's other photos
    as up to `distractors` distractors."""
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        raise QueryError(f"unknown transforms {', '.join(unknown)}; known: {', '.join(TRANSFORMS)}")
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {
        "seed": seed,
        "transforms": list(transforms),
        "originals": [str(o.path) for o in originals],
    }
    copies = _written_copies(folder, wanted) or _write_copies(originals, folder, seed, transforms)
    (folder / MANIFEST).write_text(json.dumps(wanted | {"copies": copies}, indent=1))
    return _copy_queries(originals, copies, distractors)


def _written_copies(folder: Path, wanted: dict[str, object]) -> dict[str, dict[str, str]] | None:
    """The copies a previous run made, when it made the same set and they are all there."""
    try:
        made = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if {k: made.get(k) for k in wanted} != wanted:
        return None
    copies: dict[str, dict[str, str]] = made.get("copies") or {}
    every = [Path(p) for by_transform in copies.values() for p in by_transform.values()]
    return copies if every and all(p.is_file() for p in every) else None


def _write_copies(
    originals: Sequence[Original], folder: Path, seed: int, transforms: Sequence[str]
) -> dict[str, dict[str, str]]:
    """{original path: {transform: copy path}}; an original that no longer decodes is left out."""
    copies: dict[str, dict[str, str]] = {}
    for number, original in enumerate(originals):
        try:
            picture = _read(original.path)
        except (ImageDecodeError, OSError) as exc:
            log.warning("no copies of %s: %s", original.path, exc)
            continue
        made: dict[str, str] = {}
        for position, name in enumerate(transforms):
            rng = np.random.default_rng([seed, number, position])
            target = folder / f"{number:05d}-{name}.jpg"
            TRANSFORMS[name](picture, rng).convert("RGB").save(target, quality=COPY_QUALITY)
            made[name] = str(target)
        copies[str(original.path)] = made
    return copies


def _read(path: Path) -> Image.Image:
    with open_image(path) as image:
        picture = decode_rgb(image, min_side=COPY_SIDE)
    if max(picture.size) > COPY_SIDE:
        picture.thumbnail((COPY_SIDE, COPY_SIDE), Image.Resampling.BILINEAR)
    return picture


def _copy_queries(
    originals: Sequence[Original], copies: dict[str, dict[str, str]], distractors: int
) -> EvalSet:
    images: list[Path] = []
    queries: list[EvalQuery] = []
    for original in originals:
        made = copies.get(str(original.path))
        if not made:
            continue
        source = doc_key(original.path)
        copy_keys = {name: doc_key(Path(p)) for name, p in made.items()}
        images += [original.path, *(Path(p) for p in made.values())]
        relevant = dict.fromkeys(copy_keys.values(), 1)
        queries.append(EvalQuery(source, "image", relevant, image=original.path, group="original"))
        for name, key in copy_keys.items():
            siblings = frozenset(copy_keys.values()) - {key}
            queries.append(
                EvalQuery(key, "image", {source: 1}, siblings, image=Path(made[name]), group=name)
            )
    details = {"originals": len(copies), "copies": sum(len(m) for m in copies.values())}
    return EvalSet("copy detection", images, queries, distractors, details)
