"""A photo's words from its payload, each with its source; the sparse vectors they index as;
and the fusion of the picture and the word searches."""

from __future__ import annotations

from pixseek.index.base import Hit
from pixseek.photos.text import (
    coverage,
    matched_sources,
    photo_words,
    query_vector,
    text_vector,
    token_index,
    tokens,
)
from pixseek.search.hybrid import fuse

PAYLOAD = {
    "paths": ["/home/me/Pictures/trips/tokyo-2019-03/IMG_2041.JPG", "/backup/IMG_2041.JPG"],
    "filename": "IMG_2041.JPG",
    "title": "Shibuya crossing",
    "description": None,
    "keywords": ["Night", "street"],
    "artist": "Vera Ito",
    "city": "Tokyo",
    "country": "Japan",
    "ocr_text": "EXIT 3",
    "camera_make": "Canon",  # not a word source
}


def test_file_names_split_into_words_and_keep_the_whole_name() -> None:
    assert tokens("IMG_2041") == ["img", "2041", "img_2041"]
    assert tokens("tokyo-2019-03") == ["tokyo", "2019", "03", "tokyo-2019-03"]
    assert tokens("DSC0042") == ["dsc", "0042", "dsc0042"]
    assert tokens("Café, Straße!") == ["café", "straße"]
    assert tokens("  ") == []


def test_every_word_is_tagged_with_the_field_it_came_from() -> None:
    words = set(photo_words(PAYLOAD))
    assert {("img_2041", "name"), ("img_2041.jpg", "name"), ("2041", "name")} <= words
    assert {("tokyo", "folder"), ("2019", "folder"), ("trips", "folder")} <= words
    assert ("pictures", "folder") in words and ("me", "folder") not in words  # 3 innermost
    assert {("night", "keyword"), ("shibuya", "caption"), ("ito", "caption")} <= words
    assert {("tokyo", "place"), ("japan", "place"), ("exit", "text")} <= words
    assert not [w for w in words if w.token == "canon"]


def test_the_sources_a_query_matches_come_in_a_fixed_order() -> None:
    assert matched_sources(PAYLOAD, "tokyo night") == ["folder", "keyword", "place"]
    assert matched_sources(PAYLOAD, "IMG_2041.jpg") == ["name"]
    assert matched_sources(PAYLOAD, "red bicycle") == []


def test_sparse_vectors_hash_each_distinct_word_once_and_saturate_counts() -> None:
    vector = text_vector(PAYLOAD)
    assert vector.indices == sorted(set(vector.indices))
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights[token_index("tokyo")] > weights[token_index("japan")] == 1.0  # 2 sources
    assert weights[token_index("tokyo")] < 2.0  # saturating: never twice one mention
    query = query_vector("tokyo tokyo night")
    assert sorted(query.indices) == sorted({token_index("tokyo"), token_index("night")})
    assert query.values == [1.0, 1.0]


def hit(name: str, score: float, **payload: object) -> Hit:
    return Hit(name, score, {"paths": [f"/p/{name}.jpg"], **payload})


def test_a_photo_covering_the_query_beats_the_best_picture_and_says_why() -> None:
    visual = [hit("a", 0.31), hit("b", 0.30), hit("named", 0.10)]
    text = [hit("named", 9.0, keywords=["lighthouse"]), hit("c", 1.0)]
    fused = fuse(visual, text, "rrf", "named lighthouse")
    assert [h.id for h in fused.hits][:3] == ["named", "a", "b"]
    assert fused.matched(fused.hits[0], "named lighthouse") == ["name", "keyword", "visual"]
    assert fused.matched(fused.hits[1], "named lighthouse") == ["visual"]
    weak = fuse(visual, [hit("c", 1.0, title="at")], "rrf", "red bicycle at night")
    assert weak.hits[0].id == "a"  # one common word of four does not outrank the picture


def test_visual_or_text_alone_keeps_one_list() -> None:
    visual, text = [hit("a", 0.3)], [hit("b", 2.0)]
    assert [h.id for h in fuse(visual, text, "visual", "b").hits] == ["a"]
    only = fuse(visual, text, "text", "b")
    assert [h.id for h in only.hits] == ["b"] and only.matched(only.hits[0], "b") == ["name"]
    weighted = fuse(visual, text, "weighted", "b")
    assert [h.id for h in weighted.hits] == ["b", "a"]


def test_without_a_word_hit_the_picture_hits_keep_their_cosine_scores() -> None:
    visual = [hit("a", 0.31), hit("b", 0.30)]
    assert fuse(visual, [], "rrf", "red bicycle").hits == visual


def test_a_query_word_matches_whole_or_by_all_its_parts() -> None:
    named = {"paths": ["/lib/trips/tokyo-2019-03/photo005.jpg"]}
    other = {"paths": ["/lib/home/photo003.jpg"]}
    assert matched_sources(named, "photo005") == ["name"]
    assert matched_sources(other, "photo005") == []  # only "photo" in common
    assert matched_sources(named, "tokyo-2019") == ["folder"]
    assert matched_sources(other, "photo") == ["name"]


def test_coverage_counts_query_words_as_matched_sources_does() -> None:
    named = {"paths": ["/lib/trips/tokyo-2019-03/photo005.jpg"], "keywords": ["New York"]}
    assert coverage(named, "tokyo-2019") == 1.0  # its parts are in the folder name
    assert coverage(named, "photo005 beach") == 0.5
    assert coverage(named, "photo003") == 0.0  # "photo" alone is not the word asked for
    assert coverage(named, "new-york tokyo") == 1.0  # parts from a keyword, a folder
    assert coverage(named, " ,; ") == 0.0
