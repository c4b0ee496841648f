"""JointBERT on a tiny random configuration built in code: outputs, losses, decoding and save/load."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModel, BertConfig

import nlu.models  # noqa: F401  (registers the architectures with the Auto classes)
from nlu.decoding import DecodedBatch
from nlu.models.jointbert import JointBertConfig, JointBertForIntentSlot
from nlu.modules.decoding import decode_output
from nlu.modules.outputs import JointOutput

INTENTS = ["UNK", "play_music", "set_alarm", "get_weather"]
SLOTS = ["UNK", "O", "B-song", "I-song", "B-time", "I-time"]
BATCH, SEQ_LEN = 3, 9


def tiny_config(use_crf: bool, **kwargs) -> JointBertConfig:
    encoder = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return JointBertConfig(
        encoder=encoder.to_dict(), intent_labels=INTENTS, slot_labels=SLOTS, use_crf=use_crf, **kwargs
    )


def tiny_model(use_crf: bool, seed: int = 0) -> JointBertForIntentSlot:
    torch.manual_seed(seed)
    return JointBertForIntentSlot(tiny_config(use_crf))


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Three right-padded utterances; slot labels sit on first sub-tokens only (-100 on the rest), as
    ``encode_examples`` writes them."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 100, (BATCH, SEQ_LEN), generator=g)
    lengths = [SEQ_LEN, 6, 4]
    attention_mask = torch.zeros(BATCH, SEQ_LEN, dtype=torch.long)
    for b, n in enumerate(lengths):
        attention_mask[b, :n] = 1
        input_ids[b, n:] = 0
    slot_labels = torch.full((BATCH, SEQ_LEN), -100)
    # row 0: words start at 1, 2, 4, 5, 7 (holes = continuation sub-tokens); rows 1 and 2 one word per token
    for b, positions in enumerate([[1, 2, 4, 5, 7], [1, 2, 3, 4], [1, 2]]):
        slot_labels[b, positions] = torch.randint(1, len(SLOTS), (len(positions),), generator=g)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "intent_labels": torch.tensor([1, 2, 3]),
        "slot_labels": slot_labels,
    }


def inputs_only(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}


@pytest.fixture(params=[False, True], ids=["softmax", "crf"])
def use_crf(request) -> bool:
    return request.param


def test_forward_without_labels_returns_logits_and_no_loss(use_crf):
    model = tiny_model(use_crf).eval()
    out = model(**inputs_only(make_batch()))
    assert isinstance(out, JointOutput)
    assert out.loss is None and out.intent_loss is None and out.slot_loss is None
    assert out.intent_logits.shape == (BATCH, len(INTENTS))
    assert out.slot_logits.shape == (BATCH, SEQ_LEN, len(SLOTS))


def test_loss_with_labels_is_finite_and_trains_every_part(use_crf):
    model = tiny_model(use_crf).train()
    out = model(**make_batch())
    assert out.loss is not None and math.isfinite(out.loss.item())
    assert out.loss.item() > 0
    expected = model.config.intent_loss_coef * out.intent_loss + out.slot_loss
    assert torch.allclose(out.loss, expected)
    out.loss.backward()
    for name in (
        "intent_classifier.weight",
        "slot_classifier.weight",
        "encoder.embeddings.word_embeddings.weight",
    ):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    if use_crf:
        assert model.crf.transitions.grad is not None and model.crf.transitions.grad.abs().sum() > 0


def test_intent_loss_coef_weights_the_intent_loss():
    torch.manual_seed(0)
    model = JointBertForIntentSlot(tiny_config(False, intent_loss_coef=0.0, classifier_dropout=0.0)).eval()
    out = model(**make_batch())
    assert out.intent_loss.item() > 0
    assert torch.allclose(out.loss, out.slot_loss)


def test_slot_loss_counts_first_subtokens_only(use_crf):
    """Positions labelled -100 (continuation sub-tokens, specials, padding) must not enter the slot loss: it equals
    the loss computed on the word-level positions alone."""
    model = tiny_model(use_crf).eval()
    batch = make_batch()
    out = model(**batch)
    labels = batch["slot_labels"]
    keep = labels != -100
    if use_crf:
        rows = [out.slot_logits[b][keep[b]] for b in range(BATCH)]
        width = max(len(r) for r in rows)
        emissions = torch.zeros(BATCH, width, len(SLOTS))
        tags = torch.zeros(BATCH, width, dtype=torch.long)
        mask = torch.zeros(BATCH, width, dtype=torch.bool)
        for b, row in enumerate(rows):
            emissions[b, : len(row)], tags[b, : len(row)], mask[b, : len(row)] = row, labels[b][keep[b]], True
        expected = model.crf(emissions, tags, mask, reduction="mean")
    else:
        expected = torch.nn.functional.cross_entropy(out.slot_logits[keep], labels[keep])
    assert torch.allclose(out.slot_loss, expected, atol=1e-5)


def word_mask_from(batch: dict) -> torch.Tensor:
    return batch["slot_labels"] != -100


def test_decode_gives_one_slot_per_first_subtoken(use_crf):
    model = tiny_model(use_crf).eval()
    batch = make_batch()
    word_mask = word_mask_from(batch)
    decoded = decode_output(model, model(**inputs_only(batch)), word_mask)
    assert isinstance(decoded, DecodedBatch)
    assert [len(ids) for ids in decoded.slot_ids] == word_mask.sum(1).tolist() == [5, 4, 2]
    assert [len(c) for c in decoded.slot_confidences] == [5, 4, 2]
    for probs in decoded.intent_probs:
        assert len(probs) == len(INTENTS) and math.isclose(sum(probs), 1.0, rel_tol=1e-5)


def test_decode_never_predicts_unk_even_when_its_logits_dominate(use_crf):
    model = tiny_model(use_crf).eval()
    batch = make_batch()
    out = model(**inputs_only(batch))
    out.intent_logits[:, 0] = 1e6
    out.slot_logits[..., 0] = 1e6
    decoded = decode_output(model, out, word_mask_from(batch))
    for probs in decoded.intent_probs:
        assert probs[0] < 1e-6
        assert max(range(len(probs)), key=probs.__getitem__) != 0
    assert all(tag != 0 for ids in decoded.slot_ids for tag in ids)
    assert all(0.0 < c <= 1.0 + 1e-6 for confs in decoded.slot_confidences for c in confs)


def test_decode_follows_the_logits_without_crf():
    model = tiny_model(False).eval()
    batch = make_batch()
    out = model(**inputs_only(batch))
    out.slot_logits.zero_()
    out.slot_logits[..., 4] = 5.0  # B-time everywhere
    decoded = decode_output(model, out, word_mask_from(batch))
    assert decoded.slot_ids == [[4] * 5, [4] * 4, [4] * 2]


def test_crf_confidences_are_probabilities():
    model = tiny_model(True).eval()
    batch = make_batch()
    out = model(**inputs_only(batch))
    out.slot_logits = out.slot_logits * 20  # sharp and flat rows alike must stay in (0, 1]
    decoded = decode_output(model, out, word_mask_from(batch))
    confidences = [c for row in decoded.slot_confidences for c in row]
    assert confidences and all(0.0 < c <= 1.0 + 1e-6 for c in confidences)


def test_save_and_load_round_trip(tmp_path, use_crf):
    model = tiny_model(use_crf).eval()
    with torch.no_grad():  # non-default CRF scores, so a CRF that is re-initialised on load is caught
        if use_crf:
            model.crf.transitions.uniform_(-3, 3)
    batch = make_batch()
    model.save_pretrained(tmp_path, safe_serialization=True)

    files = {p.name for p in tmp_path.iterdir()}
    assert "model.safetensors" in files and "config.json" in files
    pickles = [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]
    assert not pickles, f"pickled weights written: {pickles}"

    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, JointBertForIntentSlot)
    assert loaded.config.intent_labels == INTENTS and loaded.config.slot_labels == SLOTS
    assert loaded.config.use_crf is use_crf
    with torch.no_grad():
        before, after = model(**inputs_only(batch)), loaded(**inputs_only(batch))
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)
    if use_crf:
        assert torch.equal(model.crf.transitions, loaded.crf.transitions)
    word_mask = word_mask_from(batch)
    assert decode_output(model, before, word_mask) == decode_output(loaded, after, word_mask)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classifier_dropout": 1.0}, "classifier_dropout"),
        ({"classifier_dropout": -0.1}, "classifier_dropout"),
        ({"intent_loss_coef": -1.0}, "intent_loss_coef"),
        ({"max_seq_length": 4}, "max_length"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(False, **kwargs)


def test_config_survives_json_round_trip(tmp_path):
    config = tiny_config(True, classifier_dropout=0.25, max_seq_length=64)
    config.save_pretrained(tmp_path)
    loaded = JointBertConfig.from_pretrained(tmp_path)
    assert loaded.encoder["hidden_size"] == 32 and loaded.encoder["model_type"] == "bert"
    assert (loaded.use_crf, loaded.classifier_dropout, loaded.max_seq_length) == (True, 0.25, 64)
    assert loaded.word_split == config.word_split
