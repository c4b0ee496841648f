"""SlotRefine on the tiny random backbone: outputs, losses, the B- tag feedback of the second pass, teacher
forcing, save/load and ONNX export with both passes in the graph."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
import torch

from nlu.data.labels import LabelVocab
from nlu.models import build_model
from nlu.models.slotrefine import SlotRefineConfig, SlotRefineForIntentSlot
from nlu.modules.outputs import JointOutput

LABELS = LabelVocab(intents=["UNK", "play", "wake"], slots=["UNK", "O", "B-x", "I-x", "B-y", "I-y"])
TAG_O, B_X, I_X, B_Y = 1, 2, 3, 4
BATCH, SEQ_LEN = 2, 7


@pytest.fixture(scope="module")
def backbone(tiny_backbone) -> str:
    return str(tiny_backbone)


def build(backbone: str, **kwargs) -> SlotRefineForIntentSlot:
    torch.manual_seed(0)
    return build_model("slotrefine", backbone, LABELS, heads=2, **kwargs)


def make_batch() -> dict[str, torch.Tensor]:
    """Row 0: words start at 1, 2, 4, 5 (3 is a continuation sub-token); row 1: 4 tokens, then padding."""
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(10, 60, (BATCH, SEQ_LEN), generator=g)
    attention_mask = torch.ones(BATCH, SEQ_LEN, dtype=torch.long)
    attention_mask[1, 4:] = 0
    input_ids[1, 4:] = 0
    slot_labels = torch.full((BATCH, SEQ_LEN), -100)
    slot_labels[0, [1, 2, 4, 5]] = torch.tensor([B_X, I_X, TAG_O, B_Y])
    slot_labels[1, [1, 2]] = torch.tensor([B_Y, TAG_O])
    word_mask = slot_labels != -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "word_mask": word_mask,
            "intent_labels": torch.tensor([1, 2]), "slot_labels": slot_labels}  # fmt: skip


def inputs_only(batch: dict) -> dict:
    return {k: batch[k] for k in ("input_ids", "attention_mask", "word_mask")}


def favour(model: SlotRefineForIntentSlot, tag: int) -> None:
    """Make pass 1 (and pass 2) predict ``tag`` everywhere through the slot classifier's bias."""
    with torch.no_grad():
        model.slot_classifier.bias.zero_()
        model.slot_classifier.bias[tag] = 50.0


def test_shapes_and_loss_only_with_labels(backbone):
    model = build(backbone).eval()
    batch = make_batch()
    out = model(**inputs_only(batch))
    assert isinstance(out, JointOutput) and out.loss is None and out.slot_loss is None
    assert out.intent_logits.shape == (BATCH, len(LABELS.intents))
    assert out.slot_logits.shape == (BATCH, SEQ_LEN, len(LABELS.slots))
    model.train()
    out = model(**batch)
    assert math.isfinite(out.loss.item()) and out.loss.item() > 0
    assert torch.allclose(out.loss, out.intent_loss + out.slot_loss)
    out.loss.backward()
    for name in (
        "tag_embedding.weight",
        "refiner.0.linear1.weight",
        "encoder.embeddings.word_embeddings.weight",
    ):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_training_loss_is_the_sum_of_both_passes(backbone):
    model = build(
        backbone, classifier_dropout=0.0, use_crf=True
    ).eval()  # eval: no dropout, no teacher forcing
    batch = make_batch()
    out = model(**{k: v for k, v in batch.items() if k != "word_mask"})  # word_mask from slot_labels
    _, pass1, pass2 = model.passes(**inputs_only(batch))
    crf = model.crf
    expected = crf(pass1, batch["slot_labels"].clamp(min=0), batch["word_mask"]) + crf(
        pass2, batch["slot_labels"].clamp(min=0), batch["word_mask"]
    )
    assert torch.allclose(out.slot_loss, expected, atol=1e-5)
    # the output carries pass 1 for inspection (benchmarks/slotrefine_passes.py decodes it)
    assert torch.equal(out.earlier_slot_logits[0], pass1) and torch.equal(out.slot_logits, pass2)


def test_feedback_map_sends_b_tags_to_themselves_and_the_rest_to_o(backbone):
    model = build(backbone)
    assert model.feedback_map.tolist() == [TAG_O, TAG_O, B_X, TAG_O, B_Y, TAG_O]
    tags = torch.tensor([[B_X, I_X, B_Y, -100, 0, B_X]])
    word_mask = torch.tensor([[True, True, True, True, True, False]])
    assert model.feedback_ids(tags, word_mask).tolist() == [[B_X, TAG_O, B_Y, TAG_O, TAG_O, TAG_O]]


@torch.no_grad()
@pytest.mark.parametrize("first_pass", ["encoder", "refiner"])
def test_second_pass_sees_predicted_b_tags_only_on_word_first_subtokens(backbone, first_pass):
    model = build(backbone, first_pass=first_pass).eval()
    batch = inputs_only(make_batch())
    all_o = torch.full((BATCH, SEQ_LEN), TAG_O)
    favour(model, I_X)  # no B- tag predicted: pass 2 is the no-feedback refinement, exactly
    _, pass1, pass2 = model.passes(**batch)
    _, _, no_feedback = model.passes(**batch, gold_tags=all_o)
    assert torch.equal(pass2, no_feedback)
    # "refiner": pass 1 is that same refinement; "encoder": pass 1 skips the refiner
    assert torch.equal(pass1, pass2) == (first_pass == "refiner")
    favour(model, B_X)  # B-x everywhere: pass 2 sees it and its logits move
    _, _, no_feedback = model.passes(**batch, gold_tags=all_o)
    _, pass1, pass2 = model.passes(**batch)
    assert not torch.allclose(pass2, no_feedback, atol=1e-6)
    none = {**batch, "word_mask": torch.zeros_like(batch["word_mask"])}
    _, _, pass2 = model.passes(**none)  # no word-first sub-token: nothing is fed back
    assert torch.equal(pass2, no_feedback)
    # feedback at one position only equals pass 2 fed that B- tag there explicitly
    one = torch.zeros_like(batch["word_mask"])
    one[0, 2] = True
    _, _, fed = model.passes(**{**batch, "word_mask": one})
    gold = torch.full((BATCH, SEQ_LEN), TAG_O)
    gold[0, 2] = B_X
    _, _, explicit = model.passes(**batch, gold_tags=gold)
    assert torch.equal(fed, explicit)


def test_teacher_forcing_feeds_gold_b_tags_in_training(backbone):
    losses = {}
    for rate in (0.0, 1.0):
        model = build(backbone, teacher_forcing=rate).train()
        favour(model, TAG_O)  # pass 1 predicts O, unlike the gold B-x / B-y
        torch.manual_seed(1)  # the same dropout masks for both rates
        losses[rate] = model(**make_batch()).loss.item()
    assert losses[0.0] != pytest.approx(losses[1.0], abs=1e-6)


def test_eval_mode_is_deterministic(backbone):
    model = build(backbone, teacher_forcing=1.0).eval()
    batch = make_batch()
    a, b = model(**batch), model(**batch)
    assert torch.equal(a.slot_logits, b.slot_logits) and torch.equal(a.loss, b.loss)


def test_heads_must_divide_hidden_size(backbone):
    with pytest.raises(ValueError, match="heads"):
        build_model("slotrefine", backbone, LABELS, heads=5)
    with pytest.raises(ValueError, match="teacher_forcing"):
        SlotRefineConfig(teacher_forcing=1.5)
    with pytest.raises(ValueError, match="first_pass"):
        SlotRefineConfig(first_pass="decoder")


@torch.no_grad()
def test_encoder_first_pass_tags_the_encoder_states(backbone):
    model = build(backbone, classifier_dropout=0.0).eval()
    assert model.config.first_pass == "encoder"
    batch = inputs_only(make_batch())
    intent, pass1, _ = model.passes(**batch)
    states = model.encoder(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    assert torch.allclose(pass1, model.slot_classifier(states), atol=1e-6)
    assert torch.allclose(intent, model.intent_classifier(states[:, 0]), atol=1e-6)


def test_a_config_saved_before_first_pass_existed_loads_as_the_refiner_shape(tmp_path, backbone):
    """Models trained before ``first_pass`` ran the refiner in both passes; they must load that way."""
    import json

    model = build(backbone, first_pass="refiner").eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["first_pass"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = SlotRefineForIntentSlot.from_pretrained(tmp_path).eval()
    assert loaded.config.first_pass == "refiner"
    batch = inputs_only(make_batch())
    with torch.no_grad():
        assert torch.equal(model(**batch).slot_logits, loaded(**batch).slot_logits)


def test_save_and_load_round_trip(tmp_path, backbone):
    model = build(backbone, use_crf=True).eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = SlotRefineForIntentSlot.from_pretrained(tmp_path).eval()
    assert (loaded.config.heads, loaded.config.teacher_forcing) == (2, 0.5)
    assert torch.equal(loaded.feedback_map, model.feedback_map)
    batch = inputs_only(make_batch())
    with torch.no_grad():
        before, after = model(**batch), loaded(**batch)
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)


class _Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, word_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, word_mask=word_mask)
        return out.intent_logits, out.slot_logits


@pytest.mark.parametrize("first_pass", ["encoder", "refiner"])
def test_onnx_export_reproduces_torch_logits(tmp_path, backbone, first_pass):
    import onnxruntime as ort

    model = build(backbone, max_length=32, first_pass=first_pass).eval()
    with torch.no_grad():  # a mix of B-x and other tags in pass 1, so that the feedback path is exercised
        model.slot_classifier.bias[B_X] = 0.2
    batch = inputs_only(make_batch())
    args = (batch["input_ids"], batch["attention_mask"], batch["word_mask"])
    dims = {0: torch.export.Dim("batch", max=64), 1: torch.export.Dim("sequence", max=32)}
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _Logits(model).eval(), args, dynamic_shapes=(dims, dims, dims), dynamo=True, verbose=False,
            input_names=["input_ids", "attention_mask", "word_mask"], output_names=["intent", "slots"],
        )  # fmt: skip
    program.save(str(tmp_path / "model.onnx"))
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    # the sample shape, and another batch size and length (dynamic axes)
    for rows, width in ((slice(None), SEQ_LEN), (slice(1, 2), 5)):
        feeds = {k: v[rows, :width] for k, v in batch.items()}
        with torch.no_grad():
            _, pass1, _ = model.passes(**feeds)
            expected = model(**feeds)
        assert (pass1.argmax(-1)[feeds["word_mask"]] == B_X).any(), "the feedback path must be exercised"
        intent, slots = session.run(None, {k: v.numpy() for k, v in feeds.items()})
        assert np.abs(intent - expected.intent_logits.numpy()).max() < 1e-4
        assert np.abs(slots - expected.slot_logits.numpy()).max() < 1e-4
