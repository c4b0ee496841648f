"""Rasa 3.x NLU YAML: entity markup (roles and groups in the slot type), sections and metadata kept, line numbers
of errors, and write -> read round trips, through JSON lines too."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nlu.data import rasa_yaml
from nlu.data.example import Example
from nlu.errors import DataError

FIXTURE = Path(__file__).resolve().parents[1] / "assets" / "rasa" / "nlu.yml"

# (words, tags, intent) of every example in the fixture, in file order
EXPECTED = [
    ("fly from Boston to New York", "O O B-city O B-city#destination I-city#destination", "book_flight"),
    ("book a flight to NYC", "O O O O B-city", "book_flight"),
    ("i need a flight to LA please .", "O O O O O B-city O O", "book_flight"),
    ("two tickets to san francisco , please !", "B-count O O B-city I-city O O O", "book_flight"),
    ("hi", "O", "greet"),
    ("hello there", "O O", "greet"),
    ("good morning , Ann", "O O O B-name@1", "greet"),
    ("what's your name ?", "O O O O", "faq/ask_name"),
    ("who are you", "O O O", "faq/ask_name"),
]


def _triples(examples: list[Example]) -> list[tuple[list[str], list[str], str]]:
    return [(ex.tokens, ex.tags, ex.intent) for ex in examples]


def _round_trip(examples: list[Example], folder: Path) -> list[Example]:
    rasa_yaml.write(examples, folder / "out.yml")
    return rasa_yaml.read(folder / "out.yml")


def test_fixture_words_tags_and_intents():
    examples = rasa_yaml.read(FIXTURE)
    assert _triples(examples) == [(w.split(), t.split(), i) for w, t, i in EXPECTED]
    assert [ex.id for ex in examples] == [f"nlu-{i}" for i in range(len(EXPECTED))]
    assert all(ex.lang == "en" for ex in examples)


def test_role_and_group_are_in_the_slot_type_value_and_metadata_in_meta():
    """Roles were the slot type city.destination, which came back as the entity name: Rasa slot mappings by
    role never matched. The tag now carries them as city#destination / name@1, split back in predictions."""
    examples = rasa_yaml.read(FIXTURE)
    assert "rasa_entities" not in examples[0].meta  # the tag holds entity and role
    assert examples[1].meta["rasa_entities"] == [
        {"start": 4, "end": 5, "entity": "city", "value": "New York"}
    ]
    assert examples[2].meta["rasa_entities"][0]["value"] == "Los Angeles"
    assert examples[8].meta == {"rasa_metadata": {"sentiment": "neutral"}}
    assert examples[4].meta == {} and examples[5].meta == {}  # written back as they were: nothing recorded
    # the line as written, where the words alone would write it back differently
    assert (
        examples[2].meta["rasa_text"]
        == 'i need a flight to [LA]{"entity": "city", "value": "Los Angeles"} please.'
    )
    assert examples[3].meta["rasa_text"] == "[two](count) tickets to [san francisco](city), please!"


def test_sections_ride_on_the_first_example_and_feed_training():
    """Synonyms, lookup tables and regexes were dropped with a warning."""
    examples = rasa_yaml.read(FIXTURE)
    info = examples[0].meta["rasa_file"]
    assert info["version"] == "3.1"
    assert [next(iter(item)) for item in info["items"]] == [
        "intent",
        "synonym",
        "intent",
        "lookup",
        "intent",
        "regex",
    ]
    assert all("rasa_file" not in ex.meta for ex in examples[1:])
    extras = rasa_yaml.training_extras(examples)
    assert extras.synonyms == [
        ("NYC", "New York"),
        ("new york city", "New York"),
        ("NYC", "New York"),  # [NYC](city:New York)
        ("LA", "Los Angeles"),
    ]
    assert extras.lookups == {"city": ["Boston", "Paris"]}
    assert extras.regexes == [("zipcode", r"\d{5}")]


# Lines: 1 version, 2 nlu, 3 intent, 4 examples, 5 hi, 6 (blank), 7 hello; a tail starts at line 8.
HEAD = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n\n    - hello [Ann](name)\n'
FLY = "- intent: fly\n  examples: |\n    - to boston\n"  # lines 8-10; the bad example goes on line 11


@pytest.mark.parametrize(
    ("tail", "line", "fragment"),
    [
        (FLY + "    - to [boston(city)\n", 11, "unbalanced '['"),
        (FLY + "    - to boston](city)\n", 11, "unbalanced ']'"),
        (FLY + '    - to [boston]{"entity": city}\n', 11, "not valid JSON"),
        (FLY + '    - to [boston]{"role": "from"}\n', 11, 'no "entity" key'),
        (FLY + "    - to [boston] now\n", 11, "must be followed by (entity)"),
        (FLY + "    -\n", 11, "empty example"),
        (FLY + "\n\n    - ?? [](city)\n", 13, "empty entity text"),
        (FLY + "    to boston\n", 11, "does not start with '- '"),
        ("- utter: hi\n  examples: |\n    - x\n", 8, "no `intent`, `synonym`, `lookup` or `regex` key"),
        ("- intent: fly\n  examples:\n  - text: ok\n  - text: to [boston\n", 11, "unbalanced '['"),
        ("- intent: fly\n  examples:\n  - text: |\n      to [boston\n", 11, "unbalanced '['"),
        ("- intent: fly\n", 8, "has no examples"),
        ("- intent: fly: x\n", 8, "not valid YAML"),
    ],
)
def test_malformed_input_names_file_and_line(tmp_path, tail, line, fragment):
    path = tmp_path / "bad.yml"
    path.write_text(HEAD + tail, encoding="utf-8")
    with pytest.raises(DataError) as err:
        rasa_yaml.read(path)
    assert f"{path}:{line}:" in str(err.value)
    assert fragment in str(err.value)


def test_fixture_round_trips_with_meta(tmp_path):
    examples = rasa_yaml.read(FIXTURE)
    again = _round_trip(examples, tmp_path)
    assert _triples(again) == _triples(examples)
    assert [ex.meta for ex in again] == [ex.meta for ex in examples]
    text = (tmp_path / "out.yml").read_text(encoding="utf-8")
    assert text.startswith('version: "3.1"\n\nnlu:\n- intent: book_flight\n  examples: |\n')
    assert '    - fly from [Boston](city) to [New York]{"entity": "city", "role": "destination"}\n' in text
    assert "    - book a flight to [NYC](city:New York)\n" in text  # as written
    assert "- synonym: New York\n  examples: |\n    - NYC\n    - new york city\n" in text


def test_edited_examples_are_written_from_their_words(tmp_path):
    examples = rasa_yaml.read(FIXTURE)
    examples[2].tags[5] = "B-city#destination"  # relabelled after reading: the stored line no longer holds
    rasa_yaml.write(examples, tmp_path / "out.yml")
    text = (tmp_path / "out.yml").read_text(encoding="utf-8")
    assert '[LA]{"entity": "city", "role": "destination", "value": "Los Angeles"} please .' in text


def _ex(words: str, tags: str, intent: str, **meta) -> Example:
    return Example("x", words.split(), tags.split(), intent, meta=meta)


HAND_BUILT = [
    _ex(
        "flights from st. louis to boston",
        "O O B-fromloc.city_name I-fromloc.city_name O B-toloc.city_name",
        "atis_flight#atis_airfare",
    ),
    _ex("call ( 555 ) now", "O O B-number O O", "yes"),
    _ex("réserver à Zürich", "O O B-ville", "réserver vol"),
    _ex("at 5 pm", "O B-time:start I-time:start", "null"),
    _ex("to paris", "O B-city.destination", "faq/ask_name"),
]


def test_hand_built_examples_round_trip(tmp_path):
    assert _triples(_round_trip(HAND_BUILT, tmp_path)) == _triples(HAND_BUILT)
    text = (tmp_path / "out.yml").read_text(encoding="utf-8")
    assert "[st. louis](fromloc.city_name)" in text  # a dotted type is a name, written as it is
    assert "to [paris](city.destination)" in text
    assert '[5 pm]{"entity": "time:start"}' in text  # (time:start) would read as entity time, value start
    assert '- intent: "yes"' in text and '- intent: "null"' in text


def test_write_groups_examples_by_intent_in_first_appearance_order(tmp_path):
    examples = [_ex("a", "O", "one"), _ex("b", "O", "two"), _ex("c", "O", "one")]
    assert [(ex.tokens, ex.intent) for ex in _round_trip(examples, tmp_path)] == [
        (["a"], "one"),
        (["c"], "one"),
        (["b"], "two"),
    ]


@pytest.mark.parametrize(
    ("example", "fragment"),
    [
        (Example("ex-7", ["see", "[1]"], ["O", "O"], "cite"), "'[' or ']'"),
        (Example("ex-7", ["a]", "b"], ["B-x", "O"], "cite"), "'[' or ']'"),
        (Example("ex-7", ["a", "b"], ["O"], "cite"), "2 tokens but 1 tags"),
        (Example("ex-7", ["a"], ["B-x(y)"], "cite"), "cannot be written"),
        (Example("ex-7", ["a"], ["O"], ""), "no intent"),
    ],
)
def test_write_refuses_what_it_cannot_write_unambiguously(tmp_path, example, fragment):
    with pytest.raises(DataError) as err:
        rasa_yaml.write([_ex("fine", "O", "cite"), example], tmp_path / "out.yml")
    assert "example ex-7" in str(err.value) and fragment in str(err.value)


@st.composite
def _examples(draw) -> Example:
    words = draw(
        st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8), min_size=1, max_size=10)
    )
    tags: list[str] = []
    for _ in words:
        choice = draw(st.sampled_from(["O", "B", "I"]))
        kind = draw(st.sampled_from(["city", "date", "city.destination", "a_b"]))
        if choice == "I" and tags and tags[-1] != "O":
            tags.append("I-" + tags[-1][2:])
        else:
            tags.append("O" if choice == "O" else f"B-{kind}")
    intent = draw(st.from_regex(r"[a-z][a-z_]{0,8}(/[a-z_]{1,6})?", fullmatch=True))
    return Example("h", words, tags, intent)


@settings(max_examples=60, deadline=None)
@given(st.lists(_examples(), min_size=1, max_size=3))
def test_write_then_read_is_the_identity(examples):
    order = [ex.intent for ex in examples]
    grouped = sorted(examples, key=lambda ex: order.index(ex.intent))  # write groups by first appearance
    with tempfile.TemporaryDirectory() as folder:
        assert _triples(_round_trip(examples, Path(folder))) == _triples(grouped)


FULL = FIXTURE.parent / "full.yml"  # roles, groups, values, synonyms, lookups, regexes, metadata, odd spacing


def _normalised(path: Path) -> dict:
    """The file as YAML reads it, each item's examples as their lines (blank lines and the style of a list
    form's text aside)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in data["nlu"]:
        examples = item.get("examples")
        if isinstance(examples, str):
            item["examples"] = [line.strip() for line in examples.splitlines() if line.strip()]
        elif isinstance(examples, list):
            item["examples"] = [e | {"text": e["text"].strip()} for e in examples]
    return data


def test_rasa_to_jsonl_and_back_keeps_every_section_metadata_and_spacing(tmp_path):
    """Synonym, lookup and regex sections, intent and example metadata, and the spacing of the text ("please.",
    two spaces) were lost converting nlu.yml -> another format -> nlu.yml (`nlu data convert`)."""
    from nlu.data.convert import convert

    convert(FULL, tmp_path / "nlu.jsonl")
    convert(tmp_path / "nlu.jsonl", tmp_path / "back.yml")
    assert _normalised(tmp_path / "back.yml") == _normalised(FULL)
    original = FULL.read_text(encoding="utf-8")
    back = (tmp_path / "back.yml").read_text(encoding="utf-8")
    assert back == original  # this file has nothing that writing changes: byte for byte
    rows = [json.loads(line) for line in (tmp_path / "nlu.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (
        rows[0]["tags"][2] == "B-city#departure"
        and rows[0]["meta"]["rasa_file"]["items"][1]["synonym"] == "New York"
    )


def test_write_then_read_is_the_identity_through_jsonl(tmp_path):
    from nlu.data import jsonl

    examples = rasa_yaml.read(FULL)
    jsonl.write(examples, tmp_path / "x.jsonl")
    again = jsonl.read(tmp_path / "x.jsonl")
    assert [(ex.tokens, ex.tags, ex.intent, ex.meta) for ex in again] == [
        (ex.tokens, ex.tags, ex.intent, ex.meta) for ex in examples
    ]
    groups = [t for t in examples[5].tags if t != "O"]
    assert groups == ["B-size@1", "B-topping@1", "B-size@2", "B-topping@2"]
