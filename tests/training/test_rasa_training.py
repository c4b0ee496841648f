"""A model trained on Rasa NLU data: roles and groups as labels that come back as fields of the entity, the
training data's synonyms and regexes saved with the model and exported with it, lookup tables as gazetteer
features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nlu_testing import write_recipe

from nlu.errors import RecipeError

RASA = Path(__file__).resolve().parents[1] / "assets" / "rasa" / "full.yml"


@pytest.fixture(scope="module")
def rasa_model(tmp_path_factory, tiny_backbone) -> Path:
    from nlu.training.trainer import train

    folder = tmp_path_factory.mktemp("rasa-run")
    recipe = write_recipe(
        folder / "recipe.yaml",
        tiny_backbone,
        data={"files": {"train": str(RASA), "dev": str(RASA)}},
        model={"lexicon": {"lookup_tables": True}},
        training={
            "max_steps": 60,
            "epochs": 30,
            "batch_size": 16,
            "learning_rate": 1e-2,
            "warmup_ratio": 0.0,
        },
    )
    del_dataset(recipe)
    return train(recipe, output_dir=folder / "run").best_model_dir


def del_dataset(recipe: Path) -> None:
    import yaml

    spec = yaml.safe_load(recipe.read_text())
    spec["data"].pop("dataset")
    recipe.write_text(yaml.safe_dump(spec))


def test_roles_and_groups_are_labels_and_come_back_as_fields(rasa_model):
    from nlu.inference import TorchParser

    slot_labels = (rasa_model / "slot_labels.txt").read_text().split()
    assert {"B-city#destination", "B-city#departure", "B-city", "B-size@1", "B-topping@2"} <= set(slot_labels)
    parser = TorchParser.load(rasa_model)
    # a training utterance, which the tiny model has learned
    prediction = parser.parse("fly from Boston to New York")
    assert [(e.entity, e.role, e.value) for e in prediction.entities] == [
        ("city", "departure", "Boston"),
        ("city", "destination", "New York"),
    ]
    assert [e.to_dict()["role"] for e in prediction.entities] == ["departure", "destination"]


def test_synonyms_regexes_and_lookups_travel_with_the_model(rasa_model, tmp_path):
    from nlu.export import export_model
    from nlu.inference import TorchParser
    from nlu.runtime import OnnxParser

    synonyms = json.loads((rasa_model / "synonyms.json").read_text())["synonyms"]
    assert synonyms == {"nyc": "New York", "new york city": "New York", "the big apple": "New York"}
    assert json.loads((rasa_model / "regexes.json").read_text()) == {
        "regexes": [{"entity": "zipcode", "pattern": r"\b\d{5}\b"}]
    }
    assert json.loads((rasa_model / "lexicon.json").read_text())["types"] == ["topping"]
    assert "entity synonyms (3), regexes (1), gazetteer types (1)" in (rasa_model / "README.md").read_text()
    export_model(rasa_model, tmp_path / "artifact")
    manifest = json.loads((tmp_path / "artifact" / "nlu.json").read_text())
    assert {"synonyms.json", "regexes.json", "lexicon.json", "README.md"} <= set(manifest["files"])
    for parser in (TorchParser.load(rasa_model), OnnxParser.load(tmp_path / "artifact")):
        text = "i want to go to NYC , zip 10115"
        prediction = parser.parse(text)
        on_the_number = [e for e in prediction.entities if e.start <= text.index("10115") < e.end]
        # the regex's entity, unless the model tagged the number itself (the model wins on overlap)
        found = [(e.entity, e.value, e.extractor) for e in on_the_number]
        assert found == [("zipcode", "10115", "RegexEntityExtractor")] or found[0][2] == "nlu-toolkit"
        nyc = [e for e in prediction.entities if prediction.text[e.start : e.end] == "NYC"]
        assert all(e.value == "New York" and e.processors == ["EntitySynonymMapper"] for e in nyc)


def test_lookup_tables_need_rasa_data(tmp_path, tiny_backbone):
    from nlu.training.trainer import train

    recipe = write_recipe(tmp_path / "recipe.yaml", tiny_backbone, model={"lexicon": {"lookup_tables": True}})
    with pytest.raises(RecipeError, match="no lookup tables"):
        train(recipe, output_dir=tmp_path / "run")


def test_the_rasa_example_validates_and_keeps_roles_synonyms_and_regexes(monkeypatch):
    """examples/rasa (the README's Rasa walk-through) is read from the checkout root as its recipe says."""
    from nlu.data.rasa_yaml import training_extras
    from nlu.training.parser_task import load_data
    from nlu.training.recipe import check_recipe, load_recipe

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)
    path = repo / "examples" / "rasa" / "recipe.yaml"
    assert check_recipe(path) == []
    data = load_data(load_recipe(path))
    tags = {tag for ex in data.train for tag in ex.tags}
    assert {"B-city#departure", "B-city#destination", "B-zipcode"} <= tags
    extras = training_extras(data.train)
    assert ("NYC", "New York") in [tuple(pair) for pair in extras.synonyms]
    assert extras.regexes
