"""``nlu generate template``: replies from a parse given as JSON or from a model's parse of an utterance."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_main

DEMO_REPLIES = Path(__file__).resolve().parents[2] / "examples" / "demo_replies.yml"


def test_template_from_a_json_parse(monkeypatch, capsys):
    parse = json.dumps({"intent": "book_flight", "slots": {"fromloc": "Paris", "toloc": "Rome"}})
    code, out, err = run_main(monkeypatch, capsys, "generate", "template", DEMO_REPLIES, "--parse", parse)
    assert code == 0, err
    reply = json.loads(out)
    assert reply["text"] == "Flights from Paris to Rome: let me check."  # the only complete variant
    assert reply["source"] == "template"


def test_template_from_a_model_parse(monkeypatch, capsys, artifact_dir):
    code, out, err = run_main(
        monkeypatch, capsys, "generate", "template", DEMO_REPLIES, "--model", artifact_dir, "turn on the lamp"
    )
    assert code == 0, err
    reply = json.loads(out)
    assert reply["source"] in {"template", "ask", "fallback", "default"}
    assert reply["text"]


def test_template_names_placeholders_the_model_cannot_fill(monkeypatch, capsys, artifact_dir, tmp_path):
    bad = tmp_path / "t.yml"
    bad.write_text('intents:\n  book_flight:\n    templates: ["To {to_loc}."]\n', encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "generate", "template", bad, "--model", artifact_dir, "x")
    assert code == 2
    assert "{to_loc}: the model has no such slot type; did you mean 'toloc'?" in err


def test_template_bad_input_is_an_error_not_a_traceback(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "generate", "template", DEMO_REPLIES, "--parse", "{oops")
    assert code == 2 and "--parse: not valid JSON" in err
    code, _, err = run_main(
        monkeypatch, capsys, "generate", "template", tmp_path / "none.yml", "--parse", "{}"
    )
    assert code == 2 and "no such template file" in err


def test_the_demo_replies_match_the_demo_labels():
    from nlu.data.registry import load_split, resolve
    from nlu.generation.templates import TemplateSet

    examples = load_split(resolve("demo"), "train")
    intents = {ex.intent for ex in examples}
    slot_types = {tag[2:] for ex in examples for tag in ex.tags if tag != "O"}
    engine = TemplateSet.from_yaml(DEMO_REPLIES)
    assert engine.check_labels(intents, slot_types) == []
    assert set(engine.spec.intents) == intents  # every demo intent has a reply


def test_train_and_describe_from_the_command_line(monkeypatch, capsys, tmp_path):
    from nlu_testing import write_kb_recipe

    recipe = write_kb_recipe(tmp_path, epochs=3)
    code, out, err = run_main(monkeypatch, capsys, "validate", recipe)
    assert code == 0, err
    code, out, err = run_main(monkeypatch, capsys, "train", recipe, "--output", tmp_path / "run")
    assert code == 0, err
    assert "best model:" in out and "bleu" in out
    records = tmp_path / "records.jsonl"
    records.write_text('{"name": "Zephyr", "food": "Thai"}\n{"name": "Nowhere Inn", "food": "Greek"}\n')
    code, out, err = run_main(monkeypatch, capsys, "generate", "describe", tmp_path / "run" / "best", records)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["record"]["name"] for r in rows] == [["Zephyr"], ["Nowhere Inn"]]
    assert all(r["text"] for r in rows)
    records.write_text('{"name": "A", "colour": "red"}\n')
    code, _, err = run_main(monkeypatch, capsys, "generate", "describe", tmp_path / "run" / "best", records)
    assert code == 2 and "unknown slot type 'colour'" in err
    code, _, err = run_main(monkeypatch, capsys, "generate", "describe", tmp_path, records)
    assert code == 2 and "not a knowledge-base describer" in err


def test_train_and_respond_from_the_command_line(monkeypatch, capsys, tmp_path):
    from nlu_testing import REDIAL_ASSETS, write_ntrd_recipe

    recipe = write_ntrd_recipe(tmp_path, epochs=2)
    code, out, err = run_main(monkeypatch, capsys, "train", recipe, "--output", tmp_path / "run")
    assert code == 0, err
    code, out, err = run_main(
        monkeypatch, capsys, "generate", "respond", tmp_path / "run" / "best", REDIAL_ASSETS / "native.jsonl"
    )
    assert code == 0, err
    reply = json.loads(out)
    assert reply["id"] == "redial-77" and len(reply["items"]) == reply["template"].count("__item__")
    code, _, err = run_main(
        monkeypatch, capsys, "generate", "respond", tmp_path, REDIAL_ASSETS / "native.jsonl"
    )
    assert code == 2 and "not a template-filling recommender" in err
