"""A generated photo library of ~300 real files, with a manifest of what each one holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.imagegen import ExifSpec, textured_rgb, write_corrupt, write_image

CAMERAS = [("Canon", "Canon EOS 5D"), ("Apple", "iPhone 12"), ("FUJIFILM", "X-T3")]
SUFFIXES = [".jpg", ".png", ".webp"]


@dataclass(frozen=True)
class LibraryPhoto:
    path: Path
    taken: str | None  # ISO wall-clock, when EXIF holds a date
    camera: tuple[str, str] | None
    orientation: int | None


@dataclass(frozen=True)
class GeneratedLibrary:
    root: Path
    photos: list[LibraryPhoto]
    corrupt: list[Path]


def _spec(i: int) -> ExifSpec | None:
    orientation = 2 + i % 7 if i % 5 == 0 else None
    dated = i % 3 == 0
    if not dated and orientation is None:
        return None
    make, model = CAMERAS[(i // 3) % len(CAMERAS)]
    n = i // 3
    year, month, day, hour = 2019 + n % 4, 1 + (5 * n) % 12, 1 + n % 28, (7 * n) % 24
    return ExifSpec(
        orientation=orientation,
        taken=f"{year}:{month:02d}:{day:02d} {hour:02d}:30:00" if dated else None,
        make=make if dated else None,
        model=model if dated else None,
    )


def generate_library(
    root: Path, count: int = 297, size: tuple[int, int] = (96, 64)
) -> GeneratedLibrary:
    """count valid pictures in three formats and three folders, plus three corrupt files."""
    photos = []
    for i in range(count):
        path = root / f"album{i % 3}" / f"img{i:04d}{SUFFIXES[i % 3]}"
        spec = _spec(i)
        write_image(path, textured_rgb(i, size), spec)
        taken = spec.taken.replace(":", "-", 2).replace(" ", "T") if spec and spec.taken else None
        camera = (spec.make, spec.model) if spec and spec.make and spec.model else None
        photos.append(LibraryPhoto(path, taken, camera, spec.orientation if spec else None))
    corrupt = [
        write_corrupt(root / "broken" / "truncated.jpg", "truncated"),
        write_corrupt(root / "broken" / "garbage.png", "garbage"),
        write_corrupt(root / "broken" / "empty.webp", "empty"),
    ]
    return GeneratedLibrary(root, photos, corrupt)
