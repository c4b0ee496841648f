"""The same training loop under ``torchrun`` with two CPU processes (gloo): both ranks end with identical weights,
and rank 0 writes the run directory; the commands README.md gives for it start the two processes they claim."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from nlu_testing import write_recipe

SCRIPT = Path(__file__).with_name("ddp_train.py")
TIMEOUT_S = 240
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_model(tmp_path, tiny_backbone):
    recipe = write_recipe(
        tmp_path / "recipe.yaml",
        tiny_backbone,
        training={"max_steps": 8, "checkpoint_every": 2, "epochs": 1, "batch_size": 8},
    )
    run_dir, results = tmp_path / "run", tmp_path / "results"
    results.mkdir()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        # accelerate sets up CPU processes (gloo) only when asked to, as `accelerate launch --cpu` does
        "ACCELERATE_USE_CPU": "1",
        "CUDA_VISIBLE_DEVICES": "",  # CPU + gloo even where a GPU is present
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(SCRIPT),
        str(recipe),
        str(run_dir),
        str(results),
    ]
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"torchrun did not finish in {TIMEOUT_S} s (a rank waiting at a barrier?)\n{err.stderr}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    ranks = [json.loads((results / f"rank-{i}.json").read_text()) for i in range(2)]
    for i, rank in enumerate(ranks):
        assert rank["rank"] == i and rank["num_processes"] == 2, rank
        assert rank["distributed_type"].endswith("MULTI_CPU"), rank
        assert rank["wrapper"] == "DistributedDataParallel", rank
        # max_steps counts single-process steps: 8 steps of batch 8 are 4 steps on each of 2 processes
        assert rank["steps"] == [1, 2, 3, 4], rank
    assert ranks[0]["sha256"] == ranks[1]["sha256"], "the ranks ended with different weights"

    # rank 0 wrote one run directory; its best model (the only evaluation, at the end) is the final model
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [4]
    assert (run_dir / "best" / "model.safetensors").is_file() and (run_dir / "report" / "report.md").is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step-0000002", "step-0000004"]

    sys.path.insert(0, str(SCRIPT.parent))
    from ddp_train import state_dict_sha256

    from nlu.models import load_model

    assert state_dict_sha256(load_model(run_dir / "best")) == ranks[0]["sha256"]


def test_a_launch_that_accelerate_does_not_see_is_refused(tmp_path, tiny_backbone, monkeypatch):
    """torchrun on a CPU machine without ACCELERATE_USE_CPU: accelerate sets up a single process in each, and they
    would all write the same run directory as its "main process". The trainer refuses before any work."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    from nlu.errors import NLUError
    from nlu.training.trainer import train

    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone)
    with pytest.raises(NLUError, match="ACCELERATE_USE_CPU=1"):
        train(recipe, output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def readme_cpu_commands() -> list[str]:
    """The commands of the first code block of README.md's "Several processes" section (two CPU processes)."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("### Several processes", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("command", readme_cpu_commands(), ids=lambda command: command.split()[1])
def test_the_readme_commands_start_two_processes(command, tmp_path, tiny_backbone):
    """Each documented command as written, but for the tiny recipe in place of README's, the launcher of this
    environment, ``--output`` and, for accelerate's launcher, a free port."""
    words = shlex.split(command)
    assigned = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        assigned[name] = value
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, training={"max_steps": 4, "batch_size": 8})
    words = [str(recipe) if word.endswith(".yaml") else word for word in words]
    words[0] = str(Path(sys.executable).with_name(words[0]))  # the launcher of the environment under test
    if words[1:2] == ["launch"]:
        # accelerate's launcher listens on port 29500 unless told; a free one lets the test run beside other jobs
        words[2:2] = ["--main_process_port", str(free_port())]
    env = {
        **os.environ,
        **assigned,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HOME": str(tmp_path / "hf"),  # no accelerate config of this machine's user changes the launch
    }
    run_dir = tmp_path / "run"
    try:
        proc = subprocess.run(
            [*words, "--output", str(run_dir)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{command!r} did not finish in {TIMEOUT_S} s\n{err.stderr}")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    layout = "training on 2 processes (gloo, cpu): batch_size 8 per process = 16 per step"
    assert layout in output, output[-5000:]
    assert json.loads((run_dir / "best" / "training_info.json").read_text())["num_processes"] == 2
    # max_steps counts batches over both processes: each process took 2 of the 4
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [2]
