"""The on-disk readers: JSON lines and the JointBERT folder format, and every way a file can be wrong."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nlu.data.atis_seq import read as read_seq_folder
from nlu.data.jsonl import read as read_jsonl
from nlu.errors import DataError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SEQ_TRAIN = ASSETS / "jointbert_format" / "train"
JSONL_TRAIN = ASSETS / "jsonl" / "train.jsonl"


def _write_seq(folder: Path, words: list[str], tags: list[str], intents: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("seq.in", words), ("seq.out", tags), ("label", intents)):
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def _jsonl_line(tokens: list[str], tags: list[str], intent: str = "greet") -> str:
    return json.dumps({"tokens": tokens, "tags": tags, "intent": intent})


# --- JointBERT folder format -------------------------------------------------------------------------


def test_seq_folder_round_trips_every_line():
    examples = read_seq_folder(SEQ_TRAIN, prefix="atis-train")
    lines = {
        name: (SEQ_TRAIN / name).read_text(encoding="utf-8").splitlines()
        for name in ("seq.in", "seq.out", "label")
    }
    assert len(examples) == 4
    for i, ex in enumerate(examples):
        assert ex.tokens == lines["seq.in"][i].split()
        assert ex.tags == lines["seq.out"][i].split()
        assert ex.intent == lines["label"][i]
        assert ex.id == f"atis-train-{i:05d}"
        assert ex.lang == "en"
    assert examples[1].tokens[5:7] == ["st.", "louis"]
    assert examples[1].tags[5:7] == ["B-fromloc.city_name", "I-fromloc.city_name"]


def test_seq_folder_keeps_multi_intent_labels_whole():
    intents = [ex.intent for ex in read_seq_folder(SEQ_TRAIN)]
    assert "atis_flight#atis_airfare" in intents
    assert "atis_flight" in intents and "atis_airfare" in intents  # the parts are separate labels too


def test_seq_folder_ids_default_to_folder_name():
    assert read_seq_folder(SEQ_TRAIN)[0].id == "train-00000"


def test_seq_folder_line_count_mismatch_names_all_three_counts(tmp_path):
    folder = _write_seq(tmp_path / "train", ["a b", "c d", "e"], ["O O", "O O"], ["x", "y", "z"])
    with pytest.raises(DataError) as err:
        read_seq_folder(folder)
    message = str(err.value)
    assert str(folder) in message
    assert "seq.in has 3 lines, seq.out 2, label 3" in message


def test_seq_folder_length_mismatch_names_line(tmp_path):
    folder = _write_seq(
        tmp_path / "train", ["hello there", "fly to boston"], ["O O", "O O"], ["greet", "flight"]
    )
    with pytest.raises(DataError) as err:
        read_seq_folder(folder)
    message = str(err.value)
    assert f"{folder / 'seq.in'}:2" in message
    assert "3 tokens but 2 tags" in message


def test_seq_folder_blank_line_is_an_empty_utterance(tmp_path):
    folder = _write_seq(tmp_path / "train", ["hi", ""], ["O", ""], ["greet", "greet"])
    with pytest.raises(DataError, match=r"seq\.in:2 .*empty utterance"):
        read_seq_folder(folder)


def test_seq_folder_missing_file_is_named(tmp_path):
    folder = _write_seq(tmp_path / "train", ["hi"], ["O"], ["greet"])
    (folder / "label").unlink()
    with pytest.raises(DataError, match=r"label: no such file"):
        read_seq_folder(folder)


def test_seq_folder_empty_files_are_an_error(tmp_path):
    folder = _write_seq(tmp_path / "train", [], [], [])
    with pytest.raises(DataError) as err:
        read_seq_folder(folder)
    assert str(folder) in str(err.value) and "no examples" in str(err.value)


def test_seq_folder_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    folder = _write_seq(tmp_path / "train", ["hello there"], ["O O"], ["greet"])
    (folder / "seq.in").write_bytes(b"\xef\xbb\xbfhello there\n")
    assert read_seq_folder(folder)[0].tokens == ["hello", "there"]


# --- JSON lines ---------------------------------------------------------------------------------------


def test_jsonl_round_trips_content():
    records = [json.loads(line) for line in JSONL_TRAIN.read_text(encoding="utf-8").splitlines()]
    examples = read_jsonl(JSONL_TRAIN)
    assert [ex.tokens for ex in examples] == [r["tokens"] for r in records]
    assert [ex.tags for ex in examples] == [r["tags"] for r in records]
    assert [ex.intent for ex in examples] == [r["intent"] for r in records]
    assert [ex.lang for ex in examples] == ["en", "de", "en"]  # the third line has no lang: the default
    assert examples[1].tokens[2] == "münchen"
    assert examples[2].intent == "book_flight#book_hotel"


def test_jsonl_ids_kept_or_made_from_file_and_line():
    examples = read_jsonl(JSONL_TRAIN)
    assert [ex.id for ex in examples] == ["jl-train-0", "jl-train-1", "train-00003"]


def test_jsonl_to_dict_round_trip(tmp_path):
    examples = read_jsonl(JSONL_TRAIN)
    copy = tmp_path / "copy.jsonl"
    copy.write_text("".join(json.dumps(ex.to_dict()) + "\n" for ex in examples), encoding="utf-8")
    assert read_jsonl(copy) == examples


def test_jsonl_skips_blank_lines():
    examples = read_jsonl(ASSETS / "jsonl" / "dev.jsonl")
    assert [ex.id for ex in examples] == ["jl-dev-0", "jl-dev-1"]


def test_jsonl_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text(
        _jsonl_line(["hi"], ["O"]) + "\n\n" + _jsonl_line(["hi"], ["O", "O"]) + "\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"dev\.jsonl:3: 1 tokens but 2 tags"):
        read_jsonl(path)
    path.write_text(_jsonl_line(["hi"], ["O"]) + "\n\n" + _jsonl_line(["yo"], ["O"]) + "\n", encoding="utf-8")
    assert [ex.id for ex in read_jsonl(path)] == ["dev-00001", "dev-00003"]


def test_jsonl_lang_argument_is_the_default(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(_jsonl_line(["hallo"], ["O"]) + "\n", encoding="utf-8")
    assert read_jsonl(path, lang="de")[0].lang == "de"


def test_jsonl_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(
        _jsonl_line(["hi"], ["O"]) + "\n" + '{"tokens": ["hi"], "tags": ["O"]\n', encoding="utf-8"
    )
    with pytest.raises(DataError) as err:
        read_jsonl(path)
    assert f"{path}:2: malformed JSON" in str(err.value)


def test_jsonl_length_mismatch_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    lines = [_jsonl_line(["hi"], ["O"]), _jsonl_line(["hi"], ["O"]), _jsonl_line(["fly", "home"], ["O"])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_jsonl(path)
    assert f"{path}:3: 2 tokens but 1 tags" in str(err.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('["tokens", "tags"]', "expected a JSON object, got list"),
        ('{"tokens": ["hi"], "tags": ["O"]}', "missing key(s) intent"),
        ('{"tokens": "hi", "tags": ["O"], "intent": "x"}', "must be lists"),
        ('{"tokens": ["hi"], "tags": ["X-city"], "intent": "x"}', "tag 'X-city' is not BIO"),
        ('{"tokens": ["new york"], "tags": ["B-city"], "intent": "x"}', "contains white space"),
        ('{"tokens": ["hi"], "tags": ["O"], "intent": " "}', "missing intent"),
        ('{"tokens": [], "tags": [], "intent": "x"}', "empty utterance"),
        # a class None, the word "None", and labels of their own: accepted silently before
        ('{"tokens": ["hi"], "tags": ["O"], "intent": null}', "'intent' is null, not a string"),
        ('{"tokens": ["hi"], "tags": ["O"], "intent": 3}', "'intent' is 3, not a string"),
        ('{"tokens": ["hi", null], "tags": ["O", "O"], "intent": "x"}', "tokens[1] is null, not a string"),
        ('{"tokens": ["hi"], "tags": [null], "intent": "x"}', "tags[0] is null, not a string"),
        ('{"tokens": ["hi"], "tags": ["B-city "], "intent": "x"}', "tag 'B-city ' contains white space"),
        ('{"tokens": ["hi"], "tags": ["O"], "intent": "get_weather "}', "has white space around it"),
    ],
)
def test_jsonl_bad_record_names_line_and_problem(tmp_path, line, expected):
    path = tmp_path / "train.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_jsonl(path)
    assert str(err.value).startswith(f"{path}:1: ")
    assert expected in str(err.value)


def test_invalid_bio_is_repaired_and_counted(tmp_path, caplog):
    path = tmp_path / "train.jsonl"
    lines = [
        _jsonl_line(["to", "new", "york"], ["O", "I-city", "I-city"]),  # I- at a span start: 1 repair
        _jsonl_line(["a", "b", "c"], ["B-x", "I-y", "O"]),  # I-y after B-x: 1 repair
        _jsonl_line(["a", "b"], ["B-x", "I-x"]),  # valid
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="nlu.data.readers"):
        examples = read_jsonl(path)
    assert examples[0].tags == ["O", "B-city", "I-city"]
    assert examples[1].tags == ["B-x", "B-y", "O"]
    assert examples[2].tags == ["B-x", "I-x"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage() and "repaired 2 tags" in warnings[0].getMessage()


def test_valid_bio_logs_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="nlu.data.readers"):
        read_jsonl(JSONL_TRAIN)
    assert not caplog.records


def test_seq_folder_repairs_bio_too(tmp_path, caplog):
    folder = _write_seq(tmp_path / "train", ["to new york"], ["O I-city I-city"], ["flight"])
    with caplog.at_level(logging.WARNING, logger="nlu.data.readers"):
        assert read_seq_folder(folder)[0].tags == ["O", "B-city", "I-city"]
    assert "repaired 1 tags" in caplog.text


def test_empty_jsonl_is_an_error(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_jsonl(path)
    assert str(err.value) == f"{path}: the file holds no examples"


def test_missing_jsonl_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    good = _jsonl_line(["hi"], ["O"]).encode()
    bad = b'{"tokens": ["caf\xe9"], "tags": ["O"], "intent": "greet"}'  # latin-1 é: the single byte 0xe9
    path.write_bytes(good + b"\n" + good + b"\n" + bad + b"\n")
    with pytest.raises(DataError) as err:
        read_jsonl(path)
    message = str(err.value)
    assert f"{path}:3: not valid UTF-8" in message
    assert "0xe9" in message and "re-encode" in message


def test_non_utf8_in_seq_folder_names_the_file(tmp_path):
    folder = _write_seq(tmp_path / "train", ["hi", "ok"], ["O", "O"], ["greet", "greet"])
    (folder / "seq.out").write_bytes(b"O\n\xff\n")
    with pytest.raises(DataError) as err:
        read_seq_folder(folder)
    assert f"{folder / 'seq.out'}:2: not valid UTF-8" in str(err.value)


def test_jsonl_byte_order_mark_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "train.jsonl"
    line = _jsonl_line(["hi", "there"], ["O", "O"]).encode()
    path.write_bytes(b"\xef\xbb\xbf" + line + b"\r\n" + line + b"\r\n")
    examples = read_jsonl(path)
    assert [ex.tokens for ex in examples] == [["hi", "there"], ["hi", "there"]]
