"""Template filling for recommender dialogue: reading ReDial, the model's losses and selection, training from a
recipe, save/load, replies, and the ReDial scores."""

from __future__ import annotations

import pytest
import torch
from nlu_testing import REDIAL_ASSETS, write_ntrd_recipe

from nlu.errors import DataError, RecordError
from nlu.generation.dialogues import ITEM, read_catalogue, read_dialogues, reply_instances, template_words
from nlu.generation.ntrd import NTRDConfig, NTRDForTemplateFilling
from nlu.generation.respond import Recommender, evaluate_recommender
from nlu.training.trainer import train as train_generator


def test_both_layouts_read_and_same_speaker_turns_merge():
    native = read_dialogues(REDIAL_ASSETS / "native.jsonl")[0]
    assert [t.role for t in native.turns] == ["seeker", "recommender"]
    assert native.turns[0].text == "hey i loved @101" and native.turns[0].movies == ["@101"]
    assert native.titles["@104"] == "Deep Ocean  (2015)"
    normalized = read_dialogues(REDIAL_ASSETS / "train.jsonl")[0]
    assert [t.role for t in normalized.turns] == ["seeker", "recommender", "seeker", "recommender", "seeker"]


def test_reply_instances_replace_movies_by_placeholders():
    dialogue = read_dialogues(REDIAL_ASSETS / "train.jsonl")[0]
    last = reply_instances([dialogue])[-1]
    assert last.template == ["you", "should", "watch", ITEM]
    assert last.items == [dialogue.turns[3].movies[0]]
    assert last.context_items == [dialogue.turns[2].movies[0]]
    assert ITEM in last.context and "__eot__" in last.context
    assert template_words("Try @12, or @13!") == ["try", ITEM, ",", "or", ITEM, "!"]


def test_bad_dialogues_name_the_line(tmp_path):
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "bot", "text": "x"}]}\n', encoding="utf-8")
    with pytest.raises(RecordError, match="d.jsonl:1: message 1: expected"):
        read_dialogues(bad)
    bad.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match="d.jsonl:1: malformed JSON"):
        read_dialogues(bad)
    assert read_catalogue(REDIAL_ASSETS / "movies.csv")["@101"] == "Star Voyage (1999)"


def test_selector_never_picks_padding_and_favours_context_through_its_bonus():
    torch.manual_seed(0)
    config = NTRDConfig(vocab_size=10, item_token_id=4, num_items=5, hidden_size=16, attention_heads=2,
                        encoder_layers=1, decoder_layers=1, feedforward_size=32, dropout=0.0)  # fmt: skip
    model = NTRDForTemplateFilling(config).eval()
    states = torch.randn(2, 16)
    scores = model.score_items(states, torch.tensor([[3, 0], [0, 0]]))
    assert torch.isinf(scores[:, 0]).all()
    with torch.no_grad():
        model.context_bonus.fill_(100.0)
    assert model.score_items(states, torch.tensor([[3, 0], [0, 0]]))[0].argmax() == 3
    out = model(
        context_ids=torch.tensor([[5, 6, 4]]),
        context_mask=torch.ones(1, 3, dtype=torch.long),
        context_items=torch.tensor([[2]]),
        decoder_input_ids=torch.tensor([[2, 7, 4]]),
        labels=torch.tensor([[7, 4, 3]]),
        item_labels=torch.tensor([[-100, 3, -100]]),
    )
    assert out.item_scores.shape == (1, 5) and out.item_targets.tolist() == [3]
    assert out.loss.item() > 0


def test_train_save_load_reply_and_score(tmp_path):
    result = train_generator(write_ntrd_recipe(tmp_path, epochs=25), output_dir=tmp_path / "run")
    recommender = Recommender.load(result.best_model_dir)
    test = reply_instances(read_dialogues(REDIAL_ASSETS / "test.jsonl"))
    scores = evaluate_recommender(recommender, test)
    # The synthetic dialogues always reply "you should watch <the other film of the genre>": a trained model
    # writes that template and, from the context film, ranks the right movie first most of the time.
    assert scores["bleu_2"] > 50.0
    assert scores["item_ratio"] > 0.0
    assert scores["recall_at_10"] == 100.0  # six movies in the catalogue
    assert scores["recall_at_1"] >= 50.0
    replies = recommender.respond(read_dialogues(REDIAL_ASSETS / "test.jsonl")[:2])
    assert all(r.text for r in replies)
    assert all(len(r.items) == r.template.count(ITEM) for r in replies)
