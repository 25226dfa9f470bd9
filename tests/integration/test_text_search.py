"""Hybrid search on real files, the real Edge index and the tiny random model, whose pictures
say nothing: a file name, a folder word or a keyword written with exiv2 finds its photo first
only through the words, and each result says what matched. A library of the previous release
gets its words on its next indexing run."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pyexiv2
import pytest

from cli.main import _print_results
from embed import Embedder
from pixseek.index.base import SearchFilters
from pixseek.indexing.ingest import Indexer, Ingester
from pixseek.library import Library
from pixseek.photos.text import query_vector
from pixseek.quality.wordeval import evaluate_words, word_queries, words_table
from pixseek.search.search import QueryTerm, SearchRequest, SearchResult, search
from pixseek.settings import Settings, load_settings
from tests.conftest import TINY_MODEL
from tests.imagegen import textured_rgb, write_image

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "library-0.1.tar.gz"


@pytest.fixture
def library(settings: Settings, tiny_embedder: Embedder) -> Iterator[Library]:
    with Library(settings) as opened:
        opened.use_embedder(tiny_embedder)
        yield opened


@pytest.fixture
def root(tmp_path: Path, library: Library) -> Path:
    """IMG_2041 in trips/tokyo-2019-03, a lighthouse keyword (XMP) on a PNG, 16 others."""
    root = tmp_path / "photos"
    write_image(root / "trips" / "tokyo-2019-03" / "IMG_2041.jpg", textured_rgb(1))
    tagged = write_image(root / "misc" / "DSC_0001.jpg", textured_rgb(2))
    with pyexiv2.Image(str(tagged)) as metadata:
        metadata.modify_xmp({"Xmp.dc.subject": ["Lighthouse", "coast"]})
    write_image(root / "misc" / "screen.png", textured_rgb(3))
    for seed in range(10, 26):
        write_image(root / "misc" / f"IMG_{seed + 3000}.jpg", textured_rgb(seed))
    Indexer(Ingester.of(library)).run([str(root)])
    return root


def find(library: Library, text: str, **filters: object) -> list[SearchResult]:
    request = SearchRequest((QueryTerm("text", text),), SearchFilters(**filters), limit=5)  # type: ignore[arg-type]
    return search(request, library.embedder, library.index)


def test_a_file_name_finds_its_photo_first_and_says_the_name_matched(
    library: Library, root: Path
) -> None:
    [first, *rest] = find(library, "IMG_2041")
    assert first.path == str(root / "trips" / "tokyo-2019-03" / "IMG_2041.jpg")
    assert first.matched[0] == "name"
    assert all("name" not in r.matched or "img" in (r.path or "").lower() for r in rest)
    assert first.as_dict()["matched"] == list(first.matched)


def test_a_keyword_and_a_folder_word_find_their_photos_first(library: Library, root: Path) -> None:
    [first, *_] = find(library, "lighthouse")
    assert first.path == str(root / "misc" / "DSC_0001.jpg")
    assert "keyword" in first.matched
    [first, *_] = find(library, "tokyo 2019")
    assert first.path == str(root / "trips" / "tokyo-2019-03" / "IMG_2041.jpg")
    assert "folder" in first.matched


def test_pages_of_a_fused_search_are_slices_of_one_ranking(library: Library, root: Path) -> None:
    def page(offset: int, limit: int) -> list[str]:
        request = SearchRequest((QueryTerm("text", "img misc 3011"),), limit=limit, offset=offset)
        return [r.id for r in search(request, library.embedder, library.index)]

    whole = page(0, 19)
    assert len(set(whole)) == 19
    assert [i for offset in range(0, 19, 3) for i in page(offset, 3)] == whole


def test_filters_apply_to_the_word_search_too(library: Library, root: Path) -> None:
    found = find(library, "IMG_2041", formats=("png",))
    assert [r.path for r in found] == [str(root / "misc" / "screen.png")]
    assert found[0].matched == ("visual",)  # the only PNG, by the picture alone


def test_visual_only_and_text_only_searches_leave_the_other_out(
    library: Library, root: Path
) -> None:
    base = SearchRequest((QueryTerm("text", "lighthouse"),), limit=5)
    texts = search(SearchRequest(**{**base.__dict__, "fusion": "text"}), library.embedder,
                   library.index)  # fmt: skip
    assert [r.matched for r in texts] == [("keyword",)]
    visuals = search(SearchRequest(**{**base.__dict__, "fusion": "visual"}), library.embedder,
                     library.index)  # fmt: skip
    assert len(visuals) == 5 and all(r.matched[-1] == "visual" for r in visuals)


def test_a_library_of_the_previous_release_gets_its_words_when_indexed(tmp_path: Path) -> None:
    with tarfile.open(FIXTURE) as packed:
        packed.extractall(tmp_path, filter="data")
    settings = load_settings(data_dir=tmp_path / "data", model=TINY_MODEL, device="cpu")
    with Library(settings) as library:
        assert library.index.lacking_text(100)[0]  # opened: the space is there, the words not
        assert library.index.search_text(query_vector("photo003"), SearchFilters(), 5) == []
        (tmp_path / "nothing-new").mkdir()
        Indexer(Ingester.of(library)).run([str(tmp_path / "nothing-new")])
        assert library.index.lacking_text(100) == ([], None)
        [first, *_] = find(library, "photo003")
    assert first.path == "/tmp/fixlib/photos/photo003.jpg" and first.matched[0] == "name"


def test_the_word_eval_compares_the_fusions(library: Library, root: Path) -> None:
    queries = root.parent / "words.jsonl"
    queries.write_text(
        '{"text": "IMG_2041", "kind": "name", "relevant": ["IMG_2041.jpg"]}\n'
        '{"text": "lighthouse", "kind": "keyword", "relevant": ["DSC_0001.jpg"]}\n'
    )
    report = evaluate_words(library, word_queries(queries))
    fusions = report["fusions"]
    assert set(fusions) == {"rrf", "weighted", "visual", "text"}
    assert fusions["rrf"]["overall"]["MRR"] == fusions["text"]["overall"]["MRR"] == 1.0
    assert fusions["visual"]["overall"]["MRR"] < 1.0  # random pictures: the words find them
    assert fusions["rrf"]["keyword"]["R@1"] == 1.0
    assert "fused (RRF)" in words_table(report)


def test_the_search_command_prints_what_matched(capsys: pytest.CaptureFixture[str]) -> None:
    found = SearchResult("an-id", 0.5, "/p/IMG_1.jpg", {}, ("name", "visual"))
    _print_results([found])
    assert capsys.readouterr().out.strip().endswith("(name, visual)  [an-id]")
