"""A generated library for text search, and the queries that measure it (`pixseek eval --words`):
camera file names in trip folders, keywords and titles written with exiv2, GPS of known cities.

    python -m tests.wordlib ROOT   # ROOT/photos and ROOT/word-queries.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import pyexiv2

from tests.imagegen import ExifSpec, textured_rgb, write_image

FOLDERS = ("trips/tokyo-2019-03", "trips/paris-2021-07", "trips/lisbon-2022-05",
           "home/garden", "work/whiteboards", "phone/camera")  # fmt: skip
KEYWORDS = (("lighthouse", "coast"), ("birthday", "cake"), ("snow", "mountain"),
            ("harbour", "boats"), ("wedding", "family"))  # fmt: skip
TITLES = ("Morning market", "Old tram", "Sunset over the river", "Grandmother's kitchen")
CITIES = {"Tokyo": (35.6895, 139.6917), "Paris": (48.8566, 2.3522),
          "Lisbon": (38.7223, -9.1393), "Nairobi": (-1.2864, 36.8172)}  # fmt: skip


def _name(i: int) -> str:
    prefix = ("IMG_", "DSC_", "PXL_2021070", "P100")[i % 4]
    return f"{prefix}{2000 + i * 7}.jpg"


def generate(root: Path, count: int = 120) -> list[dict[str, object]]:
    """count photos under root/photos; answers the queries, each with its relevant names (a
    place's: those taken there by their GPS, and those in a trip folder named after it)."""
    wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
    for i in range(count):
        name, folder = _name(i), FOLDERS[i % len(FOLDERS)]
        located = i % 5 < len(CITIES) and "-" not in folder  # trip folders say where already
        city = list(CITIES)[i % 5] if located else None
        path = write_image(root / "photos" / folder / name, textured_rgb(i),
                           ExifSpec(gps=CITIES[city]) if city else None)  # fmt: skip
        xmp = _words(i)
        if xmp:
            with pyexiv2.Image(str(path)) as metadata:
                metadata.modify_xmp(xmp)
        if i % 9 == 0:
            wanted[("name", name.removesuffix(".jpg"))].append(name)
        trip = folder.split("/")[-1]
        if "-" in trip:  # a trip folder: its place and year find it, its place is the place too
            wanted[("folder", " ".join(trip.split("-")[:2]))].append(name)
            wanted[("place", trip.split("-")[0].title())].append(name)
        for keyword in KEYWORDS[i % len(KEYWORDS)] if i % 4 == 1 else ():
            wanted[("keyword", keyword)].append(name)
        if city:
            wanted[("place", city)].append(name)
    return [
        {"text": text, "kind": kind, "relevant": sorted(set(names))}
        for (kind, text), names in wanted.items()
    ]


def _words(i: int) -> dict[str, object]:
    xmp: dict[str, object] = {}
    if i % 4 == 1:
        xmp["Xmp.dc.subject"] = list(KEYWORDS[i % len(KEYWORDS)])
    if i % 10 == 3:
        xmp["Xmp.dc.title"] = {'lang="x-default"': TITLES[i % len(TITLES)]}
    return xmp


if __name__ == "__main__":
    target = Path(sys.argv[1])
    queries = generate(target)
    lines = "".join(json.dumps(q) + "\n" for q in queries)
    (target / "word-queries.jsonl").write_text(lines)
    print(f"{len(queries)} queries, photos in {target / 'photos'}")
