"""benchmarks/slotrefine_passes.py decodes SlotRefine's first pass from the same weights, and only there; it finds
the finished runs of every recipe, a new one included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import slotrefine_passes as passes


def test_finished_runs_by_recipe_in_row_order(tmp_path):
    for name in (
        "atis-slotrefine-seed2",
        "atis-slotrefine-seed10",
        "atis-contextual-seed1",
        "atis-jointbert-seed1",
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "benchmark.json").write_text(json.dumps({}))
    (tmp_path / "atis-ctran-seed1").mkdir()  # unfinished: no benchmark.json
    (tmp_path / "snips-jointbert-seed1").mkdir()
    found = passes.finished_runs(tmp_path, "atis")
    assert list(found) == ["jointbert", "slotrefine", "contextual"]
    assert [p.name for p in found["slotrefine"]] == ["atis-slotrefine-seed2", "atis-slotrefine-seed10"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_backbone) -> Path:
    from transformers import AutoTokenizer

    from nlu.data.labels import LabelVocab
    from nlu.models import build_model

    labels = LabelVocab(intents=["UNK", "play", "wake"], slots=["UNK", "O", "B-x", "I-x", "B-y", "I-y"])
    torch.manual_seed(0)
    model = build_model("slotrefine", str(tiny_backbone), labels, heads=2)
    with torch.no_grad():  # a loud classifier: the tags follow the states, which differ between the passes
        model.slot_classifier.weight.normal_(0.0, 1.0)
    folder = tmp_path_factory.mktemp("slotrefine")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(tiny_backbone)).save_pretrained(folder)
    return folder


def test_first_pass_predictor_decodes_pass_1(model_dir):
    from nlu.data.alignment import first_subtoken_mask
    from nlu.inference import Predictor

    words = ["play", "some", "music", "now"]
    first = passes.first_pass_predictor(model_dir).predict([" ".join(words)])[0]
    second = Predictor.load(model_dir).predict([" ".join(words)])[0]

    predictor = Predictor.load(model_dir)
    enc = predictor.tokenizer([words], is_split_into_words=True, return_tensors="pt")
    word_ids = enc.word_ids(0)
    mask = torch.tensor([first_subtoken_mask(word_ids)])
    with torch.no_grad():
        _, pass1, pass2 = predictor.model.passes(enc["input_ids"], enc["attention_mask"], word_mask=mask)
    labels = predictor.slot_labels
    expected1 = [labels[i] for i in pass1[0][mask[0]].argmax(-1).tolist()]
    expected2 = [labels[i] for i in pass2[0][mask[0]].argmax(-1).tolist()]
    assert expected1 != expected2, "the fixture must make the passes disagree"
    assert list(first.tags) == expected1
    assert list(second.tags) == expected2
