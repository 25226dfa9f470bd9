"""Spatial re-ranking's parts: features kept on disk, the geometry score, the re-ordering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixseek.index.base import Hit
from pixseek.photos.identity import perceptual_hashes
from pixseek.photos.thumbnails import grid_thumbnail
from pixseek.search.rerank import (
    INLIER_SATURATION,
    MIN_INLIERS,
    FeatureFiles,
    OrbMatcher,
    Reranker,
    geometry_score,
    grey_for_features,
    store_features,
)
from pixseek.search.search import QueryTerm, SearchRequest
from tests.imagegen import textured_rgb

SHA = "ab" * 32


def photo() -> Image.Image:
    """A real photograph, as ORB sees camera photos (matplotlib ships one)."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as image:
        return image.convert("RGB")


def test_kept_features_come_back_as_written_and_stay_within_the_budget(tmp_path: Path) -> None:
    store_features(photo(), SHA, tmp_path)
    files = FeatureFiles(tmp_path)
    kept = files.read(SHA)
    assert kept is not None and len(kept.points) == len(kept.descriptors) == 400
    assert files.path(SHA) == tmp_path / "ab" / f"{SHA}-orb.npz"
    assert files.path(SHA).stat().st_size <= 20_000  # the budget per photo
    assert files.read("cd" * 32) is None


@pytest.mark.parametrize("size", [(512, 600), (1000, 1170)])
def test_the_grid_thumbnail_gives_ingest_the_features_and_hashes_of_the_decode(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """Ingest takes them of the grid thumbnail's picture, not of the decode again: the same
    hashes, and features that agree (identical where the decode is under 640 px, as a
    drafted camera JPEG's is)."""
    decode = photo().resize(size, Image.Resampling.LANCZOS)
    grid = grid_thumbnail(decode, SHA, tmp_path)
    assert perceptual_hashes(grid) == perceptual_hashes(decode)
    matcher = OrbMatcher()
    before = matcher.features(grey_for_features(decode))
    after = matcher.features(grey_for_features(grid))
    assert len(after.points) == len(before.points) == 400
    if max(size) < 2 * 320:
        assert np.array_equal(after.descriptors, before.descriptors)
    assert matcher.inliers(after, before) >= 0.9 * 400


def test_a_feature_file_name_from_a_request_cannot_leave_the_thumbs_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FeatureFiles(tmp_path).path("../../etc/passwd")
    assert FeatureFiles(tmp_path).read("../../etc/passwd") is None


def test_geometry_counts_only_from_the_inlier_threshold_up_to_saturation() -> None:
    assert geometry_score(MIN_INLIERS - 1) == 0.0
    assert 0 < geometry_score(MIN_INLIERS) < 1
    assert geometry_score(INLIER_SATURATION) == geometry_score(10 * INLIER_SATURATION) == 1.0


def test_a_turned_crop_moves_its_original_up_and_unmatched_candidates_keep_their_order(
    tmp_path: Path,
) -> None:
    original = photo()
    others = {f"other{i}": textured_rgb(i, (320, 240)) for i in range(4)}
    images = {"original": original, **others}
    reranker = Reranker(lambda hit: images.get(hit.id), k=4)
    hits = [Hit(f"other{i}", 0.9 - i * 0.01) for i in range(3)]
    hits += [Hit("original", 0.5), Hit("beyond-k", 0.4), Hit("other3", 0.3)]
    query = original.crop((60, 60, 460, 560)).rotate(20, expand=True)
    found = reranker.rerank(reranker.query_features(query), hits)
    assert [h.id for h in found] == ["original", "other0", "other1", "other2", "beyond-k", "other3"]
    assert found[0].score > 1.0 and found[1].score == pytest.approx(0.9)


def test_a_candidate_without_an_image_keeps_its_score(tmp_path: Path) -> None:
    reranker = Reranker(lambda hit: None)
    hits = [Hit("a", 0.8), Hit("b", 0.7)]
    assert reranker.rerank(reranker.query_features(photo()), hits) == hits


@pytest.mark.parametrize(
    ("terms", "extra", "applies"),
    [
        ((QueryTerm("image", b"x"),), {}, True),
        ((QueryTerm("photo", "id"),), {}, True),
        ((QueryTerm("image", b"x"), QueryTerm("text", "dog")), {}, False),
        ((QueryTerm("photo", "id", -1.0),), {}, False),
        ((QueryTerm("image", b"x"),), {"sort": "date_desc"}, False),
        ((QueryTerm("image", b"x"),), {"liked": ("a",)}, False),
    ],
)
def test_reranking_applies_to_image_and_more_like_this_queries_only(
    terms: tuple[QueryTerm, ...], extra: dict[str, object], applies: bool
) -> None:
    assert SearchRequest(terms, **extra).by_example is applies  # type: ignore[arg-type]


def test_features_of_a_flat_picture_are_empty_not_an_error() -> None:
    reranker = Reranker(lambda hit: Image.new("RGB", (50, 50), "grey"))
    flat = reranker.query_features(Image.new("RGB", (50, 50), "white"))
    assert len(flat.descriptors) == 0 and np.asarray(flat.points).shape == (0, 2)
    assert reranker.rerank(flat, [Hit("a", 0.5)])[0].score == 0.5
