"""The eval's metrics against values worked out by hand on small crafted rankings."""

from __future__ import annotations

import math

import pytest

from pixseek.quality.metrics import Judged, recall_curve, score

# q1: relevant a and b; found a first, b third.  q2: c (grade 2) found third.
Q1 = Judged("q1", {"a": 1, "b": 1})
Q2 = Judged("q2", {"c": 2})
RANKINGS = {"q1": ["a", "x", "b", "y"], "q2": ["x", "y", "c"]}


def test_each_measure_of_one_query_is_what_a_hand_computes() -> None:
    found = score([Q1], RANKINGS)
    assert found["R@1"] == pytest.approx(0.5)  # one of two relevant in the first place
    assert found["R@5"] == pytest.approx(1.0)
    assert found["mAP"] == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision at each relevant
    assert found["MRR"] == pytest.approx(1.0)
    assert found["P@1"] == pytest.approx(1.0)
    assert found["P@10"] == pytest.approx(0.2)  # two relevant among ten places
    ideal = 1 + 1 / math.log2(3)
    assert found["nDCG@10"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_graded_relevance_weighs_ndcg_and_means_average_over_queries() -> None:
    alone = score([Q2], RANKINGS)
    assert alone["nDCG@10"] == pytest.approx((2 / math.log2(4)) / (2 / math.log2(2)))
    assert alone["mAP"] == pytest.approx(1 / 3) and alone["MRR"] == pytest.approx(1 / 3)
    both = score([Q1, Q2], RANKINGS)
    assert both["R@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert both["mAP"] == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3) / 2)
    assert both["MRR"] == pytest.approx((1 + 1 / 3) / 2)


def test_junk_is_taken_out_of_the_ranking_before_counting() -> None:
    """Revisited Oxford: a junk picture ranked first neither helps nor hurts."""
    with_junk = Judged("q", {"d": 1}, frozenset({"j"}))
    found = score([with_junk], {"q": ["j", "d", "z"]})
    assert found["R@1"] == pytest.approx(1.0) and found["mAP"] == pytest.approx(1.0)
    without = score([Judged("q", {"d": 1})], {"q": ["j", "d", "z"]})
    assert without["R@1"] == 0.0 and without["mAP"] == pytest.approx(0.5)


def test_a_query_that_found_nothing_counts_as_zero_not_as_absent() -> None:
    """pytrec_eval leaves out queries without a ranking, which would hide a failing query."""
    lost = Judged("lost", {"e": 1})
    found = score([Q1, lost], {"q1": RANKINGS["q1"], "lost": []})
    assert found["MRR"] == pytest.approx(0.5)
    assert score([Q1, lost], {"q1": RANKINGS["q1"]})["MRR"] == pytest.approx(0.5)


def test_the_query_itself_in_its_ranking_is_skipped() -> None:
    found = score([Judged("self", {"other": 1})], {"self": ["self", "other"]})
    assert found["R@1"] == pytest.approx(1.0)


def test_recall_curve_rises_with_k() -> None:
    curve = recall_curve([Q1, Q2], RANKINGS)
    assert curve[1] == pytest.approx(0.25) and curve[2] == pytest.approx(0.25)
    assert curve[5] == pytest.approx(1.0) and curve[100] == pytest.approx(1.0)
