"""The response-template engine: filling, choice of variants, fallbacks, record lookup, escaping, validation."""

from __future__ import annotations

import json

import pytest

from nlu.errors import TemplateError
from nlu.generation.templates import Template, TemplateSet
from nlu.prediction import Entity, Prediction

BOOK = {
    "choose": "cycle",
    "default": "Sorry?",
    "intents": {
        "BookRestaurant": {
            "templates": [
                "Booking {restaurant_name} for {party_size_number}.",
                "A table for {party_size_number} at {restaurant_name}.",
                "Booking {restaurant_name}.",
            ],
            "ask": {"restaurant_name": "Which restaurant?"},
            "fallback": "For how many people at {restaurant_name}?",
        }
    },
}


def parse(intent, **slots):
    return {"intent": intent, "slots": slots}


def test_fills_slots_and_cycles_through_complete_variants():
    t = TemplateSet.from_dict(BOOK)
    p = parse("BookRestaurant", restaurant_name="Nandos", party_size_number="4")
    texts = [t.render(p).text for _ in range(4)]
    assert texts == [
        "Booking Nandos for 4.",
        "A table for 4 at Nandos.",
        "Booking Nandos.",
        "Booking Nandos for 4.",
    ]


def test_a_template_is_used_only_when_all_its_slots_have_values():
    t = TemplateSet.from_dict(BOOK)
    r = t.render(parse("BookRestaurant", restaurant_name="Nandos"))
    assert (r.text, r.source, r.template_index) == ("Booking Nandos.", "template", 2)


def test_missing_slot_asks_for_it_then_fallback_then_default():
    t = TemplateSet.from_dict(BOOK)
    r = t.render(parse("BookRestaurant", party_size_number="2"))
    assert (r.text, r.source) == ("Which restaurant?", "ask")
    assert "restaurant_name" in r.missing
    no_ask = {**BOOK, "intents": {"BookRestaurant": {**BOOK["intents"]["BookRestaurant"], "ask": {}}}}
    t = TemplateSet.from_dict(no_ask)
    # the fallback needs restaurant_name too, so the default is what is left
    assert t.render(parse("BookRestaurant", party_size_number="2")).source == "default"
    only_two = {"intents": {"X": {"templates": ["{a} and {b}"], "fallback": "Only {a}."}}}
    r = TemplateSet.from_dict(only_two).render(parse("X", a="one"))
    assert (r.text, r.source, r.missing) == ("Only one.", "fallback", ["b"])


def test_unknown_intent_and_empty_parse_get_the_default():
    t = TemplateSet.from_dict(BOOK)
    assert t.render(parse("PlayMusic", artist="x")).text == "Sorry?"
    assert t.render({"intent": None, "entities": []}).source == "default"


def test_random_choice_is_deterministic_for_a_seed():
    spec = {**BOOK, "choose": "random", "seed": 7}
    p = parse("BookRestaurant", restaurant_name="Nandos", party_size_number="4")
    first = [TemplateSet.from_dict(spec).render(p).template_index for _ in range(1)]
    a = TemplateSet.from_dict(spec)
    b = TemplateSet.from_dict(spec)
    seq_a = [a.render(p).template_index for _ in range(20)]
    seq_b = [b.render(p).template_index for _ in range(20)]
    assert seq_a == seq_b and seq_a[0] == first[0]
    assert len(set(seq_a)) == 3  # every complete variant is used


def test_values_are_escaped_and_never_read_as_templates():
    spec = {"escape": "html", "intents": {"Say": {"templates": ["<p>{text}</p>"]}}}
    r = TemplateSet.from_dict(spec).render(parse("Say", text="<b>{restaurant_name}</b> & co"))
    assert r.text == "<p>&lt;b&gt;{restaurant_name}&lt;/b&gt; &amp; co</p>"
    md = {"escape": "markdown", "intents": {"Say": {"templates": ["*{text}*"]}}}
    assert TemplateSet.from_dict(md).render(parse("Say", text="a_b*c")).text == r"*a\_b\*c*"
    plain = {"intents": {"Say": {"templates": ["{{literal}} {text}"]}}}
    assert TemplateSet.from_dict(plain).render(parse("Say", text="{x}")).text == "{literal} {x}"


def test_several_values_for_one_slot_are_joined():
    spec = {"conjunction": "or", "intents": {"Play": {"templates": ["Playing {artist}."]}}}
    r = TemplateSet.from_dict(spec).render(parse("Play", artist=["A", "B", "C", "A"]))
    assert r.text == "Playing A, B or C."


def test_prediction_objects_render_like_their_json():
    pred = Prediction(
        text="book nandos for 4",
        intent="BookRestaurant",
        intent_confidence=0.9,
        entities=[
            Entity("restaurant_name", "nandos", 5, 11, 0.9),
            Entity("party_size_number", "4", 16, 17, 0.9),
        ],
    )
    a, b = TemplateSet.from_dict(BOOK), TemplateSet.from_dict(BOOK)
    assert a.render(pred).text == b.render(pred.to_dict()).text == "Booking nandos for 4."


def test_record_lookup_fills_record_fields(tmp_path):
    (tmp_path / "restaurants.jsonl").write_text(
        json.dumps({"name": "The Eagle", "food": "French", "near": ["Burger King", "Café Rouge"]}) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "t.yml").write_text(
        """
tables:
  restaurants: {file: restaurants.jsonl, key: name}
intents:
  Find:
    lookup: {table: restaurants, by: restaurant_name}
    templates: ["{restaurant_name} serves {record:food} food near {record:near}."]
    fallback: "I do not know {restaurant_name}."
""",
        encoding="utf-8",
    )
    t = TemplateSet.from_yaml(tmp_path / "t.yml")
    r = t.render(parse("Find", restaurant_name="the eagle"))
    assert r.text == "the eagle serves French food near Burger King and Café Rouge."
    assert r.record["food"] == "French"
    miss = t.render(parse("Find", restaurant_name="Nandos"))
    assert (miss.text, miss.source) == ("I do not know Nandos.", "fallback")
    given = t.render(parse("Find", restaurant_name="X"), record={"food": "Thai", "near": "Y"})
    assert given.text == "X serves Thai food near Y."


def test_validation_reports_every_problem_with_its_key(tmp_path):
    bad = {
        "choose": "sometimes",
        "intents": {
            "A": {"templates": ["Hello {name"], "fallbak": "x"},
            "B": {"templates": ["{record:food}"]},
            "C": {"templates": ["ok"], "lookup": {"table": "nope", "by": "s"}},
        },
    }
    with pytest.raises(TemplateError) as err:
        TemplateSet.from_dict(bad, source="t.yml")
    text = str(err.value)
    assert "t.yml: choose:" in text
    assert "intents.A.fallbak: unknown key; did you mean 'fallback'?" in text
    bad["choose"] = "first"
    del bad["intents"]["A"]["fallbak"]
    with pytest.raises(TemplateError) as err:
        TemplateSet.from_dict(bad, source="t.yml")
    problems = err.value.problems
    assert any("intents.A.templates.0: unmatched '{'" in p for p in problems)
    assert any("intents.B.templates.0" in p and "lookup" in p for p in problems)
    assert any("intents.C.lookup.table: no table 'nope'" in p for p in problems)
    assert len(problems) == 3


def test_bad_tables_name_file_and_line(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"name": "A"}\n{oops\n{"food": "x"}\n', encoding="utf-8")
    spec = {"tables": {"r": {"file": "r.jsonl", "key": "name"}}, "intents": {}}
    with pytest.raises(TemplateError) as err:
        TemplateSet.from_dict(spec, source="t.yml", base_dir=tmp_path)
    text = str(err.value)
    assert "r.jsonl:2: not valid JSON" in text and "r.jsonl:3: expected a JSON object" in text


def test_check_labels_against_a_model():
    t = TemplateSet.from_dict(BOOK)
    problems = t.check_labels(["BookRestaurant"], ["restaurant_name", "party_size_numbr"])
    assert problems == [
        "<templates>: intents.BookRestaurant: {party_size_number}: the model has no such slot type; "
        "did you mean 'party_size_numbr'?"
    ]
    assert "no such intent" in t.check_labels(["Book"], ["restaurant_name", "party_size_number"])[0]


@pytest.mark.parametrize("source", ["{}", "a } b", "{record:}", "{a b}", "{a|b}"])
def test_malformed_placeholders_are_rejected(source):
    with pytest.raises(ValueError):
        Template.parse(source)


def test_spaces_inside_braces_are_allowed():
    assert Template.parse("Hi { name }!").fill({"name": "Ann"}) == "Hi Ann!"
