"""Generative fine-tuning (``model.prompting.finetune``) on the tiny Llama, standing in for the converted SmolLM2
folder: the prompt and reply format, the collator's loss mask, the recipe checks, and a fine-tune (full and LoRA)
in the one training loop whose model directory parses every utterance with replies that always parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nlu.data.example import Example
from nlu.data.registry import load_split
from nlu.errors import RecipeError
from nlu.prompting.finetune import ReplyCollator, example_ids
from nlu.prompting.prompts import NO_SLOTS, parse_prompt, parse_reply, slot_lines
from nlu.training.recipe import load_recipe

EXAMPLE = Example(
    id="1", tokens=["play", "some", "jazz", "on", "spotify"], tags=["O", "O", "B-genre", "O", "B-service"],
    intent="PlayMusic",
)  # fmt: skip


@pytest.fixture
def packaged_is_tiny(monkeypatch, tiny_decoder_backbone):
    """The packaged SmolLM2's converted folder is the tiny Llama (same layout: weights, encoder tokenizer,
    chat/ with the chat template)."""
    import nlu.models.backbones

    monkeypatch.setattr(nlu.models.backbones, "converted_decoder", lambda name: tiny_decoder_backbone)
    return tiny_decoder_backbone


def test_the_prompt_and_the_reply():
    user, system = parse_prompt("play  some jazz ")
    assert user == "play some jazz" and "intent" in system and "slot: value" in system
    assert parse_reply(EXAMPLE.intent, slot_lines(EXAMPLE)) == " PlayMusic\ngenre: jazz\nservice: spotify"
    assert parse_reply("Hello", []) == f" Hello\n{NO_SLOTS}"


def test_the_loss_is_on_the_reply_only():
    batch = ReplyCollator(pad_token_id=0)([([5, 6, 7], [8, 9, 2]), ([5, 6], [8, 2])])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 2], [5, 6, 8, 2, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, -100, -100, 8, 9, 2], [-100, -100, 8, 2, -100, -100]]


def test_example_ids_are_the_chat_prompt_then_the_reply_and_its_end(packaged_is_tiny):
    from nlu.prompting.finetune import base_backend

    backend = base_backend({"type": "packaged", "name": "smollm2"})
    assert backend.tokenizer.chat_template  # the chat/ tokenizer, not the encoder's
    prompt, reply = example_ids(backend, EXAMPLE)
    assert backend.tokenizer.decode(prompt).endswith(
        "play some jazz on spotify<|im_end|>\n<|im_start|>assistant\n"
    )
    assert reply[-1] == backend.tokenizer.eos_token_id
    assert backend.tokenizer.decode(reply[:-1]) == " PlayMusic\ngenre: jazz\nservice: spotify"
    # the intent as the reply starts it is the intent as likelihood scoring reads an option
    assert (
        reply[: len(backend.tokenizer(" PlayMusic")["input_ids"])]
        == backend.tokenizer(" PlayMusic")["input_ids"]
    )


def _recipe(tmp_path: Path, prompting: dict, **training) -> Path:
    path = tmp_path / "recipe.yaml"
    recipe = {
        "data": {"dataset": "demo"},
        "model": {"architecture": "prompting", "prompting": {"labels": "snips", **prompting}},
        "training": {
            "epochs": 2,
            "batch_size": 16,
            "seed": 1,
            "num_threads": 1,
            "warmup_ratio": 0.0,
            **training,
        },
    }
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("prompting", "message"),
    [
        (
            {"finetune": {}, "backend": {"type": "openai", "base_url": "http://x", "model": "m"}},
            "local backend",
        ),
        ({"finetune": {}, "lora": {}}, "model.prompting.lora: not with finetune"),
        ({"finetune": {}, "shots": 3}, "answers without demonstrations"),
        ({"finetune": {"examples": 0}}, "'all' or a positive number"),
        ({"finetune": {"method": "adapters"}}, "model.prompting.finetune.method"),
        (
            {"finetune": {}, "backend": {"type": "transformers", "model": "x", "gguf_file": "x.gguf"}},
            "full fine-tuning of a GGUF file",
        ),
    ],
)
def test_recipe_errors(tmp_path, prompting, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(_recipe(tmp_path, prompting))
    assert any(message in problem for problem in err.value.problems), err.value.problems


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_fine_tuned_model_parses_every_utterance(tmp_path, packaged_is_tiny, method):
    from nlu.evaluation.evaluate import evaluate_parser
    from nlu.parser import load_parser
    from nlu.prompting.predictor import FinetunedPromptParser
    from nlu.training.trainer import train

    rate = 3e-3 if method == "full" else 1e-2
    recipe = _recipe(tmp_path, {"finetune": {"method": method, "rank": 4}}, learning_rate=rate, max_steps=40)
    result = train(recipe, output_dir=tmp_path / "run")
    best = result.best_model_dir
    spec = json.loads((best / "prompting.json").read_text())
    assert spec["finetuned"]["method"] == method and spec["finetuned"]["examples"] == 480
    assert (best / spec["finetuned"]["folder"]).is_dir()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["dev_loss"] > 0 for r in records)
    assert result.dev_metrics["loss"] == pytest.approx(min(r["dev_loss"] for r in records))
    parser = load_parser(best)
    assert isinstance(parser, FinetunedPromptParser)
    examples = load_split("demo", "dev")[:12]
    scores, predictions = evaluate_parser(parser, examples, bootstrap=0)
    known = set(parser.intent_labels) - {"UNK"}
    assert known == {ex.intent for ex in load_split("demo", "train")}  # the training split's intents, by name
    assert all(p.intent in known for p in predictions)
    stats = parser.stats.to_dict()
    assert (
        stats["utterances"] == 12
        and stats["parse_failure_rate"] == 0.0
        and stats["hallucination_rate"] == 0.0
    )
    assert all(len(p.tags) == len(ex.tokens) for p, ex in zip(predictions, examples, strict=True))
    assert parser.parse("").intent is None
