"""The precision check: is a faster precision (int8, bf16) as good as fp32 on these photos?

Published figures say int8 can cost CLIP retrieval quality (a static-int8 ViT-B-32 lost 1.7
points of zero-shot ImageNet), and random-weight cosines prove nothing about published
weights; so PIXSEEK_PRECISION=auto embeds a sample of the library's own photos (up to
SAMPLE_PHOTOS) and SAMPLE_TEXTS queries with fp32 and with each candidate, and uses a candidate
only when it agrees on every measure below and is faster. The result is kept in the model
cache (RECORD_FILE), keyed by model, weights, runtimes and CPU, so the check runs once per
model and machine; `pixseek stats`, the admin status and the log show it.

Numpy only: `pixseek stats` reads the record without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_PHOTOS = 256  # photos embedded both ways
MIN_SAMPLE_PHOTOS = 64  # fewer say too little: the check waits for more photos
RECORD_FILE = "precision-checks.json"
TOP_K = 10

# Everyday photo searches: what the text tower will be asked.
SAMPLE_TEXTS = (
    "a dog on a beach", "a cat sleeping on a sofa", "sunset over the sea", "snowy mountains",
    "a birthday cake with candles", "children playing in a park", "a red car", "a bicycle",
    "a wedding", "a plate of pasta", "a city street at night", "a forest path in autumn",
    "a selfie", "a group photo of friends", "a baby", "a horse in a field", "a boat on a lake",
    "fireworks", "a christmas tree", "a waterfall", "a bridge", "a church", "a museum",
    "a concert", "a football match", "a swimming pool", "a garden with flowers", "a bird",
    "a screenshot", "a document", "a receipt", "a whiteboard", "a kitchen", "a bedroom",
    "an airplane window view", "a train station", "a desert", "a tent while camping",
    "a map", "a painting", "a statue", "a lighthouse", "rain on a window", "a rainbow",
    "a sandy beach with palm trees", "a skyscraper", "an old black and white photo",
    "a portrait of a woman", "a portrait of a man", "a pizza", "coffee in a mug",
    "a bottle of wine", "a hiking trail", "a ski slope", "a farm", "a cow", "a sheep",
    "a market stall", "a library", "a laptop on a desk", "a guitar", "a night sky with stars",
    "a foggy morning", "a beach volleyball game",
)  # fmt: skip


@dataclass(frozen=True)
class Thresholds:
    """What a candidate must reach against fp32: cosine between the two embeddings of each
    photo (or text), mean and worst; and the share of each query's 10 nearest photos both
    find, mean over queries (each photo as a query among the others; each text). Of the
    candidates that agree, the fastest is used if it is min_speedup times as fast as fp32."""

    mean_cosine: float = 0.995
    min_cosine: float = 0.98
    top10_overlap: float = 0.9
    min_speedup: float = 1.1


@dataclass(frozen=True)
class Measure:
    """One candidate tower against the fp32 one on the sample."""

    tower: str  # "image" | "text"
    candidate: str  # e.g. "onnxruntime int8"
    mean_cosine: float
    min_cosine: float
    top10_overlap: float
    speed: float  # images/s for the image tower; text queries/s (one at a time) for texts
    reference_speed: float
    agrees: bool

    def usable(self, thresholds: Thresholds) -> bool:
        return self.agrees and self.speed >= thresholds.min_speedup * self.reference_speed


@dataclass(frozen=True)
class CheckResult:
    """What one check found and chose."""

    model_id: str
    key: str
    reference: dict[str, str]  # tower -> the fp32 tower's label
    chosen: dict[str, str]  # tower -> the label of the tower now in use
    photos: int
    texts: int
    thresholds: Thresholds
    measures: list[Measure] = field(default_factory=list)
    library: str | None = None  # the data directory whose photos were sampled
    checked_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        fields = {k: v for k, v in data.items() if k != "summary"}
        fields["thresholds"] = Thresholds(**fields["thresholds"])
        fields["measures"] = [Measure(**m) for m in fields["measures"]]
        return cls(**fields)

    def summary(self) -> str:
        """One line: what is used and why, for the log and `pixseek stats`."""
        parts = []
        for m in self.measures:
            verdict = "used" if self.chosen.get(m.tower) == m.candidate else (
                "agrees, not faster" if m.agrees else "disagrees")  # fmt: skip
            parts.append(
                f"{m.tower} {m.candidate}: {verdict} (cosine mean {m.mean_cosine:.5f} "
                f"min {m.min_cosine:.5f}, top-10 {m.top10_overlap:.3f}; "
                f"{m.speed:.1f} vs {m.reference_speed:.1f} {_unit(m.tower)})"
            )
        return f"checked on {self.photos} photos and {self.texts} texts: " + "; ".join(parts)


def _unit(tower: str) -> str:
    return "img/s" if tower == "image" else "queries/s"


def top_k_overlap(reference: np.ndarray, candidate: np.ndarray, k: int = TOP_K) -> float:
    """Mean share of each row's k largest entries (by index) that both matrices agree on."""
    k = min(k, reference.shape[1])
    if k == 0 or reference.shape[0] == 0:
        return 1.0
    ours = np.argpartition(-reference, k - 1, axis=1)[:, :k]
    theirs = np.argpartition(-candidate, k - 1, axis=1)[:, :k]
    shared = [len(set(a) & set(b)) for a, b in zip(ours, theirs, strict=True)]
    return float(np.mean(shared)) / k


def photo_neighbours(vectors: np.ndarray, queries: np.ndarray | None = None) -> np.ndarray:
    """Similarities of each query (default: each photo) to every photo, a photo never its
    own neighbour."""
    scores = (vectors if queries is None else queries) @ vectors.T
    if queries is None:
        np.fill_diagonal(scores, -np.inf)
    return np.asarray(scores)


def compare(
    tower: str,
    candidate: str,
    reference: np.ndarray,
    found: np.ndarray,
    neighbours: tuple[np.ndarray, np.ndarray],
    speeds: tuple[float, float],
    thresholds: Thresholds,
) -> Measure:
    """A Measure from the two towers' (normalised) embeddings of the same inputs; neighbours:
    the query similarities with the reference tower and with the candidate."""
    cos = np.sum(reference * found, axis=1)
    overlap = top_k_overlap(*neighbours)
    agrees = (
        float(cos.mean()) >= thresholds.mean_cosine
        and float(cos.min()) >= thresholds.min_cosine
        and overlap >= thresholds.top10_overlap
    )
    return Measure(
        tower, candidate, round(float(cos.mean()), 6), round(float(cos.min()), 6),
        round(overlap, 4), round(speeds[1], 2), round(speeds[0], 2), agrees,
    )  # fmt: skip


def machine_key(model_id: str, digest: str, versions: dict[str, str], flags: set[str]) -> str:
    """Which machine, model and runtimes a check holds for: a different CPU, new weights or a
    runtime upgrade asks for a new check."""
    text = json.dumps([model_id, digest, versions, sorted(flags)], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class CheckRecords:
    """The checks made on this machine, one per model, in a JSON file of the model cache."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> dict[str, CheckResult]:
        """model id -> its latest check (an unreadable file counts as none)."""
        try:
            data = json.loads(self.path.read_text())
            return {model: CheckResult.from_dict(found) for model, found in data.items()}
        except (OSError, ValueError, TypeError, KeyError):
            return {}

    def find(self, model_id: str, key: str) -> CheckResult | None:
        found = self.all().get(model_id)
        return found if found is not None and found.key == key else None

    def save(self, result: CheckResult) -> None:
        with self._lock:
            records = self.all()
            records[result.model_id] = result
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            data = {model: found.as_dict() for model, found in records.items()}
            scratch.write_text(json.dumps(data, indent=2))
            scratch.replace(self.path)
