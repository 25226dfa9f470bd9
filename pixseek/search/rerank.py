"""Spatial re-ranking of image queries: local features matched between the query and each of the
best K candidates, verified by a RANSAC homography, the inliers blended into the global score.

A global embedding says "looks alike"; a homography supported by many matched keypoints says
"shows the same thing, cropped, rotated or seen at an angle", which is what a copy or a
near-duplicate is. Features are described at the grid thumbnail's size (320 px): at ingest
from the grid thumbnail's picture (made from the decode), kept beside it (thumbs/ab/
<sha>-orb.npz, 14.9 KB for 400 keypoints), so a query only matches; a photo indexed before
that is described from its grid thumbnail the first time it is a candidate, and the file
written then. (Described at query time only, a cold query took 0.6-1 s at K = 50 here;
matching alone stays within the 300 ms budget: the measured choice, docs/quality.md.)

The matcher is behind LocalMatcher: OpenCV's ORB here, where no learned local features can be
downloaded; a learned one (DISK, SuperPoint + LightGlue) fits the same two methods.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from pixseek.index.base import Hit
from pixseek.photos.thumbnails import thumbnail_path

FEATURE_SIDE = 320  # the grid thumbnail's long side: both sides of a match are seen at this size
RERANK_K = 50  # candidates re-ranked per query (the budget: p99 <= 300 ms at K = 50)
# ORB keypoints per image: matching costs their square; see docs/quality.md for the budget
KEYPOINTS = 400
MIN_INLIERS = 20  # fewer RANSAC inliers is chance: 0.2 % of unrelated pairs reach 20, 2 % 12
INLIER_SATURATION = 80  # this many inliers count as certain
BLEND_WEIGHT = 1.0  # what certain geometry adds to the cosine score
MATCH_THREADS = 2  # candidates described and matched at once


@dataclass(frozen=True)
class Features:
    """Keypoint positions (n, 2) float32 and their descriptors (n, bytes) uint8."""

    points: np.ndarray
    descriptors: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.points.nbytes + self.descriptors.nbytes)


class LocalMatcher(Protocol):
    """Local features of a grey image, and how many matches between two sets agree on one
    geometric transform."""

    name: str

    def features(self, grey: np.ndarray) -> Features: ...

    def inliers(self, query: Features, candidate: Features) -> int: ...


class OrbMatcher:
    """ORB keypoints (rotation invariant, binary descriptors: 32 bytes each), nearest two
    neighbours by Hamming distance, Lowe's ratio test, then a RANSAC homography."""

    name = "orb"

    def __init__(
        self, keypoints: int = KEYPOINTS, ratio: float = 0.8, ransac_px: float = 5.0
    ) -> None:
        self.keypoints = keypoints
        self.ratio = ratio
        self.ransac_px = ransac_px

    def features(self, grey: np.ndarray) -> Features:
        # a fresh detector per call: OpenCV's objects are not safe to share between threads
        detector = cv2.ORB_create(  # type: ignore[attr-defined]
            nfeatures=self.keypoints, fastThreshold=10, edgeThreshold=15
        )
        keypoints, descriptors = detector.detectAndCompute(grey, None)
        if descriptors is None or not keypoints:
            return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
        points = np.array([k.pt for k in keypoints], dtype=np.float32)
        return Features(points, descriptors)

    def inliers(self, query: Features, candidate: Features) -> int:
        if len(query.descriptors) < 2 or len(candidate.descriptors) < 2:
            return 0
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(
            query.descriptors, candidate.descriptors, k=2
        )
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < MIN_INLIERS:
            return 0
        source = query.points[[m.queryIdx for m in good]]
        target = candidate.points[[m.trainIdx for m in good]]
        _, mask = cv2.findHomography(source, target, cv2.RANSAC, self.ransac_px)
        return int(mask.sum()) if mask is not None else 0


def grey_for_features(image: Image.Image) -> np.ndarray:
    """The image as the matcher sees it: grey, its long side FEATURE_SIDE (small copies are
    enlarged, so a 25 % copy and its original meet at one scale)."""
    scale = FEATURE_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # a whole-pixel box reduction first, then the filtered resize and the grey conversion on
    # the small image: 2.4 ms for a 1000x1170 decode here, against 4-7 ms for the other orders
    factor = max(1, max(image.size) // FEATURE_SIDE)  # the reduced long side stays >= 320
    reduced = image.reduce(factor) if factor > 1 else image
    resized = reduced.resize(size, Image.Resampling.BILINEAR).convert("L")
    return np.asarray(resized, dtype=np.uint8)


def geometry_score(inliers: int) -> float:
    """0 below MIN_INLIERS, rising to 1 at INLIER_SATURATION inliers."""
    if inliers < MIN_INLIERS:
        return 0.0
    return min(1.0, inliers / INLIER_SATURATION)


ImageLoader = Callable[[Hit], "Image.Image | None"]  # a candidate's small image; None: unknown


class FeatureFiles:
    """A photo's local features kept beside its thumbnails, named by content hash and matcher:
    thumbs/ab/<sha>-orb.npz (keypoints as float16, descriptors as they are)."""

    def __init__(self, thumbs_dir: Path, matcher: str = OrbMatcher.name) -> None:
        self.thumbs_dir = thumbs_dir
        self.matcher = matcher

    def path(self, sha256: str) -> Path:
        grid = thumbnail_path(self.thumbs_dir, sha256, "grid")  # checks the hash: no escape
        return grid.with_name(f"{sha256}-{self.matcher}.npz")

    def read(self, sha256: str) -> Features | None:
        try:
            with np.load(self.path(sha256)) as stored:
                return Features(stored["points"].astype(np.float32), stored["descriptors"])
        except (ValueError, OSError, KeyError):
            return None

    def write(self, sha256: str, features: Features) -> None:
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{threading.get_ident()}.partial")
        with partial.open("wb") as out:
            np.savez(out, points=features.points.astype(np.float16),
                     descriptors=features.descriptors)  # fmt: skip
        partial.replace(target)  # atomic: a reader sees the whole file or none


def store_features(image: Image.Image, sha256: str, thumbs_dir: Path) -> None:
    """Describe a photo for re-ranking and keep its features (at ingest, from the picture of
    its grid thumbnail)."""
    files = FeatureFiles(thumbs_dir)
    files.write(sha256, OrbMatcher().features(grey_for_features(image)))


class Reranker:
    """Re-ranks the best K hits of an image query. load(hit) gives a candidate's small image
    (the web app and the CLI: its grid thumbnail; the eval: its file); features are cached by
    hit id (a point id names its content, so they never go stale)."""

    def __init__(
        self,
        load: ImageLoader,
        matcher: LocalMatcher | None = None,
        k: int = RERANK_K,
        weight: float = BLEND_WEIGHT,
        cache_size: int = 4096,
        files: FeatureFiles | None = None,
    ) -> None:
        self.load = load
        self.files = files
        self.matcher = matcher or OrbMatcher()
        self.k = k
        self.weight = weight
        self._cache: OrderedDict[str, Features | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def query_features(self, image: Image.Image) -> Features:
        return self.matcher.features(grey_for_features(image))

    def rerank(self, query: Features, hits: Sequence[Hit]) -> list[Hit]:
        """The first K hits re-scored (cosine + weight x geometry) and re-ordered, the rest
        after them as they were; a candidate without an image keeps its score. Candidates are
        matched on two threads (OpenCV lets go of the GIL): a cold query decodes and describes
        K thumbnails."""
        head, tail = list(hits[: self.k]), list(hits[self.k :])
        geometry = list(self._pool().map(lambda hit: self._geometry(query, hit), head))
        rescored = [
            replace(h, score=h.score + self.weight * g) for h, g in zip(head, geometry, strict=True)
        ]
        rescored.sort(key=lambda h: h.score, reverse=True)
        return rescored + tail

    def _described(self, hit: Hit) -> Features | None:
        """Features kept on disk, else described from the candidate's small image (and kept)."""
        sha = str(hit.payload.get("sha256") or "")
        if self.files is not None and sha and (kept := self.files.read(sha)) is not None:
            return kept
        image = self.load(hit)
        if image is None:
            return None
        found = self.matcher.features(grey_for_features(image))
        if self.files is not None and sha:
            # a read-only or odd thumbs folder: described again next time
            with contextlib.suppress(ValueError, OSError):
                self.files.write(sha, found)
        return found

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(MATCH_THREADS, "pixseek-rerank")
            return self._executor

    def _geometry(self, query: Features, hit: Hit) -> float:
        candidate = self._features(hit)
        if candidate is None:
            return 0.0
        return geometry_score(self.matcher.inliers(query, candidate))

    def _features(self, hit: Hit) -> Features | None:
        with self._lock:
            if hit.id in self._cache:
                self._cache.move_to_end(hit.id)
                return self._cache[hit.id]
        found = self._described(hit)
        with self._lock:
            self._cache[hit.id] = found
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found


def thumbnail_loader(thumbs_dir: Path) -> ImageLoader:
    """Candidates' grid thumbnails (by the payload's sha256), as the library stores them."""

    def load(hit: Hit) -> Image.Image | None:
        sha = str(hit.payload.get("sha256", ""))
        try:
            path = thumbnail_path(thumbs_dir, sha, "grid")
            with Image.open(path) as image:
                image.load()
                return image
        except (ValueError, OSError):
            return None

    return load
