"""model.architecture: prompting end to end on a tiny causal LM: nlu train writes a prompt model directory,
nlu evaluate scores it with the shared evaluator (and reports parse failures), nlu predict parses with it."""

from __future__ import annotations

import json

import yaml
from cli_helpers import run_main
from nlu_testing import build_tiny_causal_lm

LABELS = {
    "intents": {
        "turn_on_device": "switch a device on",
        "turn_off_device": "switch a device off",
        "set_temperature": "set the heating to a temperature",
        "play_music": "play a song or an artist",
        "set_alarm": "set an alarm",
        "get_weather": "ask for the weather",
        "book_flight": "book a flight",
        "find_restaurant": "find a restaurant",
        "add_to_shopping_list": "add an item to the shopping list",
    },
    "slots": {"device": "a device", "room": "a room", "city": "a city"},
}


def test_prompting_recipe_trains_evaluates_and_predicts(tmp_path, monkeypatch, capsys):
    lm = build_tiny_causal_lm(tmp_path / "lm")
    labels = tmp_path / "labels.yml"
    labels.write_text(yaml.safe_dump(LABELS), encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "data": {"dataset": "demo", "dev_split": None},
                "model": {
                    "architecture": "prompting",
                    "prompting": {
                        "backend": {"type": "transformers", "model": str(lm)},
                        "labels": str(labels),
                    },
                },
                "output_dir": str(tmp_path / "run"),
            }
        ),
        encoding="utf-8",
    )
    code, _, err = run_main(monkeypatch, capsys, "train", recipe)
    assert code == 0, err
    best = tmp_path / "run" / "best"
    spec = json.loads((best / "prompting.json").read_text())
    assert spec["shots"] == 0 and len(spec["intents"]) == 9 and (best / "pool.jsonl").is_file()
    code, out, err = run_main(monkeypatch, capsys, "evaluate", best, "--data", "demo", "--split", "dev")
    assert code == 0, err
    assert "parse failures" in out and "hallucinated values" in out
    metrics = json.loads((tmp_path / "run" / "eval-demo-dev" / "metrics.json").read_text())
    assert metrics["prompting"]["utterances"] == 80 and metrics["prompting"]["intent_parse_failures"] == 0
    code, out, err = run_main(monkeypatch, capsys, "predict", best, "turn on the kitchen lights")
    assert code == 0, err
    assert json.loads(out)["intent"]["name"] in LABELS["intents"]


def test_prompting_needs_its_section(tmp_path):
    import pytest

    from nlu.errors import RecipeError
    from nlu.training.recipe import load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"dataset": "demo"}, "model": {"architecture": "prompting"}}))
    with pytest.raises(RecipeError, match="model.prompting: required"):
        load_recipe(recipe)


def test_lora_adapters_are_trained_saved_and_merged_on_load(tmp_path, monkeypatch, capsys):
    from nlu.prompting.local_backend import TransformersBackend
    from nlu.prompting.model_dir import load_prompt_predictor

    lm = build_tiny_causal_lm(tmp_path / "lm")
    labels = tmp_path / "labels.yml"
    labels.write_text(yaml.safe_dump(LABELS), encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"
    prompting = {
        "backend": {"type": "transformers", "model": str(lm)},
        "labels": str(labels),
        "lora": {"examples_per_intent": 2, "epochs": 2, "learning_rate": 1e-2},
    }
    recipe.write_text(
        yaml.safe_dump(
            {
                "data": {"dataset": "demo", "dev_split": None},
                "model": {"architecture": "prompting", "prompting": prompting},
                "output_dir": str(tmp_path / "run"),
            }
        ),
        encoding="utf-8",
    )
    code, _, err = run_main(monkeypatch, capsys, "train", recipe)
    assert code == 0, err
    best = tmp_path / "run" / "best"
    spec = json.loads((best / "prompting.json").read_text())
    assert spec["lora"]["examples"] == 18 and len(spec["lora"]["epoch_losses"]) == 2
    assert (best / "lora" / "adapter_config.json").is_file()
    tuned = load_prompt_predictor(best).backend
    base = TransformersBackend(lm)
    prompt, options = "the intent is", ["play some jazz music", "book a table"]
    assert tuned.score(prompt, options) != base.score(
        prompt, options
    )  # the merged adapters changed the model
