"""``nlu validate``, ``nlu train`` (its failures before any work starts) and ``nlu data stats``.

Errors leave the command line as one ``error: ...`` message on stderr, exit code 2 and no traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from cli_helpers import run_main, run_process
from nlu_testing import write_recipe
from typer.testing import CliRunner

from nlu.cli.main import app
from nlu.data.registry import read_card

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").rglob("*.yaml"))
runner = CliRunner()


def _bad_recipe(path: Path, **training) -> Path:
    path.write_text(yaml.safe_dump({"data": {"dataset": "demo"}, "training": training}), encoding="utf-8")
    return path


# --- nlu validate ---------------------------------------------------------------------------------------


SHARED = Path(os.environ.get("NLU_DATA_DIR", REPO.parent / "shared" / "data"))
# written by benchmarks/generation.py before it trains on them: absent in a fresh checkout
MADE_BY_A_BENCHMARK = {REPO / "recipes" / "e2e" / "extractor.yaml"}
# students of a teacher that is trained first (recipes/<data>/jointbert_crf_mpnet.yaml)
NEED_A_TEACHER = {REPO / "recipes" / ds / "jointbert_crf_distilled.yaml" for ds in ("atis", "snips")} | {
    REPO
    / "recipes"
    / "atis"
    / "jointbert_crf_small.yaml",  # started from and distilled from the 6-layer model
    REPO / "recipes" / "atis" / "jointbert_crf_distilled_seeds.yaml",  # the benchmark's seed-1 runs teach it
}


@pytest.mark.skipif(not (SHARED / "atis").is_dir(), reason="needs ../shared/data (NLU_DATA_DIR)")
def test_validate_ok(monkeypatch, capsys):
    monkeypatch.setenv("NLU_DATA_DIR", str(SHARED))
    code, stdout, stderr = run_main(monkeypatch, capsys, "validate", *RECIPES)
    ready = [path for path in RECIPES if path not in MADE_BY_A_BENCHMARK | NEED_A_TEACHER]
    assert stdout.splitlines() == [f"ok: {path}" for path in ready]
    assert code == 2
    assert (
        "recipes/e2e/extractor.yaml: data.files.train: runs/e2e-extractor/data/train.jsonl: no such file"
        in stderr
    )
    assert "training.distillation.teachers[0]: runs/atis-jointbert_crf_mpnet/best: no trained model" in stderr
    assert "model.init_from: runs/atis-jointbert_crf/best: no trained model there" in stderr
    assert "teachers[4]: runs/benchmark/atis-contextual-seed3/best: no trained model there" in stderr


def test_validate_checks_that_the_data_resolves(tmp_path, monkeypatch, capsys):
    """It said ok for a recipe whose data set does not exist; `nlu train` failed on it seconds later."""
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "empty-root"))
    recipes = {
        "no-such-set.yaml": {"data": {"dataset": "atis"}},
        "no-such-folder.yaml": {"data": {"dataset": str(tmp_path / "missing")}},
        "unknown-name.yaml": {"data": {"dataset": "atsi"}},
        "no-such-file.yaml": {"data": {"files": {"train": str(tmp_path / "nlu.yml")}}},
        "no-train-split.yaml": {"data": {"dataset": str(tmp_path)}},
        "no-lexicon-file.yaml": {
            "data": {"dataset": "demo"},
            "model": {"lexicon": {"files": {"city": str(tmp_path / "cities.txt")}}},
        },
    }
    for name, recipe in recipes.items():
        (tmp_path / name).write_text(yaml.safe_dump(recipe), encoding="utf-8")
    code, stdout, err = run_main(monkeypatch, capsys, "validate", *(tmp_path / name for name in recipes))
    assert code == 2 and "ok:" not in stdout
    assert f"{tmp_path / 'no-such-set.yaml'}: data.dataset: data set 'atis': no files under" in err
    assert f"{tmp_path / 'no-such-folder.yaml'}: data.dataset: {tmp_path / 'missing'}: no such folder" in err
    assert f"{tmp_path / 'unknown-name.yaml'}: data.dataset: unknown data set 'atsi'" in err
    assert f"{tmp_path / 'no-such-file.yaml'}: data.files.train: {tmp_path / 'nlu.yml'}: no such file" in err
    assert f"{tmp_path / 'no-train-split.yaml'}: data.train_split: {tmp_path} has no 'train' split" in err
    assert f"{tmp_path / 'no-lexicon-file.yaml'}: model.lexicon.files.city: {tmp_path / 'cities.txt'}" in err


def test_validate_reports_every_problem_of_every_file(tmp_path):
    first = _bad_recipe(tmp_path / "first.yaml", learning_rate="fast")
    second = _bad_recipe(tmp_path / "second.yaml", epohcs=3, batch_size=0)
    good = REPO / "recipes" / "quickstart.yaml"
    proc = run_process("validate", first, good, second, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.strip() == f"ok: {good}"
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert f"{first}: training.learning_rate:" in proc.stderr and "got 'fast'" in proc.stderr
    assert f"{second}: training.epohcs: unknown key; did you mean 'epochs'?" in proc.stderr
    assert f"{second}: training.batch_size:" in proc.stderr


def test_validate_with_bad_override_is_an_error_not_a_crash(tmp_path):
    proc = run_process(
        "validate", REPO / "recipes" / "quickstart.yaml", "--set", "training.epochs=[3", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --set training.epochs=[3:")
    assert "Traceback" not in proc.stderr


def test_validate_applies_overrides(monkeypatch, capsys):
    recipe = REPO / "recipes" / "quickstart.yaml"
    code, _, err = run_main(monkeypatch, capsys, "validate", recipe, "--set", "training.learning_rate=fast")
    assert code == 2
    assert err.startswith(f"error: {recipe}: training.learning_rate:") and "'fast'" in err


# --- nlu train ------------------------------------------------------------------------------------------


def test_train_with_missing_data_folder_fails_before_creating_the_run(tmp_path, tiny_backbone):
    missing = tmp_path / "no-such-data"
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, dataset=str(missing))
    proc = run_process("train", recipe, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {missing}: no such folder")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_train_with_known_name_but_no_files_says_to_set_nlu_data_dir(
    tmp_path, tiny_backbone, monkeypatch, capsys
):
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "data"))
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, dataset="atis")
    code, _, err = run_main(monkeypatch, capsys, "train", recipe)
    assert code == 2
    assert err.startswith("error: data set 'atis': no files under") and "NLU_DATA_DIR" in err
    assert "nlu data download atis" in err
    assert not (tmp_path / "run").exists()


def test_train_refuses_a_run_dir_that_holds_a_run(tmp_path, tiny_backbone, monkeypatch, capsys):
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"epoch": 1}\n', encoding="utf-8")
    code, _, err = run_main(monkeypatch, capsys, "train", recipe)
    assert code == 2
    assert err.startswith(f"error: {run_dir}: the run directory already holds a run")
    for option in ("--resume", "--output", "--overwrite"):
        assert option in err
    assert sorted(p.name for p in run_dir.iterdir()) == ["metrics.jsonl"]  # untouched
    assert (run_dir / "metrics.jsonl").read_text(encoding="utf-8") == '{"epoch": 1}\n'


def test_train_resume_without_checkpoint(tmp_path, tiny_backbone, monkeypatch, capsys):
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone)
    code, _, err = run_main(monkeypatch, capsys, "train", recipe, "--output", tmp_path / "other", "--resume")
    assert code == 2
    assert "nothing to resume" in err


def test_train_with_invalid_recipe_lists_problems(tmp_path, monkeypatch, capsys):
    recipe = _bad_recipe(tmp_path / "recipe.yaml", learning_rate="fast", epochs=0)
    monkeypatch.chdir(tmp_path)  # the recipe's default output_dir is runs/default
    code, _, err = run_main(monkeypatch, capsys, "train", recipe)
    assert code == 2
    assert "training.learning_rate" in err and "training.epochs" in err
    assert list(tmp_path.iterdir()) == [recipe]


# --- nlu data stats ------------------------------------------------------------------------------------


def test_data_stats_demo_json_matches_card():
    result = runner.invoke(app, ["data", "stats", "demo", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    card = read_card("demo")
    assert {split: s["utterances"] for split, s in stats["splits"].items()} == card["splits"]
    assert stats["splits"]["train"]["intents"] == card["num_intents"]
    assert stats["splits"]["train"]["slot_types"] == card["num_slot_types"]
    assert stats["card_mismatches"] == []
    assert stats["splits"]["test"]["intents_not_in_train"] == []


def test_data_stats_table():
    result = runner.invoke(app, ["data", "stats", "demo"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "480" in result.output and "120" in result.output
    assert "differs from the data card" not in result.output


def test_data_stats_unknown_name(monkeypatch, capsys):
    code, out, err = run_main(monkeypatch, capsys, "data", "stats", "no_such_set")
    assert code == 2 and not out
    assert err.startswith("error: unknown data set 'no_such_set'")
