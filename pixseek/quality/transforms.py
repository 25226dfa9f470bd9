"""The edits a copy of a photo goes through on its way around: each a function of a picture and
a random generator, named as the eval's per-transform figures name them.

Modelled on Copydays and the copy-detection literature: strong downscaling, heavy JPEG, crops,
rotations, mirroring, perspective, colour shifts, an overlaid caption and a screenshot border.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


def downscale(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """To 25 % of each side."""
    size = (max(1, image.width // 4), max(1, image.height // 4))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Recompressed at JPEG quality 20-30 (the file is written at that quality too)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(20, 31)))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A window keeping 50-90 % of each side, anywhere in the picture."""
    keep = float(rng.uniform(0.5, 0.9))
    width, height = max(1, round(image.width * keep)), max(1, round(image.height * keep))
    left = int(rng.integers(0, image.width - width + 1))
    top = int(rng.integers(0, image.height - height + 1))
    return image.crop((left, top, left + width, top + height))


def rotate90(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A quarter turn, either way."""
    turn = Image.Transpose.ROTATE_90 if rng.integers(0, 2) else Image.Transpose.ROTATE_270
    return image.transpose(turn)


def rotate10(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Turned by 10 degrees either way, the corners filled with black, the frame kept."""
    angle = 10.0 if rng.integers(0, 2) else -10.0
    return image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)


def flip(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mirrored left to right."""
    return ImageOps.mirror(image)


def perspective(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Seen at an angle: each corner moved inwards by up to 15 % of the sides."""
    width, height = image.size
    dx, dy = 0.15 * width, 0.15 * height
    corners = [(0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height))]
    moved = [
        (
            x + (1 if x == 0 else -1) * rng.uniform(0, dx),
            y + (1 if y == 0 else -1) * rng.uniform(0, dy),
        )
        for x, y in corners
    ]
    coefficients = _perspective_coefficients(corners, moved)
    return image.transform(
        image.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
    )


def _perspective_coefficients(
    target: list[tuple[float, float]], source: list[tuple[float, float]]
) -> tuple[float, ...]:
    """Pillow's 8 coefficients mapping each output corner (target) to an input point (source)."""
    rows, values = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values += [u, v]
    solved = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(values, np.float64))
    return tuple(float(c) for c in solved)


def colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast and saturation each changed by up to 40 %, and a hue tint."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(float(rng.uniform(0.6, 1.4)))
    tint = Image.new("RGB", image.size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    return Image.blend(image, tint, 0.15)


def overlay(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A caption band and a logo block over the picture, as a meme or a watermark adds."""
    edited = image.copy()
    draw = ImageDraw.Draw(edited)
    width, height = edited.size
    band = max(8, height // 6)
    draw.rectangle((0, height - band, width, height), fill=(0, 0, 0))
    draw.text((band // 3, height - band + band // 4), "pixseek copy  #1234", fill=(255, 255, 255))
    side = max(6, min(width, height) // 6)
    left, top = (
        int(rng.integers(0, max(1, width - side))),
        int(rng.integers(0, max(1, height // 2))),
    )
    draw.ellipse((left, top, left + side, top + side), fill=(255, 200, 0), outline=(0, 0, 0))
    return edited


def border(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Like a screenshot: the picture scaled down inside a grey window with a title bar."""
    width, height = image.size
    inner = image.resize((max(1, width * 3 // 4), max(1, height * 3 // 4)))
    framed = Image.new("RGB", (width, height), (236, 236, 236))
    bar = max(4, height // 12)
    ImageDraw.Draw(framed).rectangle((0, 0, width, bar), fill=(60, 60, 70))
    framed.paste(inner, ((width - inner.width) // 2, bar + (height - bar - inner.height) // 2))
    return framed


TRANSFORMS: dict[str, Transform] = {
    "downscale": downscale,
    "jpeg": jpeg,
    "crop": crop,
    "rotate90": rotate90,
    "rotate10": rotate10,
    "flip": flip,
    "perspective": perspective,
    "colour": colour,
    "overlay": overlay,
    "border": border,
}
# Where a copy still shows the same scene in the same geometry up to a homography: the
# transforms spatial re-ranking is for (the others it should leave alone).
GEOMETRIC = ("crop", "rotate90", "rotate10", "perspective")
