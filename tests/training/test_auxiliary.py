"""Auxiliary token-level tasks on the shared encoder: joint training (the loss includes them, only the main
model is saved, a resumed run matches an uninterrupted one) and intermediate training (the encoder is trained
on them first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from nlu_testing import write_recipe
from safetensors.torch import load_file

from nlu.training.checkpoints import list_checkpoints
from nlu.training.recipe import load_recipe
from nlu.training.trainer import TrainerState, train

ASSETS = Path(__file__).resolve().parents[1] / "assets"
AUXILIARY = [
    {"name": "ner", "file": str(ASSETS / "conll_ner" / "train.txt"), "format": "conll_ner", "weight": 2.0}
]


class Crash(Exception):
    pass


def recipe_with(tmp_path: Path, tiny_backbone, schedule: str, **training) -> Path:
    return write_recipe(
        tmp_path / "recipe.yaml",
        tiny_backbone,
        data={"dataset": "demo", "auxiliary": AUXILIARY},
        training={"max_steps": 8, "checkpoint_every": 4, "auxiliary_schedule": schedule, **training},
    )


def test_an_auxiliary_task_needs_one_source(tmp_path, tiny_backbone):
    from nlu.errors import RecipeError

    recipe = write_recipe(
        tmp_path / "r.yaml", tiny_backbone, data={"dataset": "demo", "auxiliary": [{"name": "x"}]}
    )
    with pytest.raises(RecipeError, match="data.auxiliary.0: .*either dataset or file"):
        load_recipe(recipe)


def test_joint_training_adds_the_auxiliary_loss_and_saves_the_main_model_only(tmp_path, tiny_backbone):
    plain = train(
        write_recipe(tmp_path / "plain.yaml", tiny_backbone, training={"max_steps": 8}),
        output_dir=tmp_path / "p",
    )
    joint = train(recipe_with(tmp_path, tiny_backbone, "joint"), output_dir=tmp_path / "j")
    checkpoint = load_file(list_checkpoints(tmp_path / "j")[-1] / "model.safetensors")
    assert any(k.startswith("heads.ner.") for k in checkpoint)  # trained and checkpointed with the rest
    best = load_file(joint.best_model_dir / "model.safetensors")
    assert (
        not any("heads." in k for k in best)
        and best.keys() == load_file(plain.best_model_dir / "model.safetensors").keys()
    )

    def first_loss(run: Path) -> float:
        return json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["train_loss"]

    assert first_loss(tmp_path / "j") > first_loss(tmp_path / "p")  # + 2.0 x the NER cross-entropy


def test_joint_training_resumes_exactly(tmp_path, tiny_backbone):
    recipe = recipe_with(tmp_path, tiny_backbone, "joint")
    train(recipe, output_dir=tmp_path / "straight")

    def crash(state: TrainerState) -> None:
        if state.global_step == 4:
            raise Crash

    with pytest.raises(Crash):
        train(recipe, output_dir=tmp_path / "resumed", on_step_end=crash)
    train(recipe, output_dir=tmp_path / "resumed", resume=True)
    a = load_file(list_checkpoints(tmp_path / "straight")[-1] / "model.safetensors")
    b = load_file(list_checkpoints(tmp_path / "resumed")[-1] / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_intermediate_training_starts_from_an_encoder_trained_on_the_auxiliary_task(
    tmp_path, tiny_backbone, caplog
):
    import logging

    with caplog.at_level(logging.INFO, logger="nlu.training.auxiliary"):
        run = train(
            recipe_with(tmp_path, tiny_backbone, "intermediate", auxiliary_epochs=2),
            output_dir=tmp_path / "i",
        )
    assert "auxiliary pre-training, epoch 2" in caplog.text
    assert not any("heads." in k for k in load_file(run.best_model_dir / "model.safetensors"))


def test_intent_map_renames_intents_before_training(tmp_path, tiny_backbone):
    recipe = write_recipe(
        tmp_path / "r.yaml",
        tiny_backbone,
        data={"dataset": "demo", "intent_map": {"get_weather": "weather/find"}},
        training={"max_steps": 2},
    )
    best = train(recipe, output_dir=tmp_path / "run").best_model_dir
    intents = (best / "intent_labels.txt").read_text().split()
    assert "weather/find" in intents and "get_weather" not in intents
