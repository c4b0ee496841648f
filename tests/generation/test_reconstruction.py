"""KB reconstruction: aligning record values to spans, learning what a surface string stands for, and reading
records back from a slot filler's predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.data.alignment import split_words
from nlu.errors import RecordError
from nlu.generation.metrics import reconstruction_scores
from nlu.generation.reconstruction import (
    RecordAligner,
    RecordExtractor,
    ValueNormalizer,
    load_forms,
)
from nlu.generation.records import RecordText
from nlu.prediction import Entity, Prediction

FORMS = {
    "priceRange": {"cheap": ["inexpensive", "low price"]},
    "area": {"city centre": ["city center", "centre"]},
    "eatType": {"pub": ["bar"]},
}


def test_values_and_their_forms_become_spans_longest_first():
    aligner = RecordAligner(FORMS, sentence_slots=["familyFriendly"])
    item = RecordText(
        {
            "name": ["All Bar One"],
            "eatType": ["pub"],
            "priceRange": ["cheap"],
            "area": ["city centre"],
            "familyFriendly": ["no"],
            "customer rating": ["high"],
        },
        "All Bar One is an inexpensive bar in the city center, not for kids.",
    )
    ex = aligner.example(item, "x")
    tagged = [(w, t) for w, t in zip(ex.tokens, ex.tags, strict=True) if t != "O"]
    assert tagged == [
        ("All", "B-name"),
        ("Bar", "I-name"),  # the name is claimed before the eatType form "bar"
        ("One", "I-name"),
        ("inexpensive", "B-priceRange"),
        ("bar", "B-eatType"),
        ("city", "B-area"),  # "city center" beats the shorter form "centre"
        ("center", "I-area"),
    ]
    assert ex.intent == "familyFriendly=no"
    stats = aligner.stats.to_dict()
    assert stats["values"] == 5 and stats["aligned"] == 4  # "customer rating: high" is not in the text
    assert stats["by_slot"]["customer rating"] == {"values": 1, "aligned": 0}


def test_slot_names_with_spaces_are_tag_safe():
    ex = RecordAligner().example(RecordText({"customer rating": ["5 out of 5"]}, "Rated 5 out of 5."))
    # the splitter leaves "5." whole; it still matches the value
    assert ex.tags == [
        "O",
        "B-customer_rating",
        "I-customer_rating",
        "I-customer_rating",
        "I-customer_rating",
    ]
    assert ex.intent == "none"


def test_normalizer_learns_the_value_behind_a_surface_string():
    aligner = RecordAligner(FORMS)
    items = [
        RecordText({"priceRange": ["cheap"]}, "It is inexpensive."),
        RecordText({"priceRange": ["cheap"]}, "Low price food."),
        RecordText({"priceRange": ["cheap"]}, "Cheap eats."),
    ]
    normalizer = ValueNormalizer.learn(items, [aligner.example(it) for it in items])
    assert normalizer.value("priceRange", "Inexpensive") == "cheap"
    assert normalizer.value("priceRange", "low  price") == "cheap"
    assert normalizer.value("priceRange", "free") == "free"  # unseen: stands for itself


def _fake_predict(texts):
    out = []
    for text in texts:
        words = split_words(text)
        entities = [Entity("name", w, s, e, 1.0) for w, s, e in words if w[0].isupper()]
        entities += [Entity("customer_rating", w, s, e, 1.0) for w, s, e in words if w == "stellar"]
        intent = "familyFriendly=yes" if "kids" in text else "none"
        out.append(Prediction(text, intent, 1.0, entities=entities))
    return out


def test_extractor_reads_records_back():
    normalizer = ValueNormalizer({"customer rating": {"stellar": "5 out of 5"}, "name": {}})
    extractor = RecordExtractor(_fake_predict, normalizer, sentence_slots=["familyFriendly"])
    records = extractor.extract(["Zizzi is stellar for kids.", "Zizzi and Zizzi."])
    assert records == [
        {"name": ["Zizzi"], "customer rating": ["5 out of 5"], "familyFriendly": ["yes"]},
        {"name": ["Zizzi"]},  # a repeated value counts once
    ]
    gold = [{"name": "Zizzi", "customer rating": "5 out of 5", "familyFriendly": "yes"}, {"name": "Zizzi"}]
    assert reconstruction_scores(gold, records)["f1"] == 100.0


def test_forms_file_errors(tmp_path: Path):
    bad = tmp_path / "forms.yml"
    bad.write_text("priceRange:\n  cheap: inexpensive\n", encoding="utf-8")
    with pytest.raises(RecordError, match="priceRange: expected value: \\[non-empty surface forms\\]"):
        load_forms(bad)
    shipped = load_forms(Path(__file__).resolve().parents[2] / "recipes" / "e2e" / "value_forms.yml")
    assert "£20-25" in shipped["priceRange"]
