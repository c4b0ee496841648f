"""The contextual slot-filling model (Veyseh et al. 2020) on a tiny random BERT built in code: outputs, the context
vectors and their auxiliary losses, inference without the auxiliary modules, save/load, ONNX export, config."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import BertConfig

from nlu.decoding import DecodedBatch
from nlu.models.contextual import ContextualConfig, ContextualForIntentSlot, ContextualOptions
from nlu.models.contextual.modeling_contextual import context_vectors, draw_negatives
from nlu.modules.decoding import decode_output
from nlu.modules.outputs import JointOutput

INTENTS = ["UNK", "play_music", "set_alarm", "get_weather"]
SLOTS = ["UNK", "O", "B-song", "I-song", "B-time", "I-time"]
BATCH, SEQ_LEN = 3, 9
AUXILIARY = ("mi_loss", "context_label_loss", "sentence_label_loss")
COEFS = {
    "mi_loss": "mi_loss_coef",
    "context_label_loss": "context_label_loss_coef",
    "sentence_label_loss": "sentence_label_loss_coef",
}
HEADS = ("discriminator", "context_label_head", "sentence_label_head")


def tiny_config(**kwargs) -> ContextualConfig:
    encoder = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    kwargs = {"discriminator_dim": 16, "label_head_dim": 16, "max_seq_length": 64} | kwargs
    return ContextualConfig(encoder=encoder.to_dict(), intent_labels=INTENTS, slot_labels=SLOTS, **kwargs)


def tiny_model(seed: int = 0, **kwargs) -> ContextualForIntentSlot:
    torch.manual_seed(seed)
    return ContextualForIntentSlot(tiny_config(**kwargs))


def make_batch(seed: int = 0, lengths=(SEQ_LEN, 6, 4), words=([1, 2, 4, 5, 7], [1, 2, 3, 4], [1, 2])) -> dict:
    """Right-padded utterances; slot labels sit on first sub-tokens only (-100 on specials, continuation
    sub-tokens and padding), as ``encode_examples`` writes them."""
    g = torch.Generator().manual_seed(seed)
    batch, seq_len = len(lengths), max(lengths)
    input_ids = torch.randint(5, 100, (batch, seq_len), generator=g)
    attention_mask = torch.zeros(batch, seq_len, dtype=torch.long)
    slot_labels = torch.full((batch, seq_len), -100)
    for b, (n, positions) in enumerate(zip(lengths, words, strict=True)):
        attention_mask[b, :n] = 1
        input_ids[b, n:] = 0
        slot_labels[b, positions] = torch.randint(1, len(SLOTS), (len(positions),), generator=g)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "intent_labels": torch.randint(1, len(INTENTS), (batch,), generator=g),
        "slot_labels": slot_labels,
    }


def inputs_only(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}


def pad(batch: dict, extra: int) -> dict:
    """The same utterances with ``extra`` more padding columns."""
    fill = {"input_ids": 0, "attention_mask": 0, "slot_labels": -100}
    return {
        k: torch.cat([v, torch.full((v.shape[0], extra), fill[k], dtype=v.dtype)], dim=1) if k in fill else v
        for k, v in batch.items()
    }


# ------------------------------------------------------------------------------------------------ outputs


def test_forward_without_labels_returns_logits_and_no_loss():
    model = tiny_model().eval()
    out = model(**inputs_only(make_batch()))
    assert isinstance(out, JointOutput)
    assert out.loss is None and out.intent_loss is None and out.slot_loss is None
    assert all(getattr(out, name) is None for name in AUXILIARY)
    assert out.intent_logits.shape == (BATCH, len(INTENTS))
    assert out.slot_logits.shape == (BATCH, SEQ_LEN, len(SLOTS))


def test_loss_with_labels_adds_the_weighted_auxiliary_losses():
    model = tiny_model(
        intent_loss_coef=0.5, mi_loss_coef=0.3, context_label_loss_coef=0.7, sentence_label_loss_coef=0.2
    ).train()
    out = model(**make_batch())
    parts = [out.intent_loss, out.slot_loss, *(getattr(out, name) for name in AUXILIARY)]
    assert all(p is not None and p.dim() == 0 and math.isfinite(p.item()) and p.item() > 0 for p in parts)
    expected = 0.5 * out.intent_loss + out.slot_loss
    expected = expected + 0.3 * out.mi_loss + 0.7 * out.context_label_loss + 0.2 * out.sentence_label_loss
    assert torch.allclose(out.loss, expected)


def test_a_loss_needs_both_labels():
    model = tiny_model().eval()
    batch = make_batch()
    assert model(**inputs_only(batch), slot_labels=batch["slot_labels"]).loss is None
    assert model(**inputs_only(batch), intent_labels=batch["intent_labels"]).loss is None


@pytest.mark.parametrize("name", AUXILIARY)
def test_each_auxiliary_loss_trains_its_head_and_the_encoder(name):
    """Each auxiliary loss alone (every other weight 0, intent too) gives finite, non-zero gradients to its own
    head and to the encoder."""
    kwargs = {coef: 0.0 for coef in COEFS.values()} | {COEFS[name]: 1.0}
    model = tiny_model(intent_loss_coef=0.0, **kwargs).train()
    loss = getattr(model(**make_batch()), name)
    loss.backward()
    head = dict(zip(AUXILIARY, HEADS, strict=True))[name]
    for param_name, param in model.named_parameters():
        if param_name.startswith(head + ".") or param_name == "encoder.embeddings.word_embeddings.weight":
            assert param.grad is not None and torch.isfinite(param.grad).all(), param_name
            assert param.grad.abs().sum() > 0, param_name


def test_a_zero_weight_builds_no_module_and_adds_no_loss():
    model = tiny_model(mi_loss_coef=0.0, context_label_loss_coef=0.0, sentence_label_loss_coef=0.0).eval()
    assert all(getattr(model, head) is None for head in HEADS)
    out = model(**make_batch())
    assert all(getattr(out, name) is None for name in AUXILIARY)
    assert torch.allclose(out.loss, out.intent_loss + out.slot_loss)


def test_decode_gives_one_slot_per_first_subtoken():
    model = tiny_model().eval()
    batch = make_batch()
    word_mask = batch["slot_labels"] != -100
    decoded = decode_output(model, model(**inputs_only(batch)), word_mask)
    assert isinstance(decoded, DecodedBatch)
    assert [len(ids) for ids in decoded.slot_ids] == word_mask.sum(1).tolist() == [5, 4, 2]
    assert all(tag != 0 for ids in decoded.slot_ids for tag in ids)
    for probs in decoded.intent_probs:
        assert len(probs) == len(INTENTS) and math.isclose(sum(probs), 1.0, rel_tol=1e-5)


def test_lexicon_features_gate_the_states_every_head_reads():
    model = tiny_model(lexicon_types=["song", "time"]).eval()
    batch = make_batch()
    features = torch.zeros(BATCH, SEQ_LEN, 2)
    features[:, 1:3, 0] = 1.0
    with torch.no_grad():
        plain = model(**batch, lexicon_features=torch.zeros_like(features))
        model.lexicon_gate.proj.weight.normal_()
        torch.manual_seed(0)
        gated = model(**batch, lexicon_features=features)
    assert not torch.allclose(plain.slot_logits[:, 1:3], gated.slot_logits[:, 1:3])
    assert not torch.allclose(plain.context_label_loss, gated.context_label_loss)


# ------------------------------------------------------------------------------------------------ context


def test_context_vector_is_the_max_over_the_other_words():
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(3, 8, 5, generator=g)
    hidden[0, 2] = hidden[0, 5]  # a tie: both words must still see the tied value from the other
    word_mask = torch.zeros(3, 8, dtype=torch.bool)
    word_mask[0, [1, 2, 5, 6]] = True  # holes: continuation sub-tokens
    word_mask[1, [3]] = True  # one word: no other word, no context
    word_mask[2, [1, 2, 3, 4, 5, 6]] = True
    context, has_context = context_vectors(hidden, word_mask)
    assert context.shape == hidden.shape
    for b in range(3):
        words = word_mask[b].nonzero().flatten().tolist()
        for i in range(8):
            others = [j for j in words if j != i]
            if i in words and others:
                assert has_context[b, i]
                assert torch.equal(context[b, i], hidden[b, others].max(0).values), (b, i)
            else:
                assert not has_context[b, i] and not context[b, i].any(), (b, i)


def test_context_vectors_ignore_whatever_non_word_positions_hold():
    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(2, 7, 4, generator=g)
    word_mask = torch.tensor([[0, 1, 1, 0, 1, 0, 0], [0, 1, 0, 1, 0, 0, 0]], dtype=torch.bool)
    garbage = hidden.clone()
    garbage[~word_mask] = 1e6  # padding, specials and continuation sub-tokens with huge states
    assert torch.equal(context_vectors(hidden, word_mask)[0], context_vectors(garbage, word_mask)[0])


class Recording(nn.Module):
    """Wraps a head and keeps what it was given."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head, self.seen = head, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.head(x)


def test_padding_changes_no_context_vector_and_no_loss():
    model = tiny_model().eval()
    model.context_label_head = Recording(model.context_label_head)
    batch = make_batch()
    torch.manual_seed(5)  # the same negatives for both
    plain = model(**batch)
    torch.manual_seed(5)
    padded = model(**pad(batch, 6))
    first, second = model.context_label_head.seen
    assert first.shape == second.shape == (5 + 4 + 2, 32)  # one context per word, none for padding
    assert torch.allclose(first, second, atol=1e-5)
    for name in ("loss", "slot_loss", *AUXILIARY):
        assert torch.allclose(getattr(plain, name), getattr(padded, name), atol=1e-5), name


def test_draw_negatives_prefers_other_utterances():
    torch.manual_seed(0)
    rows = torch.tensor([0, 0, 1, 1, 1, 3])
    for _ in range(20):
        negatives = draw_negatives(rows)
        assert (negatives >= 0).all() and (rows[negatives] != rows).all()
    # one utterance: another word of it, never the word itself
    rows = torch.zeros(4, dtype=torch.long)
    drawn = torch.stack([draw_negatives(rows) for _ in range(50)])
    assert (drawn != torch.arange(4)).all() and (drawn >= 0).all() and (drawn < 4).all()
    assert {tuple(sorted(set(drawn[:, i].tolist()))) for i in range(4)} == {
        tuple(j for j in range(4) if j != i) for i in range(4)
    }  # every other word is drawn
    assert draw_negatives(torch.zeros(1, dtype=torch.long)).tolist() == [-1]
    assert draw_negatives(torch.zeros(0, dtype=torch.long)).tolist() == []


def test_negatives_come_from_the_global_generator():
    rows = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    torch.manual_seed(3)
    first = draw_negatives(rows)
    torch.manual_seed(3)
    assert torch.equal(first, draw_negatives(rows))


@pytest.mark.parametrize("words", [[1, 2, 3], [1]], ids=["three-words", "one-word"])
def test_a_batch_of_one_utterance(words):
    """No other utterance to draw negatives from: another word of the same one; a one-word utterance has no
    context at all, and its context losses are zeros that still reach every head (for distributed training)."""
    model = tiny_model().train()
    batch = make_batch(lengths=(5,), words=(words,))
    out = model(**batch)
    assert math.isfinite(out.loss.item())
    out.loss.backward()
    if len(words) == 1:
        assert out.mi_loss.item() == 0.0 and out.context_label_loss.item() == 0.0
        assert out.sentence_label_loss.item() > 0  # one word still says which tags the utterance holds
    else:
        assert all(getattr(out, name).item() > 0 for name in AUXILIARY)
    for head in HEADS:
        grads = [p.grad for p in getattr(model, head).parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), head
    model.eval()
    decoded = decode_output(model, model(**inputs_only(batch)), batch["slot_labels"] != -100)
    assert [len(ids) for ids in decoded.slot_ids] == [len(words)]


class Forbidden(nn.Module):
    def forward(self, *args, **kwargs):
        raise AssertionError("an auxiliary module ran without labels")


def test_inference_runs_no_auxiliary_module():
    model = tiny_model().eval()
    inputs = inputs_only(make_batch())
    with torch.no_grad():
        before = model(**inputs)
        for head in HEADS:
            setattr(model, head, Forbidden())
        after = model(**inputs)
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)
    with pytest.raises(AssertionError, match="without labels"):
        model(**make_batch())  # with labels they do run: the replacement is live


def test_inference_logits_are_jointbert_crf_logits():
    """Without labels the model is JointBERT+CRF: the same weights in a JointBERT give the same logits."""
    from nlu.models.jointbert import JointBertConfig, JointBertForIntentSlot

    model = tiny_model().eval()
    config = model.config
    jointbert = JointBertForIntentSlot(
        JointBertConfig(
            encoder=config.encoder, intent_labels=INTENTS, slot_labels=SLOTS, use_crf=True, max_seq_length=64
        )
    ).eval()
    missing, unexpected = jointbert.load_state_dict(model.state_dict(), strict=False)
    assert not missing and {key.split(".")[0] for key in unexpected} == set(HEADS)
    inputs = inputs_only(make_batch())
    with torch.no_grad():
        ours, theirs = model(**inputs), jointbert(**inputs)
    assert torch.equal(ours.intent_logits, theirs.intent_logits)
    assert torch.equal(ours.slot_logits, theirs.slot_logits)


def test_seeded_forward_and_backward_are_reproducible():
    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        model = tiny_model(seed=seed).train()  # dropout on: the draw order matters too
        out = model(**make_batch())
        out.loss.backward()
        return out.loss.detach(), out.mi_loss.detach(), model.encoder.embeddings.word_embeddings.weight.grad

    first, second = run(11), run(11)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(first[0], run(12)[0])


# ------------------------------------------------------------------------------------------------ save, export


def test_save_and_load_round_trip(tmp_path):
    model = tiny_model(mi_loss_coef=0.5, discriminator_dim=8).eval()
    with torch.no_grad():  # non-default values, so anything re-initialised on load is caught
        model.crf.transitions.uniform_(-3, 3)
        model.discriminator[0].weight.uniform_(-1, 1)
    model.save_pretrained(tmp_path, safe_serialization=True)
    files = {p.name for p in tmp_path.iterdir()}
    assert {"model.safetensors", "config.json"} <= files
    loaded = ContextualForIntentSlot.from_pretrained(tmp_path).eval()
    assert loaded.config.model_type == "nlu-contextual"
    assert (loaded.config.mi_loss_coef, loaded.config.discriminator_dim) == (0.5, 8)
    assert loaded.config.use_crf is True and loaded.config.slot_labels == SLOTS
    batch = make_batch()
    with torch.no_grad():
        before, after = model(**inputs_only(batch)), loaded(**inputs_only(batch))
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)
    state, reloaded = model.state_dict(), loaded.state_dict()
    assert state.keys() == reloaded.keys() and all(torch.equal(state[k], reloaded[k]) for k in state)
    word_mask = batch["slot_labels"] != -100
    assert decode_output(model, before, word_mask) == decode_output(loaded, after, word_mask)


class LogitsOnly(nn.Module):
    """What export puts in the graph: the model's two logits; decoding runs outside it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.intent_logits, out.slot_logits


def test_onnx_export_with_dynamic_axes_matches_torch(tmp_path):
    import logging

    import onnxruntime as ort

    model = tiny_model().eval()
    sample = make_batch()
    args = (sample["input_ids"], sample["attention_mask"], torch.zeros_like(sample["input_ids"]))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    batch, seq = torch.export.Dim("batch", max=4096), torch.export.Dim("sequence", max=64)
    path = tmp_path / "model.onnx"
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            LogitsOnly(model).eval(),
            args,
            input_names=names,
            output_names=["intent_logits", "slot_logits"],
            dynamic_shapes=({0: batch, 1: seq},) * 3,
            opset_version=18,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    program.save(str(path), external_data=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    # other shapes than the sample's, one of them a single utterance
    for lengths, words in [((12, 7, 3, 10), ([1, 2], [1], [1], [1, 3])), ((5,), ([1, 2, 3],))]:
        batch = make_batch(seed=4, lengths=lengths, words=words)
        feeds = {
            "input_ids": batch["input_ids"].numpy(),
            "attention_mask": batch["attention_mask"].numpy(),
            "token_type_ids": torch.zeros_like(batch["input_ids"]).numpy(),
        }
        intent_onnx, slot_onnx = session.run(["intent_logits", "slot_logits"], feeds)
        with torch.no_grad():
            out = model(**inputs_only(batch))
        valid = batch["attention_mask"].bool().numpy()
        assert abs(out.intent_logits.numpy() - intent_onnx).max() < 1e-4
        assert abs(out.slot_logits.numpy() - slot_onnx)[valid].max() < 1e-4


# ------------------------------------------------------------------------------------------------ config, options


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mi_loss_coef": -1.0}, "mi_loss_coef"),
        ({"context_label_loss_coef": -0.5}, "context_label_loss_coef"),
        ({"sentence_label_loss_coef": -0.1}, "sentence_label_loss_coef"),
        ({"discriminator_dim": 0}, "discriminator_dim"),
        ({"label_head_dim": 0}, "label_head_dim"),
        ({"discriminator_dim": 2.5}, "discriminator_dim"),
        ({"mi_loss_coef": True}, "mi_loss_coef"),
        ({"classifier_dropout": 1.0}, "classifier_dropout"),
        ({"intent_loss_coef": -1.0}, "intent_loss_coef"),
        ({"max_seq_length": 4}, "max_length"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(**kwargs)


def test_config_reports_every_bad_option_at_once():
    with pytest.raises(ValueError, match="mi_loss_coef.*label_head_dim"):
        ContextualConfig(mi_loss_coef=-1.0, label_head_dim=0)


def test_config_defaults_are_the_options_defaults():
    config, options = ContextualConfig(), ContextualOptions()
    assert config.use_crf is True
    for name in ContextualOptions.model_fields:
        assert getattr(config, name) == getattr(options, name), name


def test_config_survives_json_round_trip(tmp_path):
    config = tiny_config(classifier_dropout=0.25, mi_loss_coef=0.1, label_head_dim=12)
    config.save_pretrained(tmp_path)
    loaded = ContextualConfig.from_pretrained(tmp_path)
    assert loaded.encoder["hidden_size"] == 32 and loaded.encoder["model_type"] == "bert"
    assert (loaded.classifier_dropout, loaded.mi_loss_coef, loaded.label_head_dim) == (0.25, 0.1, 12)
    assert loaded.use_crf is True and loaded.word_split == config.word_split


def test_options_reject_unknown_keys_and_describe_every_field():
    with pytest.raises(ValueError, match="extra"):
        ContextualOptions(mi_weight=1.0)
    for name, field in ContextualOptions.model_fields.items():
        assert field.description and field.default is not None, name


def test_options_module_imports_no_torch():
    """Recipe validation reads these options: the file itself imports pydantic, not torch or transformers."""
    path = Path(__file__).resolve().parents[2] / "nlu" / "models" / "contextual" / "options.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('options', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "module.ContextualOptions()\n"
        "heavy = sorted({'torch', 'transformers', 'numpy'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
