"""Text and record metrics on pairs whose scores are known by hand."""

from __future__ import annotations

import pytest

from nlu.generation.metrics import bleu, distinct, meteor, reconstruction_scores, record_pairs, rouge_l


def test_identical_texts_score_100_and_disjoint_texts_score_0():
    refs = [["The Eagle is a pub near the river."], ["Zizzi serves cheap food."]]
    hyps = ["The Eagle is a pub near the river.", "Zizzi serves cheap food."]
    assert bleu(hyps, refs) == pytest.approx(100.0)
    assert rouge_l(hyps, refs) == pytest.approx(100.0)
    assert meteor(hyps, refs) > 99.0
    other = ["qqq www eee rrr ttt yyy uuu iii", "zzz xxx ccc vvv"]
    assert bleu(other, refs) == pytest.approx(0.0)
    assert rouge_l(other, refs) == 0.0


def test_the_best_reference_counts():
    hyps = ["a pub in the city centre"]
    one = rouge_l(hyps, [["a restaurant by the river"]])
    two = rouge_l(hyps, [["a restaurant by the river", "a pub in the city centre"]])
    assert two == pytest.approx(100.0) and one < 50.0
    # references of different counts per hypothesis are allowed
    assert bleu(hyps * 2, [["a pub in the city centre"], ["x", "a pub in the city centre"]]) == pytest.approx(
        100.0
    )


def test_rouge_l_by_hand():
    # LCS("a b c d", "a c d e") = 3 -> P = R = 3/4 -> F = 0.75
    assert rouge_l(["a b c d"], [["a c d e"]]) == pytest.approx(75.0)


def test_distinct_n():
    assert distinct(["a b a b"], 2) == pytest.approx(100 * 2 / 3)  # ab, ba, ab
    assert distinct(["a b", "a b"], 1) == pytest.approx(50.0)
    assert distinct([""], 2) == 0.0


def test_reconstruction_and_slot_error_rate():
    gold = [{"name": "The Eagle", "food": "French", "near": ["Burger King", "Café Rouge"]}]
    pred = [{"name": "the eagle", "food": "Italian", "near": "Burger King", "area": "riverside"}]
    s = reconstruction_scores(gold, pred)
    # correct: name, near=Burger King (2 of 4 gold, 2 of 4 predicted); wrong food = 1 missing + 1 added
    assert (s["precision"], s["recall"], s["f1"]) == (50.0, 50.0, 50.0)
    assert (s["missing"], s["added"], s["input_pairs"]) == (2, 2, 4)
    assert s["slot_error_rate"] == 100.0
    assert record_pairs({"a": ["X", "y"]}) == {("a", "x"), ("a", "y")}


def test_mismatched_lengths_are_errors():
    with pytest.raises(ValueError):
        bleu(["a"], [])
    with pytest.raises(ValueError):
        rouge_l(["a"], [[]])
