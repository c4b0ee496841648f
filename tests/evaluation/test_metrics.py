"""evaluate_predictions on hand-made examples whose scores are worked out by hand."""

from __future__ import annotations

import json
import math

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from nlu.data.example import Example
from nlu.evaluation.metrics import evaluate_predictions, slot_spans, uncoordinated_tags
from nlu.prediction import Prediction


def _pred(example: Example, intent: str | None, tags: list[str]) -> Prediction:
    return Prediction(
        text=" ".join(example.tokens), intent=intent, intent_confidence=0.9, tokens=example.tokens, tags=tags
    )


GOLD = [
    Example("e1", ["fly", "to", "boston", "tomorrow"], ["O", "O", "B-city", "B-date"], "flight"),
    Example("e2", ["fare", "from", "new", "york"], ["O", "O", "B-city", "I-city"], "airfare"),
    Example("e3", ["show", "flights", "at", "noon"], ["O", "O", "O", "B-time"], "flight"),
    Example("e4", ["hello"], ["O"], "greet"),
]


def _known_case() -> list[Prediction]:
    """e2 gets the wrong intent (flight), e3 misses its time span; e1 and e4 are exact."""
    return [
        _pred(GOLD[0], "flight", ["O", "O", "B-city", "B-date"]),
        _pred(GOLD[1], "flight", ["O", "O", "B-city", "I-city"]),
        _pred(GOLD[2], "flight", ["O", "O", "O", "O"]),
        _pred(GOLD[3], "greet", ["O"]),
    ]


def test_perfect_predictions_score_one_with_zero_standard_error():
    pred = [_pred(g, g.intent, list(g.tags)) for g in GOLD]
    s = evaluate_predictions(GOLD, pred, bootstrap=200).to_dict()["summary"]
    for name in ("intent_accuracy", "slot_precision", "slot_recall", "slot_f1", "exact_match"):
        assert s[name] == 1.0, name
        assert s[name + "_se"] == 0.0, name  # e4 has no spans: resamples of it alone are left out, not 0


def test_known_case_exact_values():
    result = evaluate_predictions(GOLD, _known_case(), bootstrap=0)
    s = result.to_dict()["summary"]
    assert s["n"] == 4
    # 3 of 4 intents right; binomial SE sqrt(0.75 * 0.25 / 4)
    assert s["intent_accuracy"] == 0.75
    assert s["intent_accuracy_se"] == round(math.sqrt(0.75 * 0.25 / 4), 6)
    # gold spans: city, date, city, time = 4; predicted: city, date, city = 3, all correct
    assert (s["n_gold_spans"], s["n_pred_spans"], s["n_correct_spans"]) == (4, 3, 3)
    assert s["slot_precision"] == 1.0
    assert s["slot_recall"] == 0.75
    assert s["slot_f1"] == round(6 / 7, 6)
    assert s["slot_precision_se"] is None  # bootstrap=0 skips the slot standard errors
    # e1 and e4 are exact
    assert s["exact_match"] == 0.5
    assert s["exact_match_se"] == 0.25

    assert result.per_intent["flight"] == {
        "support": 2,
        "correct": 2,
        "accuracy": 1.0,
        "predicted": 3,
        "precision": 2 / 3,
        "recall": 1.0,
        "f1": 0.8,
    }
    assert result.per_intent["airfare"]["support"] == 1
    assert result.per_intent["airfare"]["correct"] == 0
    assert result.per_intent["airfare"]["precision"] == 0.0
    assert result.per_intent["greet"]["f1"] == 1.0
    assert list(result.per_intent)[0] == "flight"  # ordered by support

    assert result.per_slot["city"] == {
        "support": 2,
        "predicted": 2,
        "correct": 2,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }
    assert result.per_slot["time"]["support"] == 1
    assert result.per_slot["time"]["recall"] == 0.0
    assert result.per_slot["time"]["f1"] == 0.0

    confusion = result.to_dict()["confusion"]
    assert confusion["labels"] == ["airfare", "flight", "greet"]
    assert confusion["matrix"] == [[0, 1, 0], [0, 2, 0], [0, 0, 1]]  # rows gold, columns predicted


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["O", "B-city", "I-city", "I-city"], 0),
        (["I-city", "I-city"], 1),  # a sequence may not open with I-
        (["O", "I-city"], 1),
        (["B-city", "I-state"], 1),  # I-X after B-Y: the case SlotRefine's second pass is for
        (["B-city", "I-city", "I-state", "I-state"], 1),  # the second I-state continues the first
        (["O", "I-city", "B-city", "I-city", "I-state"], 2),
        ([], 0),
    ],
)
def test_uncoordinated_tags(tags, expected):
    assert uncoordinated_tags(tags) == expected


def test_uncoordinated_counts_are_reported_over_the_predictions():
    pred = _known_case()
    pred[0] = _pred(GOLD[0], "flight", ["I-city", "O", "B-city", "I-date"])  # two in one example
    pred[2] = _pred(GOLD[2], "flight", ["O", "O", "O", "I-time"])
    s = evaluate_predictions(GOLD, pred, bootstrap=0).summary()
    assert (s["n_uncoordinated_tags"], s["n_uncoordinated_examples"]) == (3, 2)
    # gold tags never count: a perfect prediction has none
    perfect = [_pred(g, g.intent, list(g.tags)) for g in GOLD]
    assert evaluate_predictions(GOLD, perfect, bootstrap=0).summary()["n_uncoordinated_tags"] == 0


def test_slot_scores_match_seqeval_default_mode():
    gold_tags = [["I-city", "I-city", "O", "B-date"], ["B-a", "I-b", "O"], ["O"]]
    pred_tags = [["B-city", "I-city", "O", "I-date"], ["B-a", "B-b", "O"], ["B-x"]]
    gold = [Example(f"g{i}", ["w"] * len(t), t, "i") for i, t in enumerate(gold_tags)]
    pred = [_pred(g, "i", t) for g, t in zip(gold, pred_tags, strict=True)]
    s = evaluate_predictions(gold, pred, bootstrap=0).summary()
    assert s["slot_precision"] == pytest.approx(precision_score(gold_tags, pred_tags))
    assert s["slot_recall"] == pytest.approx(recall_score(gold_tags, pred_tags))
    assert s["slot_f1"] == pytest.approx(f1_score(gold_tags, pred_tags))
    # conlleval mode: a span may open with I-, so I-city I-city equals B-city I-city
    assert slot_spans(["I-city", "I-city"]) == {("city", 0, 1)}


def test_unseen_gold_labels_count_as_errors_and_are_listed():
    result = evaluate_predictions(
        GOLD, _known_case(), known_intents={"flight", "greet"}, known_slot_types={"city", "date"}, bootstrap=0
    )
    assert result.intent_accuracy == 0.75  # the unseen-intent example stays in, as an error
    assert result.n_gold_spans == 4
    unseen = result.to_dict()["unseen"]
    assert unseen["unseen_intents"] == {"airfare": 1}
    assert unseen["unseen_slot_types"] == {"time": 1}
    assert unseen["examples_with_unseen_intent"] == 1
    assert unseen["intent_errors_from_unseen"] == 1
    assert unseen["examples_with_unseen_slot_type"] == 1
    assert unseen["spans_of_unseen_slot_type"] == 1
    assert unseen["missed_spans_of_unseen_slot_type"] == 1
    assert unseen["examples_with_unseen_label"] == 2
    assert unseen["exact_match_errors_from_unseen"] == 2


def test_without_vocabulary_unseen_is_not_checked():
    unseen = evaluate_predictions(GOLD, _known_case(), bootstrap=0).to_dict()["unseen"]
    assert unseen["unseen_intents"] is None
    assert unseen["unseen_slot_types"] is None


def test_missing_predicted_intent_is_an_error_with_its_own_label():
    pred = _known_case()
    pred[3] = _pred(GOLD[3], None, ["O"])
    result = evaluate_predictions(GOLD, pred, bootstrap=0)
    assert result.intent_accuracy == 0.5
    assert "<none>" in result.confusion_labels


def test_misaligned_tag_lengths_raise_naming_the_example():
    pred = _known_case()
    pred[2] = _pred(GOLD[2], "flight", ["O", "O", "O"])
    with pytest.raises(ValueError, match="e3"):
        evaluate_predictions(GOLD, pred)


def test_different_list_lengths_raise():
    with pytest.raises(ValueError, match="4 gold examples but 3 predictions"):
        evaluate_predictions(GOLD, _known_case()[:3])


def test_bootstrap_standard_error_is_positive_and_deterministic():
    a = evaluate_predictions(GOLD, _known_case(), bootstrap=500, seed=7)
    b = evaluate_predictions(GOLD, _known_case(), bootstrap=500, seed=7)
    c = evaluate_predictions(GOLD, _known_case(), bootstrap=500, seed=8)
    assert a.slot_recall_se > 0
    assert a.slot_f1_se > 0
    assert a.slot_precision_se == 0.0  # every predicted span is right in every resample
    assert (a.slot_recall_se, a.slot_f1_se) == (b.slot_recall_se, b.slot_f1_se)
    assert (a.slot_recall_se, a.slot_f1_se) != (c.slot_recall_se, c.slot_f1_se)


def test_to_dict_is_json_serialisable_and_rounded():
    d = evaluate_predictions(GOLD, _known_case(), bootstrap=50).to_dict()
    assert set(d) == {"summary", "per_intent", "per_slot", "confusion", "unseen"}
    assert json.loads(json.dumps(d)) == d
    assert d["per_intent"]["flight"]["precision"] == 0.666667
