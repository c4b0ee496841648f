"""JointIDSF on the tiny random backbone: outputs, losses, the intent -> slot path, save/load and config checks."""

from __future__ import annotations

import math

import pytest
import torch

from nlu.data.labels import LabelVocab
from nlu.models import build_model
from nlu.models.jointidsf import JointIdsfConfig, JointIdsfForIntentSlot
from nlu.modules.decoding import decode_output
from nlu.modules.outputs import JointOutput

LABELS = LabelVocab(
    intents=["UNK", "play_music", "set_alarm", "get_weather"],
    slots=["UNK", "O", "B-song", "I-song", "B-time", "I-time"],
)
BATCH, SEQ_LEN, DIM = 3, 9, 16


def build(tiny_backbone, **kwargs) -> JointIdsfForIntentSlot:
    torch.manual_seed(0)
    return build_model("jointidsf", str(tiny_backbone), LABELS, attention_dim=DIM, **kwargs)


def make_batch(vocab_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Three right-padded utterances; slot labels on first sub-tokens only (-100 elsewhere)."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab_size, (BATCH, SEQ_LEN), generator=g)
    attention_mask = torch.zeros(BATCH, SEQ_LEN, dtype=torch.long)
    slot_labels = torch.full((BATCH, SEQ_LEN), -100)
    for b, (n, positions) in enumerate([(SEQ_LEN, [1, 2, 4, 5, 7]), (6, [1, 2, 3, 4]), (4, [1, 2])]):
        attention_mask[b, :n] = 1
        input_ids[b, n:] = 0
        slot_labels[b, positions] = torch.randint(1, len(LABELS.slots), (len(positions),), generator=g)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "intent_labels": torch.tensor([1, 2, 3]),
        "slot_labels": slot_labels,
    }


def inputs_of(model: JointIdsfForIntentSlot) -> dict[str, torch.Tensor]:
    batch = make_batch(model.encoder.config.vocab_size)
    return {k: batch[k] for k in ("input_ids", "attention_mask")}


@pytest.fixture(params=[False, True], ids=["softmax", "crf"])
def use_crf(request) -> bool:
    return request.param


def test_forward_without_labels_gives_logits_and_no_loss(tiny_backbone, use_crf):
    from nlu.models.backbones import load_pretrained_encoder

    model = build(tiny_backbone, use_crf=use_crf).eval()
    pretrained = load_pretrained_encoder(str(tiny_backbone)).state_dict()
    assert all(torch.equal(v, pretrained[k]) for k, v in model.encoder.state_dict().items())
    assert model.intent_label_embedding.weight.shape == (len(LABELS.intents), DIM)
    out = model(**inputs_of(model))
    assert isinstance(out, JointOutput)
    assert out.loss is None and out.intent_loss is None and out.slot_loss is None
    assert out.intent_logits.shape == (BATCH, len(LABELS.intents))
    assert out.slot_logits.shape == (BATCH, SEQ_LEN, len(LABELS.slots))
    decoded = decode_output(model, out, make_batch(model.encoder.config.vocab_size)["slot_labels"] != -100)
    assert [len(ids) for ids in decoded.slot_ids] == [5, 4, 2]


def test_loss_is_finite_and_reaches_the_intent_embedding_and_encoder(tiny_backbone, use_crf):
    model = build(tiny_backbone, use_crf=use_crf, intent_loss_coef=0.5).train()
    out = model(**make_batch(model.encoder.config.vocab_size))
    assert math.isfinite(out.loss.item()) and out.loss.item() > 0
    assert torch.allclose(out.loss, 0.5 * out.intent_loss + out.slot_loss)
    out.loss.backward()
    params = dict(model.named_parameters())
    names = ["intent_label_embedding.weight", "slot_projection.weight", "attention_output.weight"]
    names += ["intent_classifier.weight", "encoder.embeddings.word_embeddings.weight"]
    names += ["crf.transitions"] if use_crf else []
    for name in names:
        grad = params[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


@pytest.mark.parametrize("detach", [True, False])
def test_slot_loss_reaches_the_intent_head_only_end_to_end(tiny_backbone, detach):
    """With the intent loss switched off, slot errors reach the intent classifier only when not detached."""
    model = build(tiny_backbone, intent_loss_coef=0.0, detach_intent_context=detach).train()
    model(**make_batch(model.encoder.config.vocab_size)).loss.backward()
    grad = model.intent_classifier.weight.grad
    assert (grad is None or grad.abs().sum() == 0) if detach else grad.abs().sum() > 0
    assert model.intent_label_embedding.weight.grad.abs().sum() > 0  # E learns from the slot loss either way


def test_slot_logits_follow_the_intent_distribution(tiny_backbone):
    model = build(tiny_backbone).eval()
    inputs = inputs_of(model)
    with torch.no_grad():
        before = model(**inputs)
        model.intent_classifier.bias[1] += 10.0  # push every utterance towards play_music
        after = model(**inputs)
    assert not torch.allclose(before.intent_logits, after.intent_logits)
    assert (after.slot_logits - before.slot_logits).abs().max() > 1e-4
    # control: with every intent embedded alike, the intent distribution can no longer move the slots
    with torch.no_grad():
        model.intent_label_embedding.weight.copy_(model.intent_label_embedding.weight[:1].expand(4, DIM))
        flat = model(**inputs)
        model.intent_classifier.bias[2] += 10.0
        moved = model(**inputs)
    assert not torch.allclose(flat.intent_logits, moved.intent_logits)
    assert torch.allclose(flat.slot_logits, moved.slot_logits, atol=1e-6)


def test_save_and_load_round_trip(tiny_backbone, tmp_path, use_crf):
    model = build(tiny_backbone, use_crf=use_crf).eval()
    with torch.no_grad():  # non-default values, so anything re-initialised on load is caught
        model.intent_label_embedding.weight.uniform_(-1, 1)
        if use_crf:
            model.crf.transitions.uniform_(-3, 3)
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = JointIdsfForIntentSlot.from_pretrained(tmp_path).eval()
    assert loaded.config.attention_dim == DIM and loaded.config.use_crf is use_crf
    inputs = inputs_of(model)
    with torch.no_grad():
        before, after = model(**inputs), loaded(**inputs)
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attention_dim": 0}, "attention_dim"),
        ({"classifier_dropout": 1.0}, "classifier_dropout"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JointIdsfConfig(intent_labels=LABELS.intents, slot_labels=LABELS.slots, **kwargs)


def test_lexicon_features_gate_the_token_states(tiny_backbone):
    model = build(tiny_backbone, lexicon_types=["song", "time"]).eval()
    inputs = inputs_of(model)
    features = torch.zeros(BATCH, SEQ_LEN, 2)
    features[:, 1:3, 0] = 1.0
    with torch.no_grad():
        plain = model(**inputs, lexicon_features=torch.zeros_like(features))
        model.lexicon_gate.proj.weight.normal_()
        gated = model(**inputs, lexicon_features=features)
    assert gated.slot_logits.shape == (BATCH, SEQ_LEN, len(LABELS.slots))
    assert not torch.allclose(plain.slot_logits[:, 1:3], gated.slot_logits[:, 1:3])
