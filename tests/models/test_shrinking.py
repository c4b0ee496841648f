"""A smaller student from a trained model (model.init_from, model.encoder_layers): the layers kept are the
trained ones, the heads come along, the saved model loads with its own depth, exports, and trains with the
trained model as its distillation teacher."""

from __future__ import annotations

import json

import pytest
import torch
from nlu_testing import MIXED_TRAINING, write_recipe

from nlu.errors import ModelError, RecipeError
from nlu.models import load_model, save_model
from nlu.models.shrinking import keep_encoder_layers, spaced_layers, start_from


def test_spaced_layers_end_with_the_top_one():
    assert spaced_layers(6, 3) == [1, 3, 5]
    assert spaced_layers(6, 2) == [2, 5]
    assert spaced_layers(6, 6) == list(range(6))
    assert spaced_layers(12, 4) == [2, 5, 8, 11]
    with pytest.raises(ModelError, match="cannot keep 7 of 6"):
        spaced_layers(6, 7)


def test_a_student_keeps_the_trained_layers_and_heads(tiny_mixed_model_dir, tmp_path):
    trained_dir = tiny_mixed_model_dir(True)
    trained = load_model(trained_dir)
    total = trained.encoder.config.num_hidden_layers
    student = load_model(trained_dir)
    for parameter in student.parameters():  # start from something else, as a freshly built model does
        torch.nn.init.normal_(parameter)
    assert start_from(student, trained_dir, 1) == [total - 1]
    assert len(student.encoder.encoder.layer) == 1 and student.config.encoder["num_hidden_layers"] == 1
    top, kept = (
        trained.encoder.encoder.layer[total - 1].state_dict(),
        student.encoder.encoder.layer[0].state_dict(),
    )
    assert all(torch.equal(top[name], kept[name]) for name in top)
    assert torch.equal(student.crf.transitions, trained.crf.transitions)
    save_model(student, tmp_path / "student")
    reloaded = load_model(tmp_path / "student")
    assert reloaded.encoder.config.num_hidden_layers == 1
    assert json.loads((tmp_path / "student" / "config.json").read_text())["encoder"]["num_hidden_layers"] == 1
    ids = torch.tensor([[2, 5, 7, 3]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a, b = (
            student.eval()(input_ids=ids, attention_mask=mask),
            reloaded.eval()(input_ids=ids, attention_mask=mask),
        )
    assert torch.allclose(a.intent_logits, b.intent_logits) and torch.allclose(a.slot_logits, b.slot_logits)


def test_bad_layer_lists_and_other_labels_are_refused(tiny_mixed_model_dir, tiny_model_dir):
    model = load_model(tiny_mixed_model_dir(True))
    with pytest.raises(ModelError, match="increasing list"):
        keep_encoder_layers(model, [1, 0])
    with pytest.raises(ModelError, match="increasing list"):
        keep_encoder_layers(model, [5])
    other = load_model(tiny_model_dir)
    other.config.intent_labels = [*other.config.intent_labels, "something_new"]
    with pytest.raises(ModelError, match="other intent labels"):
        start_from(other, tiny_mixed_model_dir(True), None)


def test_a_distilled_student_trains_and_exports(tiny_mixed_model_dir, tiny_backbone, tmp_path):
    from nlu.export import export_model
    from nlu.runtime import Parser
    from nlu.training.trainer import train

    teacher = tiny_mixed_model_dir(True)
    recipe = write_recipe(
        tmp_path / "recipe.yaml",
        tiny_backbone,
        model={"init_from": str(teacher), "encoder_layers": 1},
        training=MIXED_TRAINING | {"max_steps": 8, "distillation": {"teachers": [str(teacher)]}},
    )
    best = train(recipe, output_dir=tmp_path / "run").best_model_dir
    assert load_model(best).encoder.config.num_hidden_layers == 1
    export_model(best, tmp_path / "artifact", optimize=False)
    parser = Parser.load(tmp_path / "artifact")
    assert parser.parse("play some jazz").text == "play some jazz"


def test_validate_names_a_missing_init_from(tiny_backbone, tmp_path):
    from nlu.training.recipe import check_recipe, load_recipe

    recipe = write_recipe(
        tmp_path / "recipe.yaml", tiny_backbone, model={"init_from": str(tmp_path / "nothing")}
    )
    problems = check_recipe(recipe)
    assert any("model.init_from" in p and "no trained model there" in p for p in problems)
    bad = write_recipe(tmp_path / "bad.yaml", tiny_backbone, model={"encoder_layers": "three"})
    with pytest.raises(RecipeError, match="model.encoder_layers"):
        load_recipe(bad)


def test_training_without_the_model_to_start_from_names_the_key(tiny_backbone, tmp_path):
    from nlu.training.trainer import train

    recipe = write_recipe(
        tmp_path / "recipe.yaml", tiny_backbone, model={"init_from": str(tmp_path / "nothing")}
    )
    with pytest.raises(RecipeError, match="model.init_from: .*nothing: no trained model there"):
        train(recipe, output_dir=tmp_path / "run")


@pytest.mark.parametrize(
    ("layers", "says"), [(0, "at least one layer"), ([], "at least one layer"), ([3, 1], "increasing")]
)
def test_encoder_layers_that_keep_nothing_or_repeat_are_refused(tiny_backbone, tmp_path, layers, says):
    from nlu.training.recipe import load_recipe

    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, model={"encoder_layers": layers})
    with pytest.raises(RecipeError, match=says):
        load_recipe(recipe)


def test_a_student_is_started_from_a_full_depth_model_only(tiny_mixed_model_dir, tmp_path):
    student = load_model(tiny_mixed_model_dir(True))
    start_from(student, None, 1)
    save_model(student, tmp_path / "shrunk")
    fresh = load_model(tiny_mixed_model_dir(True))
    with pytest.raises(ModelError, match="start a student from a full-depth model"):
        start_from(fresh, tmp_path / "shrunk", None)


def test_a_multi_task_recipe_refuses_a_student(tiny_backbone, tmp_path):
    from nlu.training.recipe import load_recipe

    tasks = {"tasks": [{"name": "a", "dataset": "demo"}, {"name": "b", "dataset": "demo"}]}
    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, data=tasks, model={"encoder_layers": 1})
    spec = recipe.read_text().replace("  dataset: demo\n", "", 1)
    recipe.write_text(spec)
    with pytest.raises(RecipeError, match="model.encoder_layers: not combined with data.tasks"):
        load_recipe(recipe)
