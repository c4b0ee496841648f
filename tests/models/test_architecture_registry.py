"""The architecture registry: every architecture declares itself once, and the recipe schema, the builder, the
loader and the exporter all read that declaration."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from nlu.errors import RecipeError
from nlu.models.options import JointOptions
from nlu.models.registry import FOLDERS, architectures, get_architecture
from nlu.training.recipe import ModelSection, load_recipe

NAMES = list(architectures())


def test_every_folder_declares_one_architecture_under_its_own_name():
    assert list(FOLDERS) == NAMES
    for name, declared in architectures().items():
        assert declared.config_class.model_type == declared.model_type == f"nlu-{name}"
        assert declared.model_class.config_class is declared.config_class
        assert get_architecture(declared.model_type) is declared


@pytest.mark.parametrize("name", NAMES)
def test_the_options_a_recipe_writes_are_the_configurations_arguments(name):
    """A recipe's options reach the configuration under the same names, and its defaults are the options'."""
    declared = architectures()[name]
    options = declared.options().model_dump() if declared.options else {}
    options.pop("label_file", None)  # read by the zero-shot builder, not a configuration field
    config = declared.config_class(**options)
    for key, value in options.items():
        assert getattr(config, key) == value, key
    shared = JointOptions()
    assert config.classifier_dropout == shared.classifier_dropout
    assert config.max_seq_length == shared.max_length


def test_the_recipe_schema_is_derived_from_the_registry():
    field = ModelSection.model_fields["architecture"]
    assert list(field.annotation.__args__) == [*NAMES, "prompting"]
    for name, declared in architectures().items():
        assert (name in ModelSection.model_fields) == (declared.options is not None)


def _recipe(tmp_path, **model) -> object:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"data": {"dataset": "demo"}, "model": model}), encoding="utf-8")
    return load_recipe(path)


def test_an_architectures_own_default_for_a_shared_option(tmp_path):
    """A JointIDSF recipe without use_crf trained without a CRF, though the model's default is one."""
    assert _recipe(tmp_path, architecture="jointidsf").model.use_crf is True
    assert _recipe(tmp_path, architecture="jointbert").model.use_crf is False
    assert _recipe(tmp_path, architecture="jointidsf", use_crf=False).model.use_crf is False


def test_a_shared_option_an_architecture_cannot_change(tmp_path):
    with pytest.raises(RecipeError, match="model.use_crf: the zero-shot model has no CRF"):
        _recipe(tmp_path, architecture="zeroshot", use_crf=True)
    assert _recipe(tmp_path, architecture="zeroshot").model.use_crf is False


def test_options_of_another_architecture_are_refused(tmp_path):
    with pytest.raises(
        RecipeError, match="model.slotrefine options apply only with architecture: slotrefine"
    ):
        _recipe(tmp_path, architecture="jointbert", slotrefine={"layers": 2})


def test_recipe_validation_and_the_registry_load_no_torch():
    code = (
        "import sys\n"
        "from nlu.training.recipe import load_recipe\n"
        "import nlu.models, nlu.models.registry\n"
        "nlu.models.registry.architectures()\n"
        "load_recipe('recipes/atis/jointidsf.yaml')\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
