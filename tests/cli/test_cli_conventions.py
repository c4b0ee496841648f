"""What users expect of any command line: ``--version``, ``-h``, shell completion, flags shown as flags, exit codes
that tell usage errors (2) from runtime failures (1) as the README's table says, ``--json`` for scripts, and
progress on long work only where a person watches."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_main
from nlu_testing import write_recipe

import nlu
from nlu import errors

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["train"],
    ["validate"],
    ["predict"],
    ["evaluate"],
    ["export"],
    ["serve"],
    ["push"],
    ["data", "stats"],
    ["data", "card"],
    ["data", "convert"],
    ["data", "download"],
    ["data", "formats"],
    ["generate", "template"],
    ["generate", "describe"],
    ["generate", "respond"],
]


def test_version(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, "--version")
    assert code == 0 and out == f"nlu {nlu.__version__} (nlu-toolkit)\n"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_dash_h_is_help_and_flags_do_not_look_like_they_take_a_value(command, monkeypatch, capsys):
    """`--resume <bool>` in `nlu train --help` suggested `--resume true`; only --help was accepted."""
    code, out, _ = run_main(monkeypatch, capsys, *command, "-h")
    assert code == 0 and "Usage:" in out and "-h, --help" in out
    assert "<bool>" not in out
    assert run_main(monkeypatch, capsys, *command, "--help")[1] == out


def test_train_help_shows_its_flags_as_flags(monkeypatch, capsys):
    _, out, _ = run_main(monkeypatch, capsys, "train", "-h")
    assert re.search(r"^\s+--resume\s+Continue an interrupted run", out, re.M)
    assert re.search(r"^\s+--json\s+Print the final summary", out, re.M)
    _, out, _ = run_main(monkeypatch, capsys, "export", "-h")
    assert re.search(r"^\s+--optimize / --no-optimize\s", out, re.M)


def test_shell_completion(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, "-h")
    assert "--install-completion" in out and "--show-completion" in out
    # the installed command, as a user's bash runs it (in process, the program is named after pytest); typer finds
    # the shell among the command's parent processes, so bash starts it (and stays its parent: not the last command)
    script = Path(sys.executable).parent / "nlu"
    result = subprocess.run(
        ["bash", "-c", f"'{script}' --show-completion; exit $?"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "_NLU_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _nlu_completion nlu" in result.stdout


# --- exit codes ---------------------------------------------------------------------------------------------


def _readme_exit_codes() -> dict[str, int]:
    """Error class -> exit code, from the README's table (the rows under "| exit code |")."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("| exit code |", 1)[1].split("\n\n", 1)[0]
    found = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in re.findall(r"`(\w+)`", cells[-1]):
            found[name] = int(cells[0])
    return found


def _error_classes() -> dict[str, type]:
    from nlu.training.checkpoints import RunDirBusy

    found = {
        name: value
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.NLUError)
    }
    return found | {"RunDirBusy": RunDirBusy}


def test_the_readme_table_lists_every_error_with_its_exit_code():
    documented = _readme_exit_codes()
    classes = _error_classes()
    assert set(documented) == set(classes) - {"NLUError"}
    assert {name: classes[name].exit_code for name in documented} == documented


def test_usage_errors_exit_2_and_runtime_failures_1(tiny_mixed_model_dir, tmp_path, monkeypatch, capsys):
    from nlu.export import exporter

    code, _, err = run_main(monkeypatch, capsys, "predict", "--batch-size", "0", str(tmp_path), "x")
    assert code == 2 and "Invalid value" in err  # click's usage errors: 2 as well
    code, _, err = run_main(monkeypatch, capsys, "evaluate", tmp_path / "none", "--data", "demo")
    assert code == 2 and err.startswith("error: ")

    real_check = exporter._parity

    def disagree(*args, **kwargs):  # the check failing as it does on a real mismatch
        return real_check(*args, **kwargs) | {"passed": False, "problems": ["intent agreement 0.5 < 0.99"]}

    monkeypatch.setattr(exporter, "_parity", disagree)
    code, _, err = run_main(monkeypatch, capsys, "export", tiny_mixed_model_dir(True), tmp_path / "a")
    assert code == 1 and "disagrees with the torch model" in err
    assert not (tmp_path / "a").exists()


# --- --json and progress ----------------------------------------------------------------------------------


def test_evaluate_json(tiny_model_dir, tmp_path, monkeypatch, capsys):
    code, out, err = run_main(
        monkeypatch, capsys, "evaluate", tiny_model_dir, "--data", "demo", "-o", tmp_path / "eval", "--json"
    )
    assert code == 0, err
    summary = json.loads(out)  # one object, nothing else on stdout
    assert summary["n"] == 120 and summary["dataset"] == "demo" and summary["split"] == "test"
    assert summary["report"] == str(tmp_path / "eval" / "report.md")
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())["summary"]
    assert summary["slot_f1"] == saved["slot_f1"] and summary["exact_match"] == saved["exact_match"]
    assert "parse" not in err  # no progress bar when stderr is not a terminal


def test_export_json(tiny_mixed_model_dir, tmp_path, monkeypatch, capsys):
    code, out, err = run_main(
        monkeypatch, capsys, "export", tiny_mixed_model_dir(False), tmp_path / "a", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["parity"]["passed"] and report["out_dir"] == str(tmp_path / "a")
    assert report == json.loads((tmp_path / "a" / "export_report.json").read_text()) | {
        "out_dir": str(tmp_path / "a")
    }


def test_train_json(tmp_path, tiny_backbone, monkeypatch, capsys):
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, training={"max_steps": 2})
    code, out, err = run_main(monkeypatch, capsys, "train", recipe, "--output", tmp_path / "run", "--json")
    assert code == 0, err
    summary = json.loads(out)  # the epoch lines and the bar went to stderr
    assert summary["best_model_dir"] == str(tmp_path / "run" / "best")
    assert set(summary["dev"]) >= {"intent_accuracy", "slot_f1", "exact_match"}
    assert summary["report"] == str(tmp_path / "run" / "report" / "report.md")
    assert "epoch 1:" in err


def test_progress_is_drawn_on_a_terminal_only(tiny_model_dir):
    from rich.console import Console

    from nlu.cli.app import progress_bars
    from nlu.data.registry import load_split
    from nlu.evaluation.evaluate import evaluate_parser
    from nlu.inference import TorchParser

    examples = load_split("demo", "test")
    parser = TorchParser.load(tiny_model_dir, batch_size=16)
    seen = []
    result, predictions = evaluate_parser(parser, examples, bootstrap=0, progress=lambda *a: seen.append(a))
    assert seen[0] == ("parse", 0, 120) and seen[-1] == ("parse", 120, 120) and len(seen) == 1 + 8
    plain, _ = evaluate_parser(parser, examples, bootstrap=0)  # the same batches: the same predictions
    assert [p.to_dict() for p in predictions] == [
        p.to_dict() for p in parser.parse_words([e.tokens for e in examples])
    ]
    assert result.to_dict()["summary"] == plain.to_dict()["summary"]

    for terminal in (True, False):
        out = io.StringIO()
        console = Console(file=out, force_terminal=terminal, width=100)
        with progress_bars(console) as progress:
            progress("export the ONNX graph", 0, None)
            progress("check against torch", 32, 64)
        assert ("check against torch" in out.getvalue()) is terminal
