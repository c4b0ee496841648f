"""The knowledge-base describer: features, the copy mechanism, training from a recipe, save/load, resume, and
clear errors for bad records."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from nlu_testing import KB_TINY_MODEL as TINY_MODEL
from nlu_testing import write_kb_recipe as write_recipe

from nlu.errors import RecipeError, RecordError
from nlu.generation.describe import KBDescriber, read_record_input
from nlu.generation.kb_describe import KBDescribeConfig, KBDescribeForGeneration
from nlu.generation.kb_describe.features import EOS_ID, collate, encode_record
from nlu.generation.kb_describe.modeling_kb_describe import _banned
from nlu.generation.recipe import load_generation_recipe
from nlu.generation.records import RecordText, Vocab, check_record, read_records
from nlu.training.trainer import train as train_generator


def test_features_copy_words_the_vocabulary_lacks():
    vocab = Vocab(["<pad>", "<unk>", "<s>", "</s>", "serves", "food", "."], ["<unk>", "name", "food"])
    item = RecordText({"name": ["Blue Lagoon"], "food": ["Thai"]}, "Blue Lagoon serves Thai food .")
    enc = encode_record(item, vocab, max_position=10)
    assert enc.oov_words == ["Blue", "Lagoon", "Thai"]
    assert enc.extended_ids == [7, 8, 9]  # vocab_size + k
    assert enc.word_ids == [1, 1, 1]  # read as <unk> by the encoder
    assert enc.positions_forward == [1, 2, 1] and enc.positions_backward == [2, 1, 1]
    assert enc.slot_ids == [1, 1, 2]
    assert enc.target_ids == [7, 8, 4, 9, 5, 6, EOS_ID]
    batch = collate([enc, encode_record(RecordText({"food": ["Thai"]}, "Thai ."), vocab, 10)])
    assert batch["labels"][1].tolist() == [7, 6, EOS_ID, -100, -100, -100, -100]


def test_output_is_a_distribution_over_the_extended_vocabulary():
    torch.manual_seed(0)
    model = KBDescribeForGeneration(KBDescribeConfig(vocab_size=7, num_slot_types=3, **_sizes())).eval()
    vocab = Vocab(["<pad>", "<unk>", "<s>", "</s>", "serves", "food", "."], ["<unk>", "name", "food"])
    batch = collate(
        [encode_record(RecordText({"name": ["Blue Lagoon"]}, "Blue Lagoon serves food ."), vocab, 10)]
    )
    out = model(**batch)
    assert out.log_probs.shape == (1, 6, 7 + 2)
    assert torch.allclose(out.log_probs.exp().sum(-1), torch.ones(1, 6), atol=1e-5)
    assert out.loss.item() > 0


def _sizes() -> dict:
    return {k: v for k, v in TINY_MODEL.items() if k != "min_word_count"}


def test_ngram_blocking():
    assert sorted(_banned([5, 6, 7, 5, 6], 3)) == [7]
    assert _banned([5, 6], 3) == []
    assert _banned([1, 2, 3], 0) == []


def test_train_save_load_describe(tmp_path):
    result = train_generator(write_recipe(tmp_path, epochs=12), output_dir=tmp_path / "run")
    assert (result.best_model_dir / "vocab.json").is_file()
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 12 and lines[-1]["dev_loss"] < lines[0]["dev_loss"]
    describer = KBDescriber.load(result.best_model_dir)
    records = [
        {"name": "Zephyr", "food": "Thai"},
        {"name": "Xanadu Grill", "food": "Polish", "area": "harbour"},
    ]
    texts = describer.describe(records)
    assert len(texts) == 2 and all(isinstance(t, str) and t for t in texts)
    # the name never seen in training is copied from the record, not replaced by <unk>
    assert "Xanadu Grill" in texts[1] and "<unk>" not in texts[1]
    greedy = describer.describe(records, beam_size=1)
    assert len(greedy) == 2
    with pytest.raises(RecordError, match="unknown slot type 'colour'"):
        describer.describe([{"name": "A", "colour": "red"}])


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    whole = train_generator(write_recipe(tmp_path, epochs=2, checkpoint_every=3), output_dir=tmp_path / "a")
    (tmp_path / "b").mkdir()
    part = write_recipe(tmp_path / "b", epochs=2, checkpoint_every=3, max_steps=5)
    train_generator(part, output_dir=tmp_path / "b" / "run")
    # the same recipe without the step limit, continued from the checkpoint at step 3
    saved = tmp_path / "b" / "run" / "recipe.yaml"
    data = yaml.safe_load(saved.read_text())
    data["training"]["max_steps"] = None
    saved.write_text(yaml.safe_dump(data))
    ckpts = sorted((tmp_path / "b" / "run" / "checkpoints").glob("step-*"))
    assert [c.name for c in ckpts] == ["step-0000003", "step-0000005"]
    shutil.rmtree(ckpts[1])  # as if the process had died between step 3 and step 5
    resumed = train_generator(saved, output_dir=tmp_path / "b" / "run", resume=True)
    a = KBDescriber.load(whole.run_dir / "best").model.state_dict()
    b = KBDescriber.load(resumed.run_dir / "best").model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_bad_records_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"record": {"name": "A"}, "text": "A."}\n'
        '{"record": {"name": ""}, "text": "x"}\n'
        "{oops\n"
        '{"record": {"food": []}, "text": "x"}\n'
        '{"record": {"name": "B"}}\n',
        encoding="utf-8",
    )
    with pytest.raises(RecordError) as err:
        read_records(bad)
    text = str(err.value)
    assert "bad.jsonl:2: slot 'name' has an empty value" in text
    assert "bad.jsonl:3: not valid JSON" in text
    assert "bad.jsonl:4: slot 'food' has an empty list" in text
    assert 'bad.jsonl:5: expected a non-empty "text"' in text
    with pytest.raises(RecordError, match="expected a non-empty JSON object"):
        check_record(["name", "A"], "x")
    with pytest.raises(RecordError, match="expected text"):
        check_record({"name": {"first": "A"}}, "x")


def test_record_input_forms(tmp_path):
    one = tmp_path / "one.json"
    one.write_text('{"name": "A", "food": ["Thai", "Greek"]}', encoding="utf-8")
    assert read_record_input(one)[0].record == {"name": ["A"], "food": ["Thai", "Greek"]}
    lines = tmp_path / "many.jsonl"
    lines.write_text('{"name": "A"}\n{"record": {"name": "B"}, "text": "B."}\n', encoding="utf-8")
    assert [r.record["name"] for r in read_record_input(lines)] == [["A"], ["B"]]


def test_recipe_errors_name_the_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        yaml.safe_dump({"task": "kb_describe", "data": {"dataset": "e2e"}, "model": {"hiden_size": 8}}),
        encoding="utf-8",
    )
    with pytest.raises(RecipeError) as err:
        load_generation_recipe(path)
    assert "model.hiden_size: unknown key; did you mean 'hidden_size'?" in str(err.value)
    path.write_text(
        yaml.safe_dump({"task": "kb_describe", "data": {"dataset": "e2e"}, "model": {"hidden_size": 30}}),
        encoding="utf-8",
    )
    with pytest.raises(RecipeError, match="divisible by model.attention_heads"):
        load_generation_recipe(path)
