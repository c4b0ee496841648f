"""write_report: the five files, errors first, valid PNGs, atomic replacement of an existing folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu.data.example import Example
from nlu.evaluation.metrics import evaluate_predictions
from nlu.evaluation.report import plot_confusion_matrix, write_report
from nlu.prediction import Entity, Prediction

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FILES = {"metrics.json", "predictions.jsonl", "report.md", "confusion_matrix.png", "slot_f1.png"}


def _data() -> tuple[list[Example], list[Prediction]]:
    gold = [
        Example("ok1", ["fly", "to", "boston"], ["O", "O", "B-city"], "flight"),
        Example("bad_intent", ["fare", "to", "boston"], ["O", "O", "B-city"], "airfare"),
        Example("ok2", ["hello"], ["O"], "greet"),
        Example("bad_slot", ["fly", "at", "noon"], ["O", "O", "B-time"], "flight"),
    ]
    pred = [
        Prediction(
            "fly to boston",
            "flight",
            0.9,
            entities=[Entity("city", "boston", 7, 13, 0.8)],
            tokens=gold[0].tokens,
            tags=["O", "O", "B-city"],
        ),
        Prediction("fare to boston", "flight", 0.6, tokens=gold[1].tokens, tags=["O", "O", "B-city"]),
        Prediction("hello", "greet", 0.99, tokens=gold[2].tokens, tags=["O"]),
        Prediction("fly at noon", "flight", 0.7, tokens=gold[3].tokens, tags=["O", "O", "O"]),
    ]
    return gold, pred


def test_report_writes_all_files_errors_first(tmp_path: Path):
    gold, pred = _data()
    result = evaluate_predictions(gold, pred, known_intents={"flight", "greet"}, bootstrap=50)
    out = tmp_path / "eval"
    write_report(result, gold, pred, out, title="Test run", extra={"model": "tiny", "split": "test"})

    assert {p.name for p in out.iterdir()} == FILES
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]  # the temp folder is gone

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary"]["intent_accuracy"] == 0.75
    assert metrics["model"] == "tiny"
    assert metrics["unseen"]["unseen_intents"] == {"airfare": 1}

    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == ["bad_intent", "bad_slot", "ok1", "ok2"]
    assert [r["correct"] for r in lines] == [False, False, True, True]
    first = lines[0]
    assert (first["gold_intent"], first["pred_intent"], first["pred_intent_confidence"]) == (
        "airfare",
        "flight",
        0.6,
    )
    assert lines[2]["entities"][0]["entity"] == "city"
    assert lines[1]["gold_tags"] == ["O", "O", "B-time"] and lines[1]["pred_tags"] == ["O", "O", "O"]

    for name in ("confusion_matrix.png", "slot_f1.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC

    md = (out / "report.md").read_text()
    assert md.startswith("# Test run\n")
    assert "| Intent accuracy | 75.00 ± 21.65 |" in md
    assert "airfare (1)" in md  # unseen section
    assert "confusion_matrix.png" in md and "slot_f1.png" in md
    assert md.index("bad\\_intent") < md.index("bad\\_slot")


def test_report_overwrites_only_its_own_files(tmp_path: Path):
    gold, pred = _data()
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text("old")
    (out / "notes.txt").write_text("keep me")
    write_report(evaluate_predictions(gold, pred, bootstrap=0), gold, pred, out, title="again")
    assert (out / "notes.txt").read_text() == "keep me"
    assert json.loads((out / "metrics.json").read_text())["summary"]["n"] == 4
    assert "no bootstrap" in (out / "report.md").read_text()


def test_extra_keys_may_not_clash_and_nothing_is_written(tmp_path: Path):
    gold, pred = _data()
    out = tmp_path / "eval"
    with pytest.raises(ValueError, match="summary"):
        write_report(
            evaluate_predictions(gold, pred, bootstrap=0), gold, pred, out, "t", extra={"summary": 1}
        )
    assert not out.exists()


def test_report_without_slots_still_draws_both_plots(tmp_path: Path):
    gold = [Example("a", ["hi"], ["O"], "greet"), Example("b", ["bye"], ["O"], "bye")]
    pred = [Prediction("hi", "greet", 1.0, tags=["O"]), Prediction("bye", "greet", 1.0, tags=["O"])]
    out = tmp_path / "eval"
    write_report(evaluate_predictions(gold, pred, bootstrap=10), gold, pred, out, "no slots")
    assert (out / "slot_f1.png").read_bytes()[:8] == PNG_MAGIC
    assert "No slot spans." in (out / "report.md").read_text()


def test_confusion_plot_with_many_labels_keeps_the_most_frequent(tmp_path: Path):
    labels = [f"intent_{i:02d}" for i in range(45)]
    matrix = [[(i + 1) if i == j else (1 if j == (i + 1) % 45 else 0) for j in range(45)] for i in range(45)]
    path = tmp_path / "cm.png"
    plot_confusion_matrix(labels, matrix, path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_failure_midway_leaves_the_old_report_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import nlu.evaluation.report as report

    def broken_plot(*args, **kwargs):
        raise RuntimeError("disk full")

    gold, pred = _data()
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text("old")
    monkeypatch.setattr(report, "plot_slot_f1", broken_plot)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(evaluate_predictions(gold, pred, bootstrap=0), gold, pred, out, "t")
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert (out / "metrics.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]
