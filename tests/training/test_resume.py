"""Resuming: a run interrupted after a checkpoint and continued with ``resume=True`` ends with exactly the weights
and dev metrics of a run that was never interrupted. Also: Ctrl-C, and the run-directory guards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from nlu_testing import write_recipe
from safetensors.torch import load_file

from nlu.data.demo import DEMO_DIR
from nlu.errors import InterruptedRun, NLUError, RecipeError
from nlu.training.checkpoints import RunDirBusy, list_checkpoints, run_dir_lock
from nlu.training.trainer import TrainerState, train


class Crash(Exception):
    """Stands for a process that dies (OOM, pre-emption) between two steps."""


def stop_at(step: int, error: BaseException):
    def callback(state: TrainerState) -> None:
        if state.global_step == step:
            raise error

    return callback


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The weights at the end of training: the last checkpoint's model."""
    return load_file(list_checkpoints(run_dir)[-1] / "model.safetensors")


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.allclose(a[k], b[k], rtol=0, atol=1e-6)]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def dev_history(run_dir: Path) -> list[tuple[int, int, float, dict]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["epoch"], r["step"], round(r["train_loss"], 6), r["dev"]) for r in records]


def interrupted_then_resumed(recipe: Path, run_dir: Path, step: int) -> None:
    with pytest.raises(Crash):
        train(recipe, output_dir=run_dir, on_step_end=stop_at(step, Crash()))
    assert list_checkpoints(run_dir)[-1].name == f"step-{step:07d}"
    train(recipe, output_dir=run_dir, resume=True)


# --------------------------------------------------------------------------------------- one epoch, max_steps


@pytest.fixture(scope="module")
def short_recipe(tmp_path_factory, tiny_backbone) -> Path:
    """12 steps of one epoch on DEMO (30 batches an epoch), a checkpoint every 4 steps."""
    folder = tmp_path_factory.mktemp("resume-short")
    return write_recipe(
        folder / "recipe.yaml", tiny_backbone, training={"max_steps": 12, "checkpoint_every": 4, "epochs": 1}
    )


@pytest.fixture(scope="module")
def uninterrupted(short_recipe) -> Path:
    run_dir = short_recipe.parent / "uninterrupted"
    train(short_recipe, output_dir=run_dir)
    return run_dir


def test_resume_mid_epoch_matches_an_uninterrupted_run(short_recipe, uninterrupted):
    run_dir = short_recipe.parent / "crashed-at-8"
    interrupted_then_resumed(short_recipe, run_dir, step=8)

    assert_same_weights(final_weights(run_dir), final_weights(uninterrupted))
    assert_same_weights(
        load_file(run_dir / "best" / "model.safetensors"),
        load_file(uninterrupted / "best" / "model.safetensors"),
    )
    assert dev_history(run_dir) == dev_history(uninterrupted)
    state = TrainerState.load(list_checkpoints(run_dir)[-1] / "trainer_state.json")
    assert state.finished and state.global_step == 12


def test_ctrl_c_writes_a_checkpoint_that_resumes_exactly(short_recipe, uninterrupted):
    run_dir = short_recipe.parent / "ctrl-c-at-6"
    with pytest.raises(InterruptedRun, match="--resume"):
        train(short_recipe, output_dir=run_dir, on_step_end=stop_at(6, KeyboardInterrupt()))
    # step 6 is no multiple of checkpoint_every: this checkpoint was written because of the interruption
    assert list_checkpoints(run_dir)[-1].name == "step-0000006"
    state = TrainerState.load(list_checkpoints(run_dir)[-1] / "trainer_state.json")
    assert (state.global_step, state.step_in_epoch, state.finished) == (6, 6, False)
    assert not (run_dir / "metrics.jsonl").exists()

    train(short_recipe, output_dir=run_dir, resume=True)
    assert_same_weights(final_weights(run_dir), final_weights(uninterrupted))
    assert dev_history(run_dir) == dev_history(uninterrupted)


# --------------------------------------------------------------------------------------- several epochs


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    """48 DEMO training utterances (3 batches of 16) and 16 dev utterances, so that epochs are cheap."""
    folder = tmp_path_factory.mktemp("small-demo")
    for split, n in (("train", 48), ("dev", 16)):
        lines = (DEMO_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:n]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "crash_at",
    [
        4,  # epoch 2, after its first batch: the resumed run must replay epoch 2's batch order, not epoch 1's
        6,  # the last step of epoch 2, before that epoch's evaluation
    ],
)
def test_resume_across_epochs_matches_an_uninterrupted_run(tmp_path, tiny_backbone, small_dataset, crash_at):
    recipe = write_recipe(
        tmp_path / "recipe.yaml",
        tiny_backbone,
        data={"dataset": str(small_dataset)},
        training={"max_steps": None, "epochs": 3, "checkpoint_every": 2, "keep_checkpoints": 1},
    )
    train(recipe, output_dir=tmp_path / "uninterrupted")
    interrupted_then_resumed(recipe, tmp_path / "resumed", step=crash_at)

    assert_same_weights(final_weights(tmp_path / "resumed"), final_weights(tmp_path / "uninterrupted"))
    assert_same_weights(
        load_file(tmp_path / "resumed" / "best" / "model.safetensors"),
        load_file(tmp_path / "uninterrupted" / "best" / "model.safetensors"),
    )
    history = dev_history(tmp_path / "resumed")
    assert [(epoch, step) for epoch, step, _, _ in history] == [(1, 3), (2, 6), (3, 9)]
    assert history == dev_history(tmp_path / "uninterrupted")


# --------------------------------------------------------------------------------------- run-directory guards


def test_resume_without_a_checkpoint_is_a_recipe_error(tmp_path, tiny_backbone):
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone)
    with pytest.raises(RecipeError, match="nothing to resume"):
        train(recipe, output_dir=tmp_path / "never-ran", resume=True)


def test_an_existing_run_is_not_overwritten_by_accident(tmp_path, tiny_backbone):
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, training={"max_steps": 2})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"epoch": 1, "step": 99}\n')
    with pytest.raises(RecipeError, match="--resume.*--overwrite"):
        train(recipe, output_dir=run_dir)
    assert (run_dir / "metrics.jsonl").read_text() == '{"epoch": 1, "step": 99}\n'

    train(recipe, output_dir=run_dir, overwrite=True)
    assert [step for _, step, _, _ in dev_history(run_dir)] == [2]  # the stale line went away


def test_a_resumed_runs_training_time_counts_the_time_before_the_interruption(short_recipe):
    run_dir = short_recipe.parent / "timed-crash-at-8"
    with pytest.raises(Crash):
        train(short_recipe, output_dir=run_dir, on_step_end=stop_at(8, Crash()))
    before = TrainerState.load(list_checkpoints(run_dir)[-1] / "trainer_state.json").train_seconds
    assert before > 0
    result = train(short_recipe, output_dir=run_dir, resume=True)
    assert result.train_seconds > before  # not only the resumed process's share
    assert json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["seconds"] > before


def test_resume_from_the_checkpoint_of_the_last_step_trains_no_extra_step(short_recipe, uninterrupted):
    """max_steps (12) ends mid-epoch; a crash right after step 12's checkpoint used to train a 13th step."""
    run_dir = short_recipe.parent / "crashed-at-12"
    interrupted_then_resumed(short_recipe, run_dir, step=12)
    assert_same_weights(final_weights(run_dir), final_weights(uninterrupted))
    assert dev_history(run_dir) == dev_history(uninterrupted)


def test_a_crash_between_the_evaluation_and_the_checkpoint_logs_each_epoch_once(
    tmp_path, tiny_backbone, small_dataset, monkeypatch
):
    """The process dies after epoch 1's evaluation was logged but before its checkpoint: the resumed run
    repeats that evaluation, and metrics.jsonl must still hold each epoch once."""
    import nlu.training.loop as trainer

    recipe = write_recipe(
        tmp_path / "recipe.yaml",
        tiny_backbone,
        data={"dataset": str(small_dataset)},
        training={"max_steps": None, "epochs": 3, "checkpoint_every": 2},
    )
    train(recipe, output_dir=tmp_path / "uninterrupted")

    real_write = trainer.write_dir_atomically

    def dies_writing_the_best_model(target, write):
        raise Crash  # like kill -9 inside save_best: metrics.jsonl has the epoch, no checkpoint does

    monkeypatch.setattr(trainer, "write_dir_atomically", dies_writing_the_best_model)
    with pytest.raises(Crash):
        train(recipe, output_dir=tmp_path / "resumed")
    assert [r[0] for r in dev_history(tmp_path / "resumed")] == [1]  # logged; the last checkpoint is step 2
    assert list_checkpoints(tmp_path / "resumed")[-1].name == "step-0000002"
    monkeypatch.setattr(trainer, "write_dir_atomically", real_write)
    train(recipe, output_dir=tmp_path / "resumed", resume=True)

    history = dev_history(tmp_path / "resumed")
    assert [epoch for epoch, _, _, _ in history] == [1, 2, 3]
    assert history == dev_history(tmp_path / "uninterrupted")


def test_a_damaged_checkpoint_is_named_and_an_older_one_offered(short_recipe):
    run_dir = short_recipe.parent / "damaged"
    with pytest.raises(Crash):
        train(short_recipe, output_dir=run_dir, on_step_end=stop_at(8, Crash()))
    older, newest = list_checkpoints(run_dir)[-2:]
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated, as by a full disk
    with pytest.raises(NLUError) as err:
        train(short_recipe, output_dir=run_dir, resume=True)
    message = str(err.value)
    assert str(newest) in message and "model.safetensors" in message and "damaged" in message
    assert f"the older checkpoint {older.name} reads fine" in message

    # following the advice resumes from the older checkpoint
    newest.rename(run_dir / f"damaged-{newest.name}")
    train(short_recipe, output_dir=run_dir, resume=True)
    assert TrainerState.load(list_checkpoints(run_dir)[-1] / "trainer_state.json").global_step == 12


def test_a_second_run_into_a_busy_directory_stops_and_deletes_nothing(short_recipe):
    """A second `nlu train` (with or without --overwrite) into a directory that a run is training in: today
    one dies with a traceback, and --overwrite deleted the running run's checkpoints."""
    run_dir = short_recipe.parent / "busy"
    seen: list[str] = []

    def second_run(state: TrainerState) -> None:
        if state.global_step == 5:  # the first run has a checkpoint (step 4) by now
            for overwrite in (False, True):
                with pytest.raises(RunDirBusy, match="another training run is using this directory") as err:
                    train(short_recipe, output_dir=run_dir, overwrite=overwrite)
                seen.append(str(err.value))
            assert [c.name for c in list_checkpoints(run_dir)] == ["step-0000004"]

    train(short_recipe, output_dir=run_dir, on_step_end=second_run)
    assert len(seen) == 2 and f"pid {os.getpid()}" in seen[0]
    train(short_recipe, output_dir=run_dir, overwrite=True)  # the lock went with the first run


def test_a_killed_run_leaves_no_stuck_lock(tmp_path, short_recipe):
    run_dir = tmp_path / "killed"
    code = (
        "import os, signal, sys\n"
        "from nlu.training.checkpoints import run_dir_lock\n"
        f"with run_dir_lock(__import__('pathlib').Path({str(run_dir)!r})):\n"
        "    (__import__('pathlib').Path(sys.argv[1]) / 'x').write_text('1')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(run_dir)], timeout=60)
    assert result.returncode == -signal.SIGKILL
    assert (run_dir / ".lock").is_file()
    with run_dir_lock(run_dir):  # free again: the kernel dropped the dead process's lock
        pass


def test_truncated_training_and_dev_utterances_are_counted_once(tmp_path, tiny_backbone, caplog):
    """Training cut over-long utterances silently."""
    recipe = write_recipe(
        tmp_path / "recipe.yaml", tiny_backbone, model={"max_length": 8}, training={"max_steps": 2}
    )
    with caplog.at_level("WARNING", logger="nlu"):
        train(recipe, output_dir=tmp_path / "run")
    messages = [r.getMessage() for r in caplog.records if "longer than max_length=8" in r.getMessage()]
    assert len(messages) == 2  # one for the training split, one for dev; not one per epoch or batch
    assert " of 480 training utterances" in messages[0] and "Raise model.max_length" in messages[0]
    assert " of 80 dev utterances" in messages[1]
