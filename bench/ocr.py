"""OCR engines compared on generated images with rendered text: character and word accuracy,
and seconds per photo, for the screenshots, document pages and signs in photos that
PIXSEEK_OCR=on reads at ingest, and for the common case, a photo with no text at all.

Every image is drawn here with DejaVu fonts (Debian's fonts-dejavu-core, or matplotlib's copy),
from words drawn with a fixed seed, so a run is repeatable. Engines: Tesseract 5 (Debian's
tesseract-ocr, through its command line) and RapidOCR (PP-OCR models in ONNX Runtime, from the
`rapidocr` wheel, when importable). pixseek's own reader (pixseek/photos/ocr.py) is the
"pixseek" row: the engine chosen, with its input size and page settings.

    .venv/bin/python -m bench.ocr [--images 4] [--engines tesseract,rapidocr,pixseek]
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pixseek.photos.ocr import normalise_text, read_text

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path(matplotlib.get_data_path()) / "fonts" / "ttf",
)
WORDS = [
    "invoice",
    "total",
    "amount",
    "station",
    "tokyo",
    "street",
    "coffee",
    "market",
    "garden",
    "museum",
    "exit",
    "platform",
    "meeting",
    "report",
    "budget",
    "quarter",
    "summary",
    "project",
    "monday",
    "friday",
    "river",
    "bridge",
    "hotel",
    "parking",
    "open",
    "closed",
    "welcome",
    "north",
    "south",
    "bakery",
    "library",
    "office",
    "window",
    "settings",
    "account",
    "password",
    "download",
    "upload",
    "search",
    "results",
    "photo",
    "album",
    "holiday",
    "beach",
    "mountain",
]


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    raise SystemExit(f"no {name} in {', '.join(map(str, FONT_DIRS))}")


def words(rng: np.random.Generator, count: int) -> list[str]:
    return [str(w) for w in rng.choice(WORDS, count)]


def screenshot(rng: np.random.Generator) -> tuple[Image.Image, str]:
    """An app window: a title bar and a dozen lines of 16-20 px sans text, light or dark."""
    dark = bool(rng.integers(2))
    background, ink = ((30, 30, 34), (225, 225, 225)) if dark else ((246, 246, 246), (20, 20, 20))
    image = Image.new("RGB", (1280, 800), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1280, 44), fill=(60, 90, 160))
    title = " ".join(words(rng, 3)).title()
    draw.text((16, 10), title, fill="white", font=font("DejaVuSans-Bold.ttf", 20))
    lines = [title]
    for row in range(12):
        line = " ".join(words(rng, int(rng.integers(3, 8))))
        size = int(rng.integers(16, 21))
        draw.text((40, 70 + row * 54), line, fill=ink, font=font("DejaVuSans.ttf", size))
        lines.append(line)
    return image, " ".join(lines)


def document(rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A scanned page: A4 at 150 dpi, 30 lines of 22 px serif text, a little blur and noise."""
    image = Image.new("L", (1240, 1754), 250)
    draw = ImageDraw.Draw(image)
    lines = []
    for row in range(30):
        line = " ".join(words(rng, int(rng.integers(6, 10))))
        draw.text((110, 120 + row * 48), line, fill=25, font=font("DejaVuSerif.ttf", 22))
        lines.append(line)
    noisy = np.asarray(image.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32)
    noisy += rng.normal(0, 6, noisy.shape)
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).convert("RGB"), " ".join(lines)


def photo_background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Something photo-like: colour gradients, blobs, sensor noise."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    slope = rng.uniform(-60, 60, (3, 2))
    channels = [base[c] + slope[c, 0] * x / width + slope[c, 1] * y / height for c in range(3)]
    pixels = np.stack(channels, axis=-1)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(40, 300)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        pixels += blob * rng.uniform(-80, 80, 3)
    pixels += rng.normal(0, 8, pixels.shape)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def sign(rng: np.random.Generator) -> tuple[Image.Image, str]:
    """A street sign in a 12-MP-like photo (downsized to 2000x1500): two lines of bold text on
    a coloured panel, turned a few degrees, saved as JPEG."""
    image = photo_background(rng, (2000, 1500))
    text = [" ".join(words(rng, 2)).upper(), " ".join(words(rng, 2)).upper()]
    panel = Image.new("RGBA", (900, 330), (0, 0, 0, 0))
    draw = ImageDraw.Draw(panel)
    colour = tuple(int(c) for c in rng.choice([(20, 90, 40), (20, 50, 140), (150, 25, 25)]))
    draw.rounded_rectangle((0, 0, 899, 329), 30, fill=(*colour, 255), outline="white", width=8)
    for row, line in enumerate(text):
        draw.text((50, 45 + row * 130), line, fill="white", font=font("DejaVuSans-Bold.ttf", 84))
    panel = panel.rotate(float(rng.uniform(-6, 6)), expand=True, resample=Image.Resampling.BICUBIC)
    image.paste(panel, (int(rng.integers(50, 900)), int(rng.integers(50, 1000))), panel)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return Image.open(buffer).convert("RGB"), " ".join(text)


def no_text(rng: np.random.Generator) -> tuple[Image.Image, str]:
    """The common case: a photo with nothing to read."""
    return photo_background(rng, (2000, 1500)), ""


KINDS: dict[str, Callable[[np.random.Generator], tuple[Image.Image, str]]] = {
    "screenshot": screenshot,
    "document": document,
    "sign in a photo": sign,
    "photo, no text": no_text,
}


def tesseract(image: Image.Image) -> str:
    """Tesseract on the whole image as it is, by its command line (PNG on stdin)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "eng"],
        input=buffer.getvalue(), capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout.decode("utf-8", "replace")


def rapidocr() -> Callable[[Image.Image], str] | None:
    try:
        from rapidocr import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR(params={"Global.log_level": "error"})

    def read(image: Image.Image) -> str:
        return " ".join(engine(np.asarray(image)).txts or ())

    return read


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[-1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def scores(truth: str, read: str) -> tuple[float, float, int]:
    """Character accuracy (1 - edit distance / length), word recall, and words read that are
    not there (for a photo without text: anything read is noise)."""
    want, got = tokens(truth), tokens(read)
    if not want:
        return 1.0, 1.0, len(got)
    a, b = " ".join(want), " ".join(got)
    chars = max(0.0, 1 - edit_distance(a, b) / len(a))
    found = sum((Counter(want) & Counter(got)).values())
    extra = sum((Counter(got) - Counter(want)).values())
    return chars, found / len(want), extra


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its finished children (Tesseract): the
    cost on a machine others share, where wall time says more about them than about OCR."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=4, help="images of each kind")
    parser.add_argument("--engines", default="tesseract,rapidocr,pixseek")
    args = parser.parse_args()
    engines: dict[str, Callable[[Image.Image], str]] = {}
    for name in args.engines.split(","):
        if name == "tesseract" and shutil.which("tesseract"):
            engines[name] = tesseract
        elif name == "rapidocr" and (reader := rapidocr()) is not None:
            engines[name] = reader
        elif name == "pixseek":
            engines[name] = lambda image: read_text(image) or ""
        else:
            print(f"{name}: not installed, left out")
    for read in engines.values():  # models loaded, caches warm: not counted
        read(Image.new("RGB", (200, 60), "white"))
    print("| kind | engine | char accuracy | word recall | words not there | CPU s per photo "
          "| wall s per photo |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for kind, make in KINDS.items():
        rng = np.random.default_rng(13)
        images = [make(rng) for _ in range(args.images)]
        for name, read in engines.items():
            rows, seconds, cpu = [], [], []
            for image, truth in images:
                started, cpu_started = time.perf_counter(), cpu_seconds()
                text = read(image)
                seconds.append(time.perf_counter() - started)
                cpu.append(cpu_seconds() - cpu_started)
                rows.append(scores(truth, normalise_text(text)))
            chars, recall, extra = (float(np.mean(column)) for column in zip(*rows, strict=True))
            print(f"| {kind} | {name} | {chars:.1%} | {recall:.1%} | {extra:.1f} "
                  f"| {np.mean(cpu):.2f} | {np.median(seconds):.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
