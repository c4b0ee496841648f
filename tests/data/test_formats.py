"""The native formats of issue 4: each reads its fixture into the expected Examples, names file and line for
malformed input, and round-trips through Example where it can be written."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu.data import atis_iob, massive, media, multiatis, snips_json, xsid_conll
from nlu.data.bio import spans
from nlu.data.example import Example
from nlu.data.formats import FORMATS, detect_format, get_format, read_examples, write_examples
from nlu.errors import DataError

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def triples(examples: list[Example], fmt: str = "jsonl") -> list[tuple[list[str], list[str], str]]:
    """What a format must keep: words, tags and, where the format holds intents, the intent."""
    keep_intent = FORMATS[fmt].has_intents
    return [(ex.tokens, ex.tags, ex.intent if keep_intent else "") for ex in examples]


# ---------------------------------------------------------------- xSID CoNLL


def test_xsid_reads_comments_language_and_drops_empty_words(caplog):
    with caplog.at_level(logging.WARNING):
        examples = xsid_conll.read(ASSETS / "xsid" / "de-ba.valid.conll", prefix="xsid-de-ba-dev")
    assert [ex.id for ex in examples] == [
        "xsid-de-ba-dev-00000:1",
        "xsid-de-ba-dev-00001:2",
        "xsid-de-ba-dev-00002:3",
    ]
    assert {ex.lang for ex in examples} == {"de-ba"}  # from the file name
    assert examples[0].tags == ["O", "O", "B-datetime", "I-datetime"]
    assert examples[0].meta == {"text": "Wecker auf 7 Uhr", "text-en": "Set an alarm for 7 am"}
    assert examples[2].tokens == ["Wetter", "morgen", "?"]  # the empty word column is gone, with its tag
    assert examples[2].tags == ["O", "B-datetime", "O"]
    assert "de-ba.valid.conll:23: empty word column" in caplog.text


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# text = hi there\n1\thi\tgreet\tO\n2\tthere\tgreet\tO\n", 1, "no '# intent = <label>' line"),
        ("# intent = greet\n1\thi\tgreet\tO\n2\tthere\tO\n", 3, "expected 4 tab-separated columns"),
        ("# intent = greet\n1\thi\tgreet\tO\n\n# intent = bye\n1\tbye\tbye\tX-y\n", 4, "not BIO"),
        ("# intent = greet\n\n", 1, "comment lines with no token lines"),
    ],
)
def test_xsid_malformed_input_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "en.test.conll"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        xsid_conll.read(path)
    assert f"{path}:{line}" in str(err.value)


# ---------------------------------------------------------------- MASSIVE


def test_massive_reads_partitions_and_annotations():
    path = ASSETS / "massive" / "en-US.jsonl"
    train = massive.read(path, split="train")
    assert [ex.id for ex in train] == ["massive-en-US-1", "massive-en-US-2"]
    assert train[0].tokens == ["wake", "me", "up", "at", "nine", "am", "on", "friday"]
    assert train[0].tags == ["O", "O", "O", "O", "B-time", "I-time", "O", "B-date"]
    assert train[0].lang == "en" and train[0].meta == {"locale": "en-US", "tokenization": "whitespace"}
    assert [ex.intent for ex in massive.read(path, split="test")] == ["alarm_remove"]
    assert len(massive.read(path)) == 4


def test_massive_splits_unspaced_locales_into_characters():
    examples = massive.read(ASSETS / "massive" / "ja-JP.jsonl", split="train")
    assert examples[0].tokens == list("金曜日の朝九時に起こして")
    assert examples[0].tags[:4] == ["B-date", "I-date", "I-date", "O"]
    assert examples[0].meta["tokenization"] == "characters" and examples[0].lang == "ja"


@pytest.mark.parametrize(
    ("annot", "utt", "message"),
    [
        ("wake me at [time : nine", "wake me at nine", "'\\[' without '\\]'"),
        ("wake me at time : nine]", "wake me at time : nine", "'\\]' without '\\['"),
        ("wake [a [time : nine]]", "wake a nine", "inside another"),
        ("wake me at [time : ten]", "wake me at nine", "does not occur in the utterance"),
        ("wake me at [nine]", "wake me at nine", "without ' : '"),
        ("wake me at [time : ]", "wake me at", "empty slot name or value"),
    ],
)
def test_massive_malformed_annotation_names_file_and_line(tmp_path, annot, utt, message):
    good = {"id": "1", "locale": "en-US", "partition": "train", "intent": "x", "utt": "hi", "annot_utt": "hi"}
    bad = {**good, "id": "2", "utt": utt, "annot_utt": annot}
    path = tmp_path / "en-US.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        massive.read(path)
    assert f"{path}:2" in str(err.value)


def test_massive_missing_partition_is_an_error():
    with pytest.raises(DataError, match="no record has partition 'validation'"):
        massive.read(ASSETS / "massive" / "en-US.jsonl", split="validation")


# ---------------------------------------------------------------- MEDIA


def test_media_column_format_without_intents():
    examples = media.read(ASSETS / "media" / "test.txt")
    assert examples[0].tags == ["O", "O", "B-nombre-chambre", "O", "O", "B-localisation-ville"]
    # bare concepts: consecutive equal concepts are one span
    assert examples[1].tags == ["O", "B-nombre-personne", "I-nombre-personne"]
    assert {ex.intent for ex in examples} == {media.NO_INTENT}
    assert examples[0].meta == {"intent_annotated": False} and examples[0].lang == "fr"


def test_media_intent_release_comment_or_column():
    first, second = media.read(ASSETS / "media" / "intents.txt")
    assert (first.intent, first.id) == ("reservation", "media-intents-00000:12")
    assert first.tags == ["O", "O", "B-nombre-chambre", "I-nombre-chambre"]
    assert second.intent == "information" and second.tags == ["O", "B-objet", "O", "B-localisation-ville"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("je\tnull\nveux\n", 2, "found 1 column"),
        ("je\tx\tnull\ntu\ty\tnull\n", 1, "different intents"),
        ("je\tnull\ntu\tx\tnull\n", 1, "mixes 2- and 3-column"),
    ],
)
def test_media_malformed_input(tmp_path, text, line, message):
    path = tmp_path / "dev.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        media.read(path)
    assert f"{path}:{line}" in str(err.value)


# ---------------------------------------------------------------- MultiATIS++, ATIS .iob, Snips JSON


def test_multiatis_reads_language_from_file_name():
    examples = multiatis.read(ASSETS / "multiatis" / "train_DE.tsv")
    assert [ex.lang for ex in examples] == ["de", "de"]
    assert examples[0].tags[3] == "B-fromloc.city_name" and examples[1].intent == "atis_airfare#atis_flight"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("utterance\tintent\n", 1, "expected the header"),
        ("id\tutterance\tslot_labels\tintent\n0\thi there\tO O\n", 2, "expected 4 tab-separated columns"),
        ("id\tutterance\tslot_labels\tintent\n0\thi there\tO\tgreet\n", 2, "2 tokens but 1 tags"),
    ],
)
def test_multiatis_malformed_input(tmp_path, text, line, message):
    path = tmp_path / "train_EN.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        multiatis.read(path)
    assert f"{path}:{line}" in str(err.value)


def test_atis_iob_strips_bos_eos_and_takes_the_intent_from_the_last_tag(tmp_path):
    examples = atis_iob.read(ASSETS / "atis_iob" / "atis.train.w-intent.iob")
    assert examples[0].tokens[-1] == "denver" and examples[0].tags[-1] == "B-toloc.city_name"
    assert [ex.intent for ex in examples] == ["atis_flight", "atis_airfare"]
    bad = tmp_path / "bad.iob"
    bad.write_text("BOS hi EOS\tO O greet\nBOS a b EOS\tO O greet\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{bad}:2: 4 words"):
        atis_iob.read(bad)


def test_snips_json_splits_chunks_into_words_and_keeps_case():
    examples = snips_json.read(ASSETS / "snips_json" / "train_PlayMusic.json")
    assert examples[0].tokens == ["Play", "Sean", "Paul", "on", "Spotify", "!"]
    assert examples[0].tags == ["O", "B-artist", "I-artist", "O", "B-service", "O"]
    assert examples[1].tags[-1] == "B-genre" and {ex.intent for ex in examples} == {"PlayMusic"}


def test_snips_json_errors_name_the_utterance(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"PlayMusic": [{"data": [{"text": "play"}]}, {"data": [{"entity": "artist"}]}]}')
    with pytest.raises(DataError, match=r"PlayMusic\[1\]\.data\[0\]: a chunk needs a 'text'"):
        snips_json.read(path)


# ---------------------------------------------------------------- format registry and round trips


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("xsid/de-ba.valid.conll", "conll"),
        ("massive/en-US.jsonl", "massive"),
        ("media/test.txt", "media"),
        ("media/intents.txt", "media"),
        ("multiatis/train_DE.tsv", "multiatis"),
        ("atis_iob/atis.train.w-intent.iob", "atis_iob"),
        ("snips_json/train_PlayMusic.json", "snips_json"),
        ("rasa/nlu.yml", "rasa"),
        ("jsonl/train.jsonl", "jsonl"),
        ("jointbert_format/train", "jointbert"),
        ("conll_ner/train.txt", "conll_ner"),
    ],
)
def test_detect_format(relative, expected):
    assert detect_format(ASSETS / relative) == expected


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(DataError, match="known formats: jsonl, jointbert"):
        get_format("csv")


WRITABLE = [name for name, fmt in FORMATS.items() if fmt.writer() is not None]


def test_every_writable_format_is_listed():
    assert set(WRITABLE) == {
        "jsonl",
        "jointbert",
        "conll",
        "massive",
        "media",
        "multiatis",
        "rasa",
        "conll_ner",
    }


@pytest.mark.parametrize("fmt", WRITABLE)
@pytest.mark.parametrize(
    "fixture",
    ["xsid/de-ba.valid.conll", "massive/en-US.jsonl", "media/intents.txt", "multiatis/train_DE.tsv"],
)
def test_every_format_round_trips_the_fixtures(tmp_path, fmt, fixture):
    examples = read_examples(ASSETS / fixture)
    out = tmp_path / "out"
    write_examples(examples, out, fmt)
    assert triples(read_examples(out, fmt), fmt) == triples(examples, fmt)


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@st.composite
def examples_strategy(draw) -> list[Example]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        tokens = draw(st.lists(WORD, min_size=1, max_size=10))
        tags, inside = [], None
        for _ in tokens:
            choice = draw(st.sampled_from(["O", "B-city", "B-date_time", "I"]))
            if choice == "I" and inside:
                tags.append(f"I-{inside}")
            elif choice.startswith("B-"):
                inside = choice[2:]
                tags.append(choice)
            else:
                inside = None
                tags.append("O")
        out.append(Example(id=f"x-{i}", tokens=tokens, tags=tags, intent=draw(st.sampled_from(["a_b", "c"]))))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(examples=examples_strategy(), fmt=st.sampled_from(WRITABLE))
def test_property_every_format_round_trips(tmp_path, examples, fmt):
    out = tmp_path / f"round-trip-{fmt}"
    write_examples(examples, out, fmt)
    got, expected = triples(read_examples(out, fmt), fmt), triples(examples, fmt)
    if fmt == "rasa":  # Rasa YAML groups examples by intent, so only the order may change
        got, expected = sorted(map(repr, got)), sorted(map(repr, expected))
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(examples=examples_strategy())
def test_property_bio_to_spans_to_bio_is_the_identity(examples):
    for ex in examples:
        rebuilt = ["O"] * len(ex.tags)
        for kind, start, end in spans(ex.tags):
            rebuilt[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
        assert rebuilt == ex.tags


def test_conll_ner_skips_docstart_and_takes_the_last_column():
    examples = read_examples(ASSETS / "conll_ner" / "train.txt", "conll_ner")
    assert [ex.tokens for ex in examples] == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert examples[0].tags == ["B-ORG", "O", "B-MISC", "O"] and examples[1].tags == ["B-PER", "I-PER"]
    assert {ex.intent for ex in examples} == {"none"} and examples[0].meta == {"intent_annotated": False}


def test_a_malformed_first_line_is_blamed_on_line_one(tmp_path):
    """The format guess used to read a broken first line as Snips JSON and blame line 3."""
    path = tmp_path / "train.jsonl"
    good = '{"tokens": ["hi"], "tags": ["O"], "intent": "greet"}'
    path.write_text('{"tokens": ["hi"], "tags": ["O"], "intent": \n' + good + "\n" + good + "\n")
    assert detect_format(path) == "jsonl"
    with pytest.raises(DataError) as err:
        read_examples(path)
    assert str(err.value).startswith(f"{path}:1: malformed JSON")


def test_massive_is_still_told_apart_from_jsonl(tmp_path):
    path = tmp_path / "en-US.jsonl"
    path.write_text(
        '{"utt": "wake me", "annot_utt": "wake me", "intent": "alarm_set", "partition": "train"}\n'
    )
    assert detect_format(path) == "massive"


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_an_empty_file_says_so_and_suggests_no_option_that_does_not_exist(tmp_path, content):
    path = tmp_path / "train.jsonl"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        read_examples(path)
    assert "empty" in str(err.value) and "--from" not in str(err.value)


def test_an_unknown_format_names_both_ways_to_give_it(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("one two three four five\n")
    with pytest.raises(DataError, match=r"data\.format.*--from"):
        detect_format(path)
