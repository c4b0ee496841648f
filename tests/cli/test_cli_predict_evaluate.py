"""``nlu predict`` and ``nlu evaluate`` with the tiny model trained on DEMO (see tests/conftest.py)."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run_main
from typer.testing import CliRunner

from nlu.cli.main import app

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _predict(model_dir, *args, input: str | None = None) -> list[dict]:
    result = runner.invoke(app, ["predict", str(model_dir), *args], input=input)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == result.stdout.count("\n")  # one JSON object, one line
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_predict_shape(tiny_model_dir):
    (out,) = _predict(tiny_model_dir, "turn on the kitchen lights")
    assert out["text"] == "turn on the kitchen lights"
    assert out["intent"]["name"] in {r["name"] for r in out["intent_ranking"]}
    assert out["intent"]["name"] != "UNK"  # UNK is never predicted
    assert 0.0 <= out["intent"]["confidence"] <= 1.0
    confidences = [r["confidence"] for r in out["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    for entity in out["entities"]:
        assert out["text"][entity["start"] : entity["end"]] == entity["value"]
    assert "truncated" not in out


@pytest.mark.parametrize("text", ["", "   \t "])
def test_predict_empty_and_white_space(tiny_model_dir, text):
    (out,) = _predict(tiny_model_dir, text)
    assert out == {
        "text": text,
        "intent": {"name": None, "confidence": 0.0},
        "intent_ranking": [],
        "entities": [],
    }


def test_predict_very_long_utterance_is_truncated_not_a_crash(tiny_model_dir):
    words = ("play some music by the beatles in the kitchen now " * 100).split()
    assert len(words) == 1000
    (out,) = _predict(tiny_model_dir, " ".join(words))
    assert out["truncated"] is True
    assert out["words_total"] == 1000
    assert 0 < out["words_used"] < out["words_total"]
    assert out["intent"] is not None
    # entities can only come from the words that were read
    text = out["text"]
    limit = len(" ".join(words[: out["words_used"]]))
    assert all(e["end"] <= limit and text[e["start"] : e["end"]] == e["value"] for e in out["entities"])


def test_predict_input_file_keeps_order_and_blank_lines(tiny_model_dir, tmp_path):
    path = tmp_path / "utterances.txt"
    lines = ["set an alarm for 7 am", "", "wetter in münchen?", "book a flight to st. louis."]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")  # BOM + CRLF
    outs = _predict(tiny_model_dir, "--input", str(path))
    assert [o["text"] for o in outs] == lines
    assert outs[1]["intent"]["name"] is None
    assert all(o["intent"] is not None for i, o in enumerate(outs) if i != 1)


SEPARATORS = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_predict_gives_one_prediction_per_newline_in_a_file_and_on_stdin(tiny_model_dir, tmp_path):
    """Python's str.splitlines also breaks at these characters: a 5-line file gave 10 predictions."""
    lines = [f"play jazz{sep}in the kitchen" for sep in SEPARATORS[:5]]
    text = "\n".join(lines) + "\n"
    path = tmp_path / "utterances.txt"
    path.write_text(text, encoding="utf-8", newline="")
    from_file = _predict(tiny_model_dir, "--input", str(path))
    from_stdin = _predict(tiny_model_dir, "--input", "-", input=text)
    assert [o["text"] for o in from_file] == [o["text"] for o in from_stdin] == lines
    rest = "\n".join(f"a{sep}b" for sep in SEPARATORS[5:])
    path.write_text(rest, encoding="utf-8", newline="")  # no final newline: the last line still counts
    assert len(_predict(tiny_model_dir, "--input", str(path))) == 3


def test_predict_arguments_then_stdin(tiny_model_dir):
    outs = _predict(
        tiny_model_dir, "turn off the lights", "--input", "-", input="play jazz\n\nwhat time is it\n"
    )
    assert [o["text"] for o in outs] == ["turn off the lights", "play jazz", "", "what time is it"]
    assert [o["intent"]["name"] is None for o in outs] == [False, False, True, False]


def test_predict_batches_give_the_same_answer(tiny_model_dir):
    texts = ["turn on the lights", "book a table for two", "play some music", "weather in paris tomorrow"]
    one_batch = _predict(tiny_model_dir, *texts)
    small_batches = _predict(tiny_model_dir, *texts, "--batch-size", "1")
    assert [o["intent"]["name"] for o in one_batch] == [o["intent"]["name"] for o in small_batches]
    confidences = [o["intent"]["confidence"] for o in small_batches]
    assert [o["intent"]["confidence"] for o in one_batch] == pytest.approx(confidences, abs=1e-5)

    def spans(outs):
        return [[(e["entity"], e["start"], e["end"]) for e in o["entities"]] for o in outs]

    assert spans(one_batch) == spans(small_batches)


def test_predict_non_utf8_input_file(tiny_model_dir, tmp_path, monkeypatch, capsys):
    path = tmp_path / "latin1.txt"
    path.write_bytes("turn on the lights\nwetter in münchen\n".encode("latin-1"))
    code, out, err = run_main(monkeypatch, capsys, "predict", tiny_model_dir, "--input", path)
    assert code == 2 and not out
    assert err.startswith(f"error: {path}:2: not valid UTF-8")  # the bad byte is on line 2
    assert "re-encode" in err and "Traceback" not in err


def test_predict_missing_input_file(tiny_model_dir, tmp_path, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "predict", tiny_model_dir, "--input", tmp_path / "nope.txt")
    assert code == 2 and "no such file" in err


def test_predict_nothing_to_parse(tiny_model_dir, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "predict", tiny_model_dir)
    assert code == 2 and err.startswith("error: nothing to parse")


def test_predict_missing_model_dir(tmp_path, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "predict", tmp_path / "no-model", "hello")
    assert code == 2
    assert err.startswith("error: ") and str(tmp_path / "no-model") in err


def test_predict_on_a_run_directory_uses_its_best_model(tiny_model_dir, monkeypatch, capsys, caplog):
    run_dir = tiny_model_dir.parent
    code, from_run, err = run_main(monkeypatch, capsys, "predict", run_dir, "turn on the lights")
    assert code == 0, err
    assert f"using its best model, {tiny_model_dir}" in caplog.text
    assert from_run == run_main(monkeypatch, capsys, "predict", tiny_model_dir, "turn on the lights")[1]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "not a model directory; give a trained model (RUN/best"),
        ({"model.onnx": "x", "tokenizer.json": "{}"}, "has model.onnx but no nlu.json"),
        ({"model.safetensors": "x"}, "has model.safetensors but no config.json"),
        (
            {"recipe.yaml": "data: {}", "checkpoints/step-0000004/x": "x"},
            "run directory without a best model",
        ),
    ],
    ids=["empty", "artifact-without-manifest", "weights-without-config", "run-without-best"],
)
def test_predict_says_what_a_directory_is_instead_of_one_message_for_all(
    tmp_path, monkeypatch, capsys, files, expected
):
    """All of these said "not a model directory (no config.json)"."""
    folder = tmp_path / "dir"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    code, _, err = run_main(monkeypatch, capsys, "predict", folder, "hello")
    assert code == 2 and expected in err and "Traceback" not in err


def test_predict_on_a_path_that_does_not_exist_or_is_a_file(tmp_path, monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "predict", tmp_path / "nowhere", "hello")
    assert code == 2 and f"{tmp_path / 'nowhere'}: no such directory" in err
    (tmp_path / "model.bin").write_text("x")
    code, _, err = run_main(monkeypatch, capsys, "predict", tmp_path / "model.bin", "hello")
    assert code == 2 and "is a file" in err


def test_the_python_api_takes_a_string_as_one_utterance(tiny_model_dir):
    """Predictor.predict("book a flight") returned one prediction per character."""
    from nlu.inference import Predictor

    predictor = Predictor.load(tiny_model_dir)
    (one,) = predictor.predict("book a table in paris")
    assert one.text == "book a table in paris"
    assert one.to_dict() == predictor.predict(["book a table in paris"])[0].to_dict()
    from nlu.parser import items_from_words

    with pytest.raises(TypeError, match="batch of word lists"):
        items_from_words(["book", "a", "table"])  # one utterance's words where a batch belongs


def test_evaluate_writes_report_and_prints_metrics(tiny_model_dir, tmp_path):
    out_dir = tmp_path / "eval"
    result = runner.invoke(
        app, ["evaluate", str(tiny_model_dir), "--data", "demo", "--split", "test", "-o", str(out_dir)]
    )
    assert result.exit_code == 0, result.output
    for name in ("report.md", "metrics.json", "predictions.jsonl", "confusion_matrix.png", "slot_f1.png"):
        assert (out_dir / name).is_file(), name
    for png in ("confusion_matrix.png", "slot_f1.png"):
        assert (out_dir / png).read_bytes().startswith(PNG_MAGIC)
    assert len((out_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()) == 120

    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    summary = metrics["summary"]
    assert summary["n"] == 120
    assert metrics["split"] == "test" and metrics["dataset"] == "demo"
    lines = result.output.splitlines()
    assert lines[0] == "demo / test: 120 utterances"
    printed = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    assert set(printed) == {"intent_accuracy", "slot_precision", "slot_recall", "slot_f1", "exact_match"}
    for key, values in printed.items():
        assert float(values[0]) == pytest.approx(100 * summary[key], abs=0.006)
        assert values[1] == "±"
    assert lines[-1] == f"report: {out_dir / 'report.md'}"
    assert "demo" in (out_dir / "report.md").read_text(encoding="utf-8")


def test_evaluate_missing_split(tiny_model_dir, tmp_path, monkeypatch, capsys):
    code, _, err = run_main(
        monkeypatch, capsys, "evaluate", tiny_model_dir, "--data", "demo", "--split", "nope"
    )
    assert code == 2 and "no split 'nope'" in err


def test_predict_refuses_a_model_without_its_tokenizer(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """Without tokenizer.json transformers built a vocabulary-less tokenizer: every word [UNK], exit 0."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "tokenizer.json").unlink()
    code, stdout, stderr = run_main(monkeypatch, capsys, "predict", model, "book a table in paris")
    assert code == 1 and stdout == ""  # a damaged model: a runtime failure, not a usage error
    assert "tokenizer.json is missing" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("keep", [100, 0.5], ids=["header", "half"])
def test_predict_on_truncated_weights_is_a_clear_error(tiny_model_dir, tmp_path, monkeypatch, capsys, keep):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    code, _, stderr = run_main(monkeypatch, capsys, "predict", model, "book a table")
    assert code == 1 and "Traceback" not in stderr
    assert "model.safetensors: the weights file is damaged" in stderr


@pytest.mark.parametrize(
    ("blocked", "args", "expected"),
    [
        ("starlette", ["serve", "ARTIFACT"], "`nlu serve` needs the package 'starlette'"),
        ("seqeval", ["evaluate", "MODEL", "--data", "demo"], "`nlu evaluate` needs the package 'seqeval'"),
        ("torch", ["predict", "MODEL", "hello"], "`nlu predict` needs the package 'torch'"),
    ],
    ids=["serve", "evaluate", "predict-torch-model"],
)
def test_a_missing_extra_is_named_with_the_install_command(tiny_model_dir, tmp_path, blocked, args, expected):
    """Each died with ModuleNotFoundError and a traceback."""
    import subprocess
    import sys

    argv = [str(tiny_model_dir) if a == "MODEL" else str(tmp_path) if a == "ARTIFACT" else a for a in args]
    code = (
        f"import sys; sys.modules[{blocked!r}] = None  # as if not installed\n"
        f"from cli.main import main\nsys.argv = ['nlu', *{argv!r}]\nmain()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr  # not a usage error
    assert expected in result.stderr and "pip install 'nlu-toolkit[" in result.stderr


def test_evaluate_counts_utterances_longer_than_the_model_reads(
    tiny_model_dir, tmp_path, monkeypatch, capsys
):
    words = ["play", "jazz"] * 40  # 80 words: past the tiny model's 48 sub-tokens
    lines = [
        {"tokens": words, "tags": ["O"] * len(words), "intent": "play_music"},
        {"tokens": ["play", "jazz"], "tags": ["O", "O"], "intent": "play_music"},
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, stdout, _ = run_main(
        monkeypatch, capsys, "evaluate", tiny_model_dir, "--data", tmp_path, "-o", tmp_path / "eval"
    )
    assert code == 0
    assert "1 utterances were longer than the model reads" in stdout
    summary = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert summary["truncated_utterances"] == 1
