"""Prompt templates, reply parsing and demonstration retrieval for the prompting backend, and the label description
files they read (checked against the benchmark train splits when the data are present)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu.data.bio import is_valid_tag, slot_type
from nlu.data.example import Example
from nlu.data.label_files import load_label_file
from nlu.data.registry import label_file
from nlu.prompting.parsing import parse_choice, parse_slots
from nlu.prompting.prompts import (
    intent_choice_prompt,
    intent_options,
    intent_prompt,
    render_examples,
    slot_prompt,
)
from nlu.prompting.retrieval import ExampleRetriever

INTENTS = {
    "PlayMusic": "play a song or some music",
    "GetWeather": "ask for the weather forecast",
    "BookRestaurant": "",  # no description: shown by its readable name
}
SLOTS = {"genre": "a music genre", "service": "a streaming service", "city": "a city"}
EXAMPLES = [
    Example(
        "ex-1",
        ["play", "some", "jazz", "on", "spotify"],
        ["O", "O", "B-genre", "O", "B-service"],
        "PlayMusic",
    ),
    Example(
        "ex-2",
        ["weather", "in", "new", "york", "city"],
        ["O", "O", "B-city", "I-city", "I-city"],
        "GetWeather",
    ),
    Example("ex-3", ["book", "a", "table"], ["O", "O", "O"], "BookRestaurant"),
]


def check_bio(tags: list[str]) -> None:
    previous = None
    for tag in tags:
        assert is_valid_tag(tag)
        if tag.startswith("I-"):
            assert previous == tag[2:], tags
        previous = slot_type(tag)


# prompts


def test_intent_prompt_lists_every_option_and_the_demonstrations():
    prompt, options = intent_prompt("will it rain in paris", INTENTS, EXAMPLES[:2])
    assert options == ["play a song or some music", "ask for the weather forecast", "book restaurant"]
    for option in options:
        assert f"- {option}\n" in prompt
    assert "Utterance: play some jazz on spotify\nIntent: play a song or some music" in prompt
    assert "Utterance: weather in new york city\nIntent: ask for the weather forecast" in prompt
    assert prompt.endswith("Utterance: will it rain in paris\nIntent:")


def test_option_order_is_the_mapping_order_whatever_the_demonstrations():
    first = intent_prompt("x", INTENTS)[1]
    assert first == intent_prompt("y", INTENTS, list(reversed(EXAMPLES)))[1] == intent_options(INTENTS)
    assert intent_choice_prompt("x", INTENTS, EXAMPLES)[1] == first


def test_intent_choice_prompt_numbers_the_options_and_answers_with_numbers():
    prompt, options = intent_choice_prompt("will it rain", INTENTS, EXAMPLES)
    for i, option in enumerate(options, start=1):
        assert f"{i}. {option}\n" in prompt
    assert "Utterance: play some jazz on spotify\nAnswer: 1" in prompt
    assert "Utterance: book a table\nAnswer: 3" in prompt
    assert prompt.endswith("Utterance: will it rain\nAnswer:")
    assert parse_choice(" 2", len(options)) == 2


def test_slot_prompt_lists_types_and_renders_demonstrations_as_slot_lines():
    prompt = slot_prompt("play rock in  berlin", SLOTS, EXAMPLES)
    for name, description in SLOTS.items():
        assert f"- {name}: {description}\n" in prompt
    assert "Utterance: play some jazz on spotify\nSlots:\ngenre: jazz\nservice: spotify" in prompt
    assert "Slots:\ncity: new york city" in prompt
    assert "Utterance: book a table\nSlots:\nnone" in prompt
    assert prompt.endswith("Utterance: play rock in berlin\nSlots:")


def test_prompts_without_demonstrations_are_compact():
    prompt = slot_prompt("play jazz", SLOTS)
    assert prompt.count("Utterance:") == 1 and "\n\n\n" not in prompt
    assert render_examples([], "Intent", str) == ""
    assert len(intent_prompt("play jazz", INTENTS)[0]) < 200


# parse_choice


@pytest.mark.parametrize(
    ("reply", "n", "expected"),
    [
        ("3", 5, 3),
        ("Answer: 2.", 5, 2),
        ("Option #4) ask for the weather", 5, 4),
        ("12 is not an option; 5 is", 5, 5),
        ("0", 5, None),
        ("7", 5, None),
        ("the weather one", 5, None),
        ("", 5, None),
        (None, 5, None),
        ("9" * 5000, 3, None),
        ("1", 0, None),
    ],
)
def test_parse_choice(reply, n, expected):
    assert parse_choice(reply, n) == expected


# parse_slots

WORDS = ["fly", "from", "Boston", "to", "St.", "Louis", "on", "new", "year", "'s", "eve", ",", "please"]
TYPES = ["fromloc.city_name", "toloc.city_name", "depart_date", "city"]


def test_exact_spans_become_bio_tags():
    parse = parse_slots("fromloc.city_name: Boston\ntoloc.city_name: St. Louis", WORDS, TYPES)
    assert parse.tags[2:6] == ["B-fromloc.city_name", "O", "B-toloc.city_name", "I-toloc.city_name"]
    assert (parse.proposed, parse.kept, parse.failed) == (2, 2, False)


def test_multiword_values_get_b_and_i_tags():
    parse = parse_slots("depart_date: new year's eve", ["on", "new", "year's", "eve"], TYPES)
    assert parse.tags == ["O", "B-depart_date", "I-depart_date", "I-depart_date"]
    parse = parse_slots("depart_date: new year 's eve", WORDS, TYPES)
    assert parse.tags[7:11] == ["B-depart_date", "I-depart_date", "I-depart_date", "I-depart_date"]


def test_case_punctuation_and_formatting_noise_are_tolerated():
    reply = (
        "Sure! Here are the slots:\n"
        '- **fromloc.city_name**: "boston."\n'
        "* Toloc City Name = st louis\n"
        "I hope this helps."
    )
    parse = parse_slots(reply, WORDS, TYPES)
    assert parse.tags[2] == "B-fromloc.city_name" and parse.tags[4:6] == [
        "B-toloc.city_name",
        "I-toloc.city_name",
    ]
    assert (parse.kept, parse.hallucinated, parse.unknown_type, parse.failed) == (2, 0, 0, False)


def test_hallucinated_values_are_counted_and_dropped():
    parse = parse_slots("fromloc.city_name: Boston\ntoloc.city_name: Chicago\ncity: louis st.", WORDS, TYPES)
    assert (parse.proposed, parse.kept, parse.hallucinated) == (3, 1, 2)
    assert [t for t in parse.tags if t != "O"] == ["B-fromloc.city_name"]


def test_unknown_slot_types_are_counted_and_dropped():
    parse = parse_slots("airline: Boston\ntoloc.city_name: st. louis", WORDS, TYPES)
    assert (parse.proposed, parse.kept, parse.unknown_type) == (2, 1, 1)
    assert "B-airline" not in parse.tags


def test_overlapping_and_duplicate_proposals_are_dropped():
    parse = parse_slots(
        "toloc.city_name: st. louis\ncity: louis\ntoloc.city_name: St. Louis\nfromloc.city_name: Boston",
        WORDS,
        TYPES,
    )
    assert (parse.proposed, parse.kept, parse.overlapping) == (4, 2, 2)
    assert parse.tags[4:6] == ["B-toloc.city_name", "I-toloc.city_name"]


def test_a_repeated_value_takes_the_leftmost_unused_occurrence():
    words = ["from", "boston", "to", "denver", "and", "back", "to", "boston"]
    parse = parse_slots("city: boston\ncity: boston\ncity: boston", words, ["city"])
    assert parse.tags == ["O", "B-city", "O", "O", "O", "O", "O", "B-city"]
    assert (parse.kept, parse.overlapping) == (2, 1)


def test_several_pairs_on_one_line_and_value_lists():
    words = ["from", "boston", "to", "denver"]
    parse = parse_slots('{"city": "boston, denver"}', words, ["city"])
    assert parse.tags == ["O", "B-city", "O", "B-city"]
    parse = parse_slots("fromloc.city_name: boston, toloc.city_name: denver", words, TYPES)
    assert parse.tags == ["O", "B-fromloc.city_name", "O", "B-toloc.city_name"]


@pytest.mark.parametrize("reply", ["none", "None.", "- none", "Slots: none", "No slots.", "city: none"])
def test_none_means_no_slots_and_no_failure(reply):
    parse = parse_slots(reply, WORDS, TYPES)
    assert parse.tags == ["O"] * len(WORDS) and not parse.failed and parse.proposed == 0


@pytest.mark.parametrize("reply", [None, "", "I cannot find anything useful here"])
def test_unreadable_replies_fail(reply):
    parse = parse_slots(reply, WORDS, TYPES)
    assert parse.failed and parse.tags == ["O"] * len(WORDS)


def test_empty_utterance():
    parse = parse_slots("city: boston", [], TYPES)
    assert parse.tags == [] and parse.hallucinated == 1 and not parse.failed


_REPLY_PARTS = st.sampled_from(
    ["city", "toloc.city_name", ":", "=", " ", "\n", "-", "*", '"', ",", ".", "none"]
)
_WORD = st.text(min_size=0, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reply=st.one_of(
        st.text(max_size=200), st.lists(st.one_of(_REPLY_PARTS, _WORD), max_size=40).map("".join)
    ),
    words=st.lists(
        st.one_of(st.sampled_from(["boston", "st.", "louis", ",", "new", "york"]), _WORD), max_size=12
    ),
)
def test_parse_slots_never_raises_and_gives_valid_bio(reply, words):
    parse = parse_slots(reply, words, ["city", "toloc.city_name", "Toloc City-Name"])
    assert len(parse.tags) == len(words)
    check_bio(parse.tags)
    assert parse.proposed == parse.kept + parse.hallucinated + parse.unknown_type + parse.overlapping
    assert parse_choice(reply, 4) in (None, 1, 2, 3, 4)


# retrieval


POOL = [
    Example("p-1", ["play", "some", "jazz", "music"], ["O"] * 4, "PlayMusic"),
    Example("p-2", ["what", "is", "the", "weather", "in", "paris"], ["O"] * 6, "GetWeather"),
    Example("p-3", ["book", "a", "table", "for", "two"], ["O"] * 5, "BookRestaurant"),
    Example("p-4", ["play", "music", "by", "the", "beatles"], ["O"] * 5, "PlayMusic"),
    Example("p-5", ["will", "it", "rain", "tomorrow"], ["O"] * 4, "GetWeather"),
]


@pytest.fixture(scope="module")
def retriever(tiny_backbone):
    return ExampleRetriever(POOL, encoder_dir=str(tiny_backbone))


def test_the_identical_utterance_is_nearest_and_can_be_excluded(retriever):
    for example in POOL:
        text = " ".join(example.tokens)
        assert retriever.nearest(text, 1)[0].id == example.id
        rest = retriever.nearest(text, 10, exclude_id=example.id)
        assert len(rest) == len(POOL) - 1 and example.id not in {e.id for e in rest}
    assert retriever.nearest("play some jazz music", 0) == []


def test_embeddings_are_normalised_and_cached(retriever):
    norms = retriever.pool_embeddings.norm(dim=-1)
    assert norms.shape == (len(POOL),) and bool(((norms - 1).abs() < 1e-4).all())
    assert retriever.pool_embeddings is retriever.pool_embeddings


def test_by_intent_is_balanced(retriever):
    picked = retriever.by_intent(1)
    assert [e.intent for e in picked] == ["BookRestaurant", "GetWeather", "PlayMusic"]
    picked = retriever.by_intent(2)
    assert sorted(e.intent for e in picked) == sorted(e.intent for e in POOL)
    assert len({e.id for e in picked}) == len(picked)


# label description files

DATA_DIR = Path(os.environ.get("NLU_DATA_DIR", "/work/shared/data"))
TRAIN_SPLITS = {
    "snips": "snips/train.jsonl",
    "atis": "atis/train.jsonl",
    "massive": "massive/en-US/train.jsonl",
    "xsid": "xsid/en/train.jsonl",
}


@pytest.mark.parametrize("name", sorted(TRAIN_SPLITS))
def test_label_files_describe_every_label_distinctly(name):
    path = label_file(name)
    assert path.read_text(encoding="utf-8").startswith("#")
    intents, slots = load_label_file(path)
    assert intents and slots
    assert all(intents.values()) and all(slots.values())
    assert len(set(intents.values())) == len(intents)  # the options an LLM chooses among must differ


@pytest.mark.parametrize("name", sorted(TRAIN_SPLITS))
def test_label_files_cover_the_train_split(name):
    train = DATA_DIR / TRAIN_SPLITS[name]
    if not train.is_file():
        pytest.skip(f"{train} not present")
    seen_intents, seen_slots = set(), set()
    with train.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            seen_intents.add(record["intent"])
            seen_slots.update(slot_type(tag) for tag in record["tags"] if tag != "O")
    intents, slots = load_label_file(name)
    assert seen_intents - set(intents) == set()
    assert seen_slots - set(slots) == set()
    assert set(intents) - seen_intents == set() and set(slots) - seen_slots == set()
