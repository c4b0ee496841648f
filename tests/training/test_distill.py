"""Knowledge distillation: a teacher's soft labels, computed once and cached beside it, train a student."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from nlu_testing import write_recipe

from nlu.errors import RecipeError
from nlu.training.distill import distillation_loss
from nlu.training.trainer import train


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_backbone):
    folder = tmp_path_factory.mktemp("teacher")
    recipe = write_recipe(
        folder / "recipe.yaml", tiny_backbone, training={"max_steps": 20, "learning_rate": 1e-2}
    )
    return train(recipe, output_dir=folder / "run").best_model_dir


def test_the_loss_is_zero_when_the_student_is_the_teacher():
    intent_logits = torch.tensor([[0.0, 2.0, -1.0]])
    slot_logits = torch.tensor([[[0.0, 1.0, 3.0], [0.0, 2.0, 0.5], [0.0, 0.0, 0.0]]])
    slot_labels = torch.tensor([[1, 2, -100]])
    intents = torch.softmax(intent_logits / 2.0, -1)
    tags = [torch.softmax(slot_logits[0, :2] / 2.0, -1)]
    assert distillation_loss(
        intent_logits, slot_logits, slot_labels, intents, tags, 2.0
    ).item() == pytest.approx(0.0, abs=1e-6)
    other = [torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])]
    assert distillation_loss(intent_logits, slot_logits, slot_labels, intents, other, 2.0).item() > 0.1


def test_a_student_learns_from_the_cached_teacher(tmp_path, tiny_backbone, teacher, monkeypatch):
    distill = {"teachers": [str(teacher)], "temperature": 2.0, "weight": 1.0}
    plain = write_recipe(tmp_path / "plain.yaml", tiny_backbone, training={"max_steps": 6})
    student = write_recipe(
        tmp_path / "student.yaml", tiny_backbone, training={"max_steps": 6, "distillation": distill}
    )
    without = train(plain, output_dir=tmp_path / "plain")
    first = train(student, output_dir=tmp_path / "student")
    caches = list((teacher / "distill-cache").glob("*.npz"))
    assert len(caches) == 1
    stored = np.load(caches[0])
    assert stored["intents"].shape[0] == 480 and np.allclose(stored["intents"].sum(1), 1.0, atol=1e-4)

    # the distillation loss is in the student's training loss
    def loss(run) -> list[float]:
        lines = (run.run_dir / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line)["train_loss"] for line in lines]

    assert loss(first) != loss(without)

    # a second student reads the cache: the teacher is not run again
    import nlu.training.distill

    def no_teacher(*args, **kwargs):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(nlu.training.distill, "_teacher_pass", no_teacher)
    again = train(student, output_dir=tmp_path / "student-again")
    assert loss(again) == loss(first)


def test_a_teacher_with_other_labels_is_refused(tmp_path, tiny_backbone, teacher):
    small = tmp_path / "small"
    small.mkdir()
    from nlu.data.demo import DEMO_DIR

    for split in ("train", "dev"):  # one intent only: the teacher knows ten
        lines = (DEMO_DIR / f"{split}.jsonl").read_text().splitlines()
        first = json.loads(lines[0])["intent"]
        kept = [line for line in lines if json.loads(line)["intent"] == first]
        (small / f"{split}.jsonl").write_text("\n".join(kept) + "\n")
    recipe = write_recipe(
        tmp_path / "r.yaml",
        tiny_backbone,
        data={"dataset": str(small)},
        training={"max_steps": 2, "distillation": {"teachers": [str(teacher)]}},
    )
    with pytest.raises(RecipeError, match="other labels"):
        train(recipe, output_dir=tmp_path / "run")


def test_a_missing_teacher_names_the_key(tmp_path, tiny_backbone):
    recipe = write_recipe(
        tmp_path / "r.yaml",
        tiny_backbone,
        training={"max_steps": 2, "distillation": {"teachers": [str(tmp_path / "no-teacher")]}},
    )
    with pytest.raises(
        RecipeError, match=r"training.distillation.teachers\[0\]: .*no-teacher: no trained model"
    ):
        train(recipe, output_dir=tmp_path / "run")


def test_an_ensemble_of_teachers_averages_their_distributions(tmp_path, tiny_backbone, teacher):
    from nlu.data.demo import DEMO_DIR
    from nlu.data.formats import read_examples
    from nlu.models import load_model
    from nlu.training.distill import teacher_targets

    recipe = write_recipe(
        tmp_path / "recipe.yaml", tiny_backbone, training={"max_steps": 20, "learning_rate": 1e-2, "seed": 11}
    )
    other = train(recipe, output_dir=tmp_path / "other").best_model_dir
    examples = read_examples(DEMO_DIR / "dev.jsonl")[:12]
    config = load_model(teacher).config
    labels = (config.intent_labels, config.slot_labels)
    one, two = (teacher_targets([t], examples, *labels, 2.0) for t in (teacher, other))
    both = teacher_targets([teacher, other], examples, *labels, 2.0)
    assert not np.allclose(one.intents, two.intents)  # two different teachers
    assert np.allclose(both.intents, (one.intents + two.intents) / 2, atol=1e-6)
    for a, b, mean in zip(one.tags, two.tags, both.tags, strict=True):
        assert np.allclose(mean, (a + b) / 2, atol=1e-6) and np.allclose(mean.sum(-1), 1.0, atol=1e-4)
