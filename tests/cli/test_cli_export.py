"""``nlu export`` and ``nlu predict`` on an artifact directory, through ``nlu.cli.main.main`` (real exit codes)."""

from __future__ import annotations

import json
import math

from cli_helpers import run_main

TEXTS = ["Turn the bathroom desk lamp off!", "what's the weather in Paris?", ""]


def test_export_int8_prints_the_parity_summary(monkeypatch, capsys, tmp_path, tiny_mixed_model_dir):
    out = tmp_path / "artifact"
    code, stdout, stderr = run_main(
        monkeypatch, capsys, "export", tiny_mixed_model_dir(True), out, "--quantize", "int8"
    )
    assert code == 0, stderr
    assert f"wrote {out}" in stdout and "quantization int8" in stdout
    assert "checked on 80 utterances (demo/dev)" in stdout  # the dev split of the training recipe
    assert "max |logit diff|" in stdout and "intent agreement" in stdout and "slot tag agreement" in stdout
    assert json.loads((out / "nlu.json").read_text())["quantization"] == "int8"
    assert json.loads((out / "export_report.json").read_text())["parity"]["passed"] is True


def test_predict_on_an_artifact_matches_the_model(monkeypatch, capsys, tiny_artifact, tiny_mixed_model_dir):
    code, from_artifact, stderr = run_main(monkeypatch, capsys, "predict", tiny_artifact(True), *TEXTS)
    assert code == 0, stderr
    code, from_model, stderr = run_main(monkeypatch, capsys, "predict", tiny_mixed_model_dir(True), *TEXTS)
    assert code == 0, stderr
    onnx_lines = [json.loads(line) for line in from_artifact.splitlines()]
    torch_lines = [json.loads(line) for line in from_model.splitlines()]
    assert len(onnx_lines) == len(torch_lines) == len(TEXTS)
    for onnx, torch in zip(onnx_lines, torch_lines, strict=True):
        assert onnx["text"] == torch["text"]
        assert [r["name"] for r in onnx["intent_ranking"]] == [r["name"] for r in torch["intent_ranking"]]
        assert [{k: v for k, v in e.items() if k != "confidence_entity"} for e in onnx["entities"]] == [
            {k: v for k, v in e.items() if k != "confidence_entity"} for e in torch["entities"]
        ]
        if torch["intent"]["name"] is None:
            assert onnx["intent"] == torch["intent"]
        else:
            assert onnx["intent"]["name"] == torch["intent"]["name"]
            assert math.isclose(onnx["intent"]["confidence"], torch["intent"]["confidence"], abs_tol=1e-4)


def test_export_of_a_folder_that_is_not_a_model(monkeypatch, capsys, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a model")
    code, stdout, stderr = run_main(monkeypatch, capsys, "export", tmp_path / "notes", tmp_path / "artifact")
    assert code == 2
    assert stderr.startswith("error:") and str(tmp_path / "notes") in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "artifact").exists()


def test_export_with_an_unknown_quantization(monkeypatch, capsys, tmp_path, tiny_mixed_model_dir):
    code, _, stderr = run_main(
        monkeypatch, capsys, "export", tiny_mixed_model_dir(True), tmp_path / "a", "--quantize", "fp16"
    )
    assert code == 2 and "error: --quantize must be none or int8, got 'fp16'" in stderr


def test_export_refuses_a_folder_of_the_users_files(monkeypatch, capsys, tmp_path, tiny_mixed_model_dir):
    """A folder that is not an earlier artifact is never replaced without --overwrite (it was, silently)."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    code, _, stderr = run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(True), out)
    assert code == 2 and "--overwrite" in stderr and "Traceback" not in stderr
    assert (out / "notes.txt").read_text() == "my notes"

    code, _, stderr = run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(True), out, "--overwrite")
    assert code == 0, stderr
    assert (out / "nlu.json").is_file() and not (out / "notes.txt").exists()


def test_export_refuses_a_file_without_overwrite(monkeypatch, capsys, tmp_path, tiny_mixed_model_dir):
    out = tmp_path / "model.onnx"
    out.write_text("a file the user made")
    code, _, stderr = run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(True), out)
    assert code == 2 and "is a file" in stderr
    assert out.read_text() == "a file the user made"
    code, _, stderr = run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(True), out, "--overwrite")
    assert code == 0, stderr
    assert (out / "nlu.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no .model.onnx.old left


def test_export_replaces_an_earlier_artifact(monkeypatch, capsys, tmp_path, tiny_mixed_model_dir):
    out = tmp_path / "artifact"
    assert run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(True), out)[0] == 0
    code, _, stderr = run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(False), out)
    assert code == 0, stderr
    assert json.loads((out / "nlu.json").read_text())["decoding"]["type"] == "softmax"


def test_export_never_replaces_the_directory_that_holds_the_model(
    monkeypatch, capsys, tmp_path, tiny_mixed_model_dir
):
    """`nlu export runs/x/best runs/x` used to leave only the artifact: the run, its best model included, was gone."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_mixed_model_dir(True), run / "best")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    for out in (run, run / "best"):
        code, _, stderr = run_main(monkeypatch, capsys, "export", run / "best", out, "--overwrite")
        assert code == 2 and "holds the model being exported" in stderr
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
