"""``training.layer_lr_decay``: lower encoder layers learn slower than upper ones, heads at their own rate."""

from __future__ import annotations

import pytest
from nlu_testing import write_recipe

from nlu.data.labels import UNK, LabelVocab
from nlu.models import build_model
from nlu.training.parser_task import parameter_groups
from nlu.training.recipe import load_recipe

LABELS = LabelVocab(intents=[UNK, "a", "b"], slots=[UNK, "O", "B-x", "I-x"])


def _rates(model, recipe) -> dict[str, float]:
    ids = {id(p): name for name, p in model.named_parameters()}
    return {ids[id(p)]: group["lr"] for group in parameter_groups(model, recipe) for p in group["params"]}


def test_each_layer_learns_at_its_depths_rate(tmp_path, tiny_backbone):
    recipe = load_recipe(
        write_recipe(
            tmp_path / "r.yaml",
            tiny_backbone,
            training={"learning_rate": 1e-3, "head_learning_rate": 1e-2, "layer_lr_decay": 0.5},
        )
    )
    model = build_model("jointbert", str(tiny_backbone), LABELS)
    layers = model.encoder.config.num_hidden_layers
    rates = _rates(model, recipe)
    assert len(rates) == sum(1 for p in model.parameters() if p.requires_grad)
    for name, lr in rates.items():
        if not name.startswith("encoder."):
            assert lr == 1e-2, name  # heads and CRF: head_learning_rate, no decay
        elif ".layer." in name:
            k = int(name.split(".layer.")[1].split(".")[0])  # 0-based
            assert lr == pytest.approx(1e-3 * 0.5 ** (layers - k)), name
        elif "embeddings" in name:
            assert lr == pytest.approx(1e-3 * 0.5 ** (layers + 1)), name
    top = f"encoder.encoder.layer.{layers - 1}.output.dense.weight"
    assert (
        rates[top] == pytest.approx(5e-4) and rates["encoder.embeddings.word_embeddings.weight"] < rates[top]
    )


def test_off_by_default_with_the_groups_of_before(tmp_path, tiny_backbone):
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_backbone, training={"learning_rate": 1e-3}))
    assert recipe.training.layer_lr_decay == 1.0
    model = build_model("jointbert", str(tiny_backbone), LABELS)
    groups = parameter_groups(model, recipe)
    # encoder with / without weight decay, heads with / without: four groups, as before the option existed
    assert [(g["lr"], g["weight_decay"]) for g in groups] == [
        (1e-3, 0.01),
        (1e-3, 0.0),
        (1e-2, 0.01),
        (1e-2, 0.0),
    ]


@pytest.mark.parametrize("value", [0.0, 1.5])
def test_a_decay_outside_0_1_is_a_recipe_error(tmp_path, tiny_backbone, value):
    from nlu.errors import RecipeError

    path = write_recipe(tmp_path / "r.yaml", tiny_backbone, training={"layer_lr_decay": value})
    with pytest.raises(RecipeError, match="training.layer_lr_decay"):
        load_recipe(path)
