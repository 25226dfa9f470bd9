"""Text in pictures (PIXSEEK_OCR=on): screenshots, documents and signs read at ingest into the
payload's `ocr_text`, which the text search indexes beside names and keywords.

The engine is Tesseract 5 (Debian's tesseract-ocr and tesseract-ocr-eng), run by its command
line on a grey copy of the decoded picture at most OCR_SIDE pixels on its long side, looking
for sparse text (PAGE_MODE); words it is not sure of (confidence under MIN_CONFIDENCE) are
dropped, which keeps the texture of a photo without text from reading as words. Chosen over
RapidOCR by bench/ocr.py (docs/performance.md).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import subprocess
from functools import cache

from PIL import Image

from pixseek.errors import ConflictError

log = logging.getLogger(__name__)

OCR_SIDE = 2000  # the long side of what the engine reads: 12-MP photos are read at 2000x1500
MAX_OCR_CHARS = 2000  # of text kept per photo
MIN_CONFIDENCE = 75.0  # Tesseract's word confidence (0-100) below which a word is dropped
TIMEOUT_S = 60.0  # one picture; one taking longer is given up (OcrFailed: read again later)
TESSERACT = "tesseract"
# sparse text: words found anywhere, in any layout (a sign in a photo, a screenshot's labels);
# the auto layout (3) missed a third of the signs' words in bench/ocr.py
PAGE_MODE = "11"
WHITESPACE = re.compile(r"\s+")


class OcrUnavailable(ConflictError):
    """OCR asked for, but the engine is not installed here (the API answers 409)."""


class OcrFailed(Exception):
    """The engine failed on one picture (it crashed or ran out of time): the picture's text is
    unknown, not empty, so nothing is stored and a later OCR job reads it again."""


@cache
def engine_path() -> str | None:
    """Where the tesseract command is, None when it is not installed."""
    return shutil.which(TESSERACT)


def check_engine() -> None:
    """Raise OcrUnavailable when the engine cannot run, with how to install it."""
    if engine_path() is None:
        raise OcrUnavailable(
            "PIXSEEK_OCR=on needs Tesseract: apt-get install tesseract-ocr tesseract-ocr-eng"
        )


def normalise_text(text: str, limit: int = MAX_OCR_CHARS) -> str:
    """Whitespace collapsed to single spaces, cut to limit characters at a word boundary."""
    text = WHITESPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    return cut if len(cut) > limit // 2 else text[:limit]


def ocr_input(image: Image.Image, side: int = OCR_SIDE) -> Image.Image:
    """A grey copy no larger than side on its long side (never upscaled)."""
    grey = image.convert("L")
    if max(grey.size) > side:
        grey.thumbnail((side, side), Image.Resampling.LANCZOS)
    return grey


def read_text(image: Image.Image) -> str:
    """The text in a decoded picture, normalised ("" when none is read). Raises OcrUnavailable
    without the engine, OcrFailed when the engine fails on this picture."""
    check_engine()
    buffer = io.BytesIO()
    ocr_input(image).save(buffer, "PNG", compress_level=1)
    # one thread: ingest runs a picture per decode thread already
    env = os.environ | {"OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [str(engine_path()), "stdin", "stdout", "-l", "eng", "--psm", PAGE_MODE, "tsv"],
            input=buffer.getvalue(), capture_output=True, env=env, timeout=TIMEOUT_S, check=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"Tesseract took over {TIMEOUT_S:g} s") from exc
    except subprocess.CalledProcessError as exc:
        said = exc.stderr.decode("utf-8", "replace").strip()[-200:] if exc.stderr else ""
        raise OcrFailed(f"Tesseract failed (exit {exc.returncode}): {said}") from exc
    except OSError as exc:
        raise OcrFailed(f"Tesseract could not run: {exc}") from exc
    return normalise_text(confident_words(done.stdout.decode("utf-8", "replace")))


def confident_words(tsv: str) -> str:
    """The words of Tesseract's TSV output read with at least MIN_CONFIDENCE, a line per line."""
    lines: dict[tuple[str, str, str, str], list[str]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        word = (row.get("text") or "").strip()
        try:
            confidence = float(row.get("conf") or -1)
        except ValueError:
            continue
        if word and confidence >= MIN_CONFIDENCE:
            key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
            lines.setdefault(key, []).append(word)
    return "\n".join(" ".join(words) for words in lines.values())
