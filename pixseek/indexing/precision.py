"""A library's precision checks (embed/agreement.py), kept in DATA_DIR/precision-checks.json.

With PIXSEEK_PRECISION=auto on a CPU, the first photos a library indexes with a model (and a
model switch's first backfilled photos) are the sample on which int8 (and bf16 where the CPU
has it) must agree with fp32 before the model uses it. The result is kept per library, model,
machine and runtime; `pixseek stats` and the admin status read it here without loading torch.

A small JSON file of its own, not a catalog table: it is a cache of a measurement (deleting it
only makes the next index check again), and the catalog is moving to another store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from embed.agreement import CheckRecords
from pixseek.settings import Settings

if TYPE_CHECKING:
    from embed.model import Embedder

RECORDS_FILE = "precision-checks.json"


def records_path(settings: Settings) -> Path:
    return settings.data_dir / RECORDS_FILE


def follow_library(embedder: Embedder, settings: Settings) -> None:
    """Make embedder use (and record) this library's precision checks."""
    embedder.follow_checks(records_path(settings))


def note_embedded(embedder: Embedder, images: list[Any], settings: Settings, final: bool) -> None:
    """Photos of this library just embedded: the sample of a pending precision check, which
    runs once enough have come (it logs its result and records it)."""
    embedder.note_embedded(images, str(settings.data_dir), settings.batch_size, final=final)


def describe_precision(settings: Settings, model_id: str) -> dict[str, Any]:
    """The precision setting and, on auto, the latest check of model on this library (None
    until one has run), as plain data for `pixseek stats` and the admin status."""
    found = CheckRecords(records_path(settings)).all().get(model_id)
    check = found.as_dict() if found is not None and settings.precision == "auto" else None
    return {"setting": settings.precision, "check": check}


def precision_line(described: dict[str, Any]) -> str:
    """describe_precision() in one line of text."""
    check = described["check"]
    if check is None:
        return described["setting"] + ("; not checked yet" if described["setting"] == "auto"
                                       else "")  # fmt: skip
    chosen = ", ".join(f"{tower} {label}" for tower, label in check["chosen"].items())
    return f"{described['setting']}: {chosen}; {check['summary']}"
