"""Eval sets: a labelled folder, a JSON Lines queries file, and a copy set made from photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixseek.errors import PathNotFoundError, QueryError
from pixseek.quality.copies import MANIFEST, Original, make_copy_set
from pixseek.quality.evalset import doc_key, labelled_folder, queries_file
from pixseek.quality.transforms import TRANSFORMS
from tests.imagegen import textured_rgb, write_image


def picture(path: Path, seed: int, size: tuple[int, int] = (160, 120)) -> Path:
    return write_image(path, textured_rgb(seed, size))


def test_a_labelled_folder_asks_each_picture_for_the_others_of_its_group(tmp_path: Path) -> None:
    first = [picture(tmp_path / "bridge" / f"{i}.jpg", i) for i in range(3)]
    picture(tmp_path / "alone" / "0.jpg", 10)  # a group of one asks nothing
    distractor = picture(tmp_path / "loose.jpg", 11)
    evalset = labelled_folder(tmp_path)
    assert len(evalset.images) == 5 and distractor in evalset.images
    assert {q.id for q in evalset.queries} == {doc_key(p) for p in first}
    query = next(q for q in evalset.queries if q.id == doc_key(first[0]))
    assert query.relevant == {doc_key(first[1]): 1, doc_key(first[2]): 1}


def test_a_folder_without_a_group_to_ask_is_refused(tmp_path: Path) -> None:
    picture(tmp_path / "one" / "0.jpg", 0)
    with pytest.raises(QueryError, match="nothing to ask"):
        labelled_folder(tmp_path)


def test_a_queries_file_reads_text_and_image_queries_grades_and_junk(tmp_path: Path) -> None:
    a, b, c = (picture(tmp_path / f"{n}.jpg", i) for i, n in enumerate("abc"))
    extra = picture(tmp_path / "more" / "d.jpg", 9)
    lines = [
        {"text": "a red square", "relevant": ["a.jpg"], "junk": ["b.jpg"]},
        {"image": str(c), "relevant": {"a.jpg": 2, "b.jpg": 1}},
    ]
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    evalset = queries_file(tmp_path / "q.jsonl", [tmp_path / "more"])
    text, image = evalset.queries
    assert (text.kind, text.text, text.relevant) == ("text", "a red square", {doc_key(a): 1})
    assert text.junk == frozenset({doc_key(b)})
    assert (image.kind, image.id) == ("image", doc_key(c))
    assert image.relevant == {doc_key(a): 2, doc_key(b): 1}
    assert {doc_key(p) for p in evalset.images} == {doc_key(p) for p in (a, b, c, extra)}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('{"text": "x", "image": "a.jpg", "relevant": ["a.jpg"]}', 'one of "text" or "image"'),
        ('{"text": "x", "relevant": []}', "names no picture"),
        ('{"text": "x", "relevant": "a.jpg"}', "must be a list"),
        ('{"text": "x", "relevant": {"a.jpg": "high"}}', "whole numbers"),
    ],
)
def test_a_malformed_line_is_refused_naming_its_line(
    tmp_path: Path, line: str, message: str
) -> None:
    picture(tmp_path / "a.jpg", 0)
    (tmp_path / "q.jsonl").write_text(line + "\n")
    with pytest.raises(QueryError, match=message):
        queries_file(tmp_path / "q.jsonl")


def test_a_query_naming_a_missing_picture_is_refused(tmp_path: Path) -> None:
    (tmp_path / "q.jsonl").write_text('{"text": "x", "relevant": ["gone.jpg"]}\n')
    with pytest.raises(PathNotFoundError, match="line 1: no such picture"):
        queries_file(tmp_path / "q.jsonl")


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_every_transform_makes_a_picture_that_differs_from_its_original(name: str) -> None:
    original = textured_rgb(3, (200, 150))
    copy = TRANSFORMS[name](original, np.random.default_rng(0))
    assert copy.mode == "RGB" and copy.width > 0
    same_size = copy.size == original.size
    assert not same_size or np.abs(np.asarray(copy, float) - np.asarray(original, float)).mean() > 1


def test_the_sizes_of_downscale_crop_and_quarter_turn() -> None:
    original = textured_rgb(3, (200, 160))
    rng = np.random.default_rng(1)
    assert TRANSFORMS["downscale"](original, rng).size == (50, 40)
    crop = TRANSFORMS["crop"](original, rng)
    assert 0.5 * 200 <= crop.width <= 0.9 * 200 and crop.width / 200 == pytest.approx(
        crop.height / 160, abs=0.02
    )
    assert TRANSFORMS["rotate90"](original, rng).size == (160, 200)


def test_a_copy_set_writes_copies_in_its_own_folder_and_judges_each_pair(tmp_path: Path) -> None:
    library = [picture(tmp_path / "library" / f"{i}.jpg", i, (240, 180)) for i in range(3)]
    before = sorted(p.name for p in (tmp_path / "library").iterdir())
    folder = tmp_path / "eval"
    evalset = make_copy_set([Original(str(i), p) for i, p in enumerate(library)], folder, 5)
    assert sorted(p.name for p in (tmp_path / "library").iterdir()) == before
    copies = sorted(folder.glob("*.jpg"))
    assert len(copies) == 3 * len(TRANSFORMS) and (folder / MANIFEST).is_file()
    assert len(evalset.images) == 3 + len(copies)
    original = next(q for q in evalset.queries if q.id == doc_key(library[0]))
    assert original.group == "original" and len(original.relevant) == len(TRANSFORMS)
    crop = next(
        q for q in evalset.queries if q.group == "crop" and doc_key(library[0]) in q.relevant
    )
    assert len(crop.junk) == len(TRANSFORMS) - 1  # the other copies of the same photo
    with Image.open(copies[0]) as written:
        assert written.format == "JPEG"


def test_the_same_copy_set_is_not_made_twice(tmp_path: Path) -> None:
    library = [picture(tmp_path / "library" / f"{i}.jpg", i) for i in range(2)]
    originals = [Original(str(i), p) for i, p in enumerate(library)]
    make_copy_set(originals, tmp_path / "eval", 1, ("crop", "flip"))
    made = {p: p.stat().st_mtime_ns for p in (tmp_path / "eval").glob("*.jpg")}
    make_copy_set(originals, tmp_path / "eval", 1, ("crop", "flip"))
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "eval").glob("*.jpg")} == made
    with pytest.raises(QueryError, match="unknown transforms"):
        make_copy_set(originals, tmp_path / "eval", 1, ("blur",))
