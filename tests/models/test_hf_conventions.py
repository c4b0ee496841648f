"""What a Hugging Face user finds in a trained model directory and an artifact: ``auto_map`` that loads the model
with transformers alone, ``id2label``/``label2id`` for the intents, and a model card with the usual metadata."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from nlu.model_card import read_card


def test_automodel_loads_a_trained_model_without_importing_nlu_first(tiny_model_dir):
    """It failed with "unrecognized model type nlu-jointbert" unless nlu.models was imported first."""
    code = (
        "import sys\n"
        "from transformers import AutoConfig, AutoModel\n"
        f"model = AutoModel.from_pretrained({str(tiny_model_dir)!r}, trust_remote_code=True)\n"
        "print(type(model).__module__, type(model).__name__, model.config.id2label[1])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    module, name, first_intent = result.stdout.split()
    assert (module, name) == (
        "nlu.models.jointbert.modeling_jointbert",
        "JointBertForIntentSlot",
    )  # nlu's own
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "modeling_nlu.JointBertConfig",
        "AutoModel": "modeling_nlu.JointBertForIntentSlot",
    }
    assert first_intent == config["intent_labels"][1]


def test_id2label_and_label2id_are_the_intents(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["id2label"] == {str(i): name for i, name in enumerate(config["intent_labels"])}
    assert config["label2id"] == {name: i for i, name in enumerate(config["intent_labels"])}


def test_training_writes_a_model_card_with_metadata_and_the_command(tiny_model_dir):
    header, body = read_card(tiny_model_dir)
    assert header["library_name"] == "nlu-toolkit" and header["datasets"] == ["demo"]
    assert "jointbert" in header["tags"] and header["language"] == ["en"]
    best = [json.loads(line) for line in (tiny_model_dir.parent / "metrics.jsonl").read_text().splitlines()]
    dev = [r["dev"] for r in best if r["best"]][-1]
    (result,) = header["model-index"][0]["results"]
    assert result["dataset"] == {"name": "demo", "type": "demo", "split": "dev"}
    values = {m["type"]: m["value"] for m in result["metrics"]}
    assert values == {
        "accuracy": round(dev["intent_accuracy"], 4),
        "f1": round(dev["slot_f1"], 4),
        "exact_match": round(dev["exact_match"], 4),
    }
    assert "nlu train recipe.yaml" in body and "## Intended use and limits" in body
    word_split = json.loads((tiny_model_dir / "config.json").read_text())["word_split"]
    assert f"(`{word_split}`, as its training data writes words)" in body  # the model's own rule
    recipe_block = body.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert (
        yaml.safe_load(recipe_block)["data"]
        == json.loads((tiny_model_dir / "training_info.json").read_text())["recipe"]["data"]
    )


def test_every_artifact_has_a_card_listed_in_its_manifest(artifact_dir):
    from nlu.runtime.manifest import sha256_file

    manifest = json.loads((artifact_dir / "nlu.json").read_text())
    assert manifest["files"]["README.md"] == sha256_file(artifact_dir / "README.md")
    header, body = read_card(artifact_dir)
    assert "onnx" in header["tags"] and header["library_name"] == "nlu-toolkit"
    assert "## This artifact" in body and "load_parser" in body and "nlu serve" in body
