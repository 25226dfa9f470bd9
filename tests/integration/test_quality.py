"""Retrieval quality, measured: `pixseek eval` end to end, metrics that tell a broken model from a
working one, spatial re-ranking on geometric copies, near-duplicates on generated copies and in a
real library (the tiny model, real JPEGs, the real `pixseek` command)."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from embed import Embedder
from pixseek.library import Library
from pixseek.photos.identity import file_sha256, point_id
from pixseek.quality.copies import Original, make_copy_set
from pixseek.quality.duplicates import DEFAULT_THRESHOLDS
from pixseek.quality.evalset import EvalSet
from pixseek.quality.evaluate import Evaluator, Outcome, Plan, embed_set
from pixseek.quality.marks import DistinctMarks
from pixseek.quality.pairs import measure_pairs
from pixseek.quality.report import table
from pixseek.quality.run import EvalRequest, run_eval
from pixseek.quality.transforms import GEOMETRIC
from pixseek.search.rerank import FeatureFiles, Reranker, thumbnail_loader
from pixseek.search.search import QueryTerm, SearchRequest, search
from pixseek.settings import load_settings
from tests.conftest import TINY_MODEL, sqlite_store
from tests.integration.test_cli import as_json, pixseek
from tests.web.photos import write_jpegs

SIZE = (480, 360)
ONLY_FP32 = Plan(efs=(16,), quantizations=("none",), precisions=("fp32",), rerank=True)


class RandomVectors:
    """A deliberately broken model: a fresh random unit vector for every picture and text."""

    model_id = "random"
    image_size = 64

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def _unit(self, count: int) -> np.ndarray:
        vectors = self.rng.normal(size=(count, 64)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._unit(len(images))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._unit(len(texts))


@pytest.fixture(scope="module")
def copy_set(tmp_path_factory: pytest.TempPathFactory) -> EvalSet:
    """20 generated photos and a copy of each by every transform."""
    root = tmp_path_factory.mktemp("copies")
    photos = write_jpegs(root / "photos", range(20), SIZE)
    originals = [Original(str(i), p) for i, p in enumerate(photos)]
    return make_copy_set(originals, root / "eval", seed=3)


def run(evalset: EvalSet, model: Any, tmp_path: Path, plan: Plan = ONLY_FP32) -> list[Outcome]:
    models = {model.model_id: {"fp32": model}}
    return Evaluator(evalset, models, plan, tmp_path).run().outcomes


def by_label(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {
        ("rerank" if o.configuration.rerank else o.configuration.ef or "exact"): o for o in outcomes
    }


def test_random_vectors_score_near_chance_and_the_tiny_model_far_above(
    copy_set: EvalSet, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    plan = Plan(efs=(), quantizations=("none",), precisions=("fp32",), rerank=False)
    broken = run(copy_set, RandomVectors(), tmp_path, plan)[0].overall
    working = run(copy_set, tiny_embedder, tmp_path, plan)[0].overall
    pictures = len(copy_set.images)
    # a copy's one original among 219 others (its 9 siblings are junk): R@1 by chance ~ 1/210
    assert broken["R@1"] < 0.05 and broken["MRR"] < 0.1, broken
    assert broken["R@100"] < 0.7, broken  # ~100/210 by chance
    assert working["R@1"] > 10 * max(broken["R@1"], 1 / pictures), (working, broken)
    assert working["mAP"] > 0.5, working


def test_reranking_raises_recall_at_1_on_crops_rotations_and_perspective(
    copy_set: EvalSet, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    found = by_label(run(copy_set, tiny_embedder, tmp_path))
    plain, reranked = found["exact"].by_group, found["rerank"].by_group
    geometric = sum(plain[g]["R@1"] for g in GEOMETRIC)
    assert sum(reranked[g]["R@1"] for g in GEOMETRIC) > geometric + 0.5, (plain, reranked)
    assert reranked["rotate90"]["R@1"] > plain["rotate90"]["R@1"]
    for untouched in ("downscale", "jpeg"):  # what the global vector finds, it keeps finding
        assert reranked[untouched]["R@1"] >= plain[untouched]["R@1"], untouched
    assert found["rerank"].latency_ms["p99"] < 1000, found["rerank"].latency_ms


def test_duplicate_pairs_on_generated_copies_are_precise_and_catch_light_edits(
    copy_set: EvalSet, tiny_embedder: Embedder
) -> None:
    embedded = embed_set(copy_set, tiny_embedder)
    figures = measure_pairs(copy_set, embedded.vectors, embedded.hashes, DEFAULT_THRESHOLDS)
    combined = figures["signals"]["combined"]
    assert combined["precision"] >= 0.95, combined
    for light in ("downscale", "jpeg", "colour"):
        assert combined["recall_by_transform"][light] >= 0.9, combined
    assert combined["recall_by_transform"]["flip"] <= 0.1  # a mirror is another picture here
    # a random model puts every pair near 1: the cosine threshold calibrates itself above that
    assert figures["thresholds"]["cosine"] > 0.99 > DEFAULT_THRESHOLDS.cosine


# ---------------------------------------------------------------- a real library


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """24 generated photos and three near-copies, indexed by the real command."""
    root = tmp_path_factory.mktemp("quality-library")
    photos = write_jpegs(root / "library", range(24), SIZE)
    with Image.open(photos[0]) as image:  # smaller and recompressed: the original is kept
        image.resize((240, 180)).save(root / "library" / "small-copy.jpg", quality=60)
    with Image.open(photos[1]) as image:
        image.point(lambda v: min(255, int(v * 1.15))).save(root / "library" / "brighter.jpg")
    with Image.open(photos[2]) as image:
        image.crop((40, 30, 440, 330)).save(root / "library" / "crop.jpg", quality=90)
    data = root / "data"
    assert as_json(pixseek(data, "index", str(root / "library"), "--json"))["failed"] == []
    return {"root": root, "data": data, "photos": photos}


def photo_id(path: Path) -> str:
    return point_id(file_sha256(path))


def test_ingest_keeps_perceptual_hashes_and_reranking_features(library: dict[str, Any]) -> None:
    settings = load_settings(data_dir=library["data"], model=TINY_MODEL, device="cpu")
    with Library(settings) as opened:
        points = opened.index.retrieve([photo_id(p) for p in library["photos"][:3]])
    for point in points:
        for name in ("phash", "dhash"):
            assert len(point.payload[name]) == 16 and int(point.payload[name], 16) >= 0
        kept = FeatureFiles(settings.thumbs_dir).read(point.payload["sha256"])
        assert kept is not None and len(kept.descriptors) > 0, "re-ranking features kept"


def test_pixseek_duplicates_groups_the_copies_and_not_duplicates_marks_persist(
    library: dict[str, Any],
) -> None:
    root, data, photos = library["root"], library["data"], library["photos"]
    groups = as_json(pixseek(data, "duplicates", "--json"))
    members = [{p["path"] for p in g["photos"]} for g in groups]
    small = {str(photos[0]), str(root / "library" / "small-copy.jpg")}
    brighter = {str(photos[1]), str(root / "library" / "brighter.jpg")}
    assert small in members and brighter in members, members
    assert all(len(m) == 2 for m in members), "no distinct photo joins a group"
    kept = next(g for g in groups if {p["path"] for p in g["photos"]} == small)["keep"]
    assert kept == photo_id(photos[0]), "the larger one is suggested"
    database = sqlite_store(data)  # what POST /api/v1/duplicates/distinct does
    marks = DistinctMarks(database)
    assert marks.mark([photo_id(photos[1]), photo_id(root / "library" / "brighter.jpg")]) == 1
    database.close()
    again = [
        {p["path"] for p in g["photos"]} for g in as_json(pixseek(data, "duplicates", "--json"))
    ]
    assert brighter not in again and small in again, again


def test_an_image_query_of_a_crop_finds_its_original_first_when_reranked(
    library: dict[str, Any], tiny_embedder: Embedder
) -> None:
    root, data, photos = library["root"], library["data"], library["photos"]
    settings = load_settings(data_dir=data, model=TINY_MODEL, device="cpu")
    query = (QueryTerm("image", root / "library" / "crop.jpg"),)
    with Library(settings) as opened:
        opened.use_embedder(tiny_embedder)
        reranker = Reranker(thumbnail_loader(settings.thumbs_dir))
        found = search(
            SearchRequest(query, rerank=True, limit=5), tiny_embedder, opened.index, reranker
        )
        plain = search(SearchRequest(query, limit=30), tiny_embedder, opened.index, reranker)
    crop, original = photo_id(root / "library" / "crop.jpg"), photo_id(photos[2])
    assert [r.id for r in found][:2] == [crop, original], [r.path for r in found]
    assert [r.id for r in plain].index(original) >= [r.id for r in found].index(original)


def test_pixseek_eval_copies_runs_end_to_end_and_leaves_the_library_alone(
    library: dict[str, Any],
) -> None:
    data, root = library["data"], library["root"]
    library_files = sorted(p.name for p in (root / "library").iterdir())
    plot = root / "curves.png"
    args = ["eval", "--copies", "5", "--distractors", "8", "--ef", "16,64", "--json"]
    report = as_json(pixseek(data, *args, "--plot", str(plot)))
    labels = [c["configuration"]["label"] for c in report["configurations"]]
    for expected in ("q=none exact", "ef=16", "ef=64", "+rerank", "q=int8", "q=binary", "q=pq"):
        assert any(expected in label for label in labels), (expected, labels)
    assert any(c["configuration"]["precision"] == "int8" for c in report["configurations"])
    exact = report["configurations"][0]
    assert exact["overall"]["R@1"] > 0.3 and exact["latency_ms"]["p99"] > 0
    assert set(exact["by_group"]) >= {"original", "crop", "jpeg", "flip"}
    assert report["corpus"] == 5 + 5 * 10 + 8
    assert report["duplicates"]["signals"]["combined"]["recall_by_transform"]["jpeg"] >= 0.8
    with plot.open("rb") as png:
        header = png.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24])[0] > 500
    assert sorted(p.name for p in (root / "library").iterdir()) == library_files
    assert len(list((data / "eval").glob("copies-5-0/*.jpg"))) == 50
    settings = load_settings(data_dir=data, model=TINY_MODEL, device="cpu")
    with Library(settings) as opened:
        assert opened.index.count() == len(library["photos"]) + 3, "no copy joined the index"


def test_the_table_names_every_configuration_and_group(
    copy_set: EvalSet, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    models = {tiny_embedder.model_id: {"fp32": tiny_embedder}}
    plan = Plan(efs=(16,), quantizations=("none", "binary"), precisions=("fp32",), rerank=False)
    report = Evaluator(copy_set, models, plan, tmp_path).run()
    text = table(report)
    assert "R@1" in text and "Recall@1 / mAP by group" in text and "q=binary" in text
    assert all(name in text for name in ("original", "rotate90", "perspective"))


def test_eval_refuses_to_write_its_copies_into_a_library_folder(library: dict[str, Any]) -> None:
    inside = library["root"] / "library" / "eval-here"
    result = pixseek(library["data"], "eval", "--copies", "2", "--out", str(inside))
    assert result.returncode == 2 and "lies in the library folder" in result.stderr
    assert not inside.exists()


def test_eval_on_a_labelled_folder_and_a_queries_file(
    library: dict[str, Any], tiny_embedder: Embedder, tmp_path: Path
) -> None:
    photos = library["photos"]
    for group in range(3):
        with Image.open(photos[group]) as image:
            (tmp_path / "labelled" / f"g{group}").mkdir(parents=True)
            image.resize((300, 225)).save(tmp_path / "labelled" / f"g{group}" / "0.jpg")
            image.rotate(90).save(tmp_path / "labelled" / f"g{group}" / "1.jpg")
    plan = Plan(efs=(), quantizations=("none",), precisions=("fp32",), rerank=False)
    settings = load_settings(data_dir=library["data"], model=TINY_MODEL, device="cpu")
    labelled = run_eval(settings, EvalRequest(folder=tmp_path / "labelled", plan=plan))
    assert labelled.queries == 6 and labelled.outcomes[0].overall["R@5"] == 1.0
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"image": str(photos[0]), "relevant": ["labelled/g0/0.jpg"]}))
    answer = run_eval(settings, EvalRequest(queries=queries, plan=plan))
    assert answer.queries == 1 and answer.corpus == 2
    assert answer.outcomes[0].overall["R@1"] == 1.0
