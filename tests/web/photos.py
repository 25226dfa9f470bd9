"""Small libraries of real JPEGs with EXIF (date, camera, and GPS for some) for the web app's
tests."""

from __future__ import annotations

from pathlib import Path

from tests.imagegen import ExifSpec, textured_rgb, write_image

CAMERAS = [("Canon", "Canon EOS 5D"), ("FUJIFILM", "X-T3")]
TOKYO = (35.6895, 139.6917)  # Shinjuku: the geocoder names it Tokyo, Tokyo, Japan


def taken_in_tokyo(seed: int) -> bool:
    """Whether the picture made from seed carries GPS coordinates (in Tokyo); the others none."""
    return seed % 5 == 2


def camera_of(seed: int) -> str:
    """What the API shows as the camera of the picture made from seed."""
    make, model = CAMERAS[seed % len(CAMERAS)]
    return model if model.lower().startswith(make.lower()) else f"{make} {model}"


def write_jpegs(root: Path, seeds: range, size: tuple[int, int] = (320, 240)) -> list[Path]:
    """One distinct JPEG per seed, dated in June 2021, naming one of two cameras, some taken in
    Tokyo."""
    paths = []
    for seed in seeds:
        make, model = CAMERAS[seed % len(CAMERAS)]
        exif = ExifSpec(
            taken=f"2021:06:{1 + seed % 28:02d} 10:30:00", make=make, model=model,
            gps=TOKYO if taken_in_tokyo(seed) else None,
        )  # fmt: skip
        paths.append(write_image(root / f"photo{seed:03d}.jpg", textured_rgb(seed, size), exif))
    return paths
