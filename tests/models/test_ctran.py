"""CTRAN on the tiny random backbone: outputs, losses, padding invariance, the zero-diagonal mask, the frozen
"word embeddings" variant, save/load, config validation and ONNX parity on a length unseen at export."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from nlu.data.labels import LabelVocab
from nlu.decoding import DecodedBatch
from nlu.models import build_model
from nlu.models.ctran import CtranConfig, CtranForIntentSlot
from nlu.models.registry import get_architecture
from nlu.modules.decoding import decode_output
from nlu.modules.outputs import JointOutput

INTENTS = ["UNK", "play_music", "get_weather"]
SLOTS = ["UNK", "O", "B-x", "I-x"]
UTTERANCES = [["play", "some", "music"], ["what", "is", "the", "weather", "like", "in", "paris", "today"]]

# The Auto classes learn nlu-ctran from the registry in nlu.models; registered here too, so the file stands
# alone.
AutoConfig.register(CtranConfig.model_type, CtranConfig, exist_ok=True)
AutoModel.register(CtranConfig, CtranForIntentSlot, exist_ok=True)


def tiny_ctran(backbone, seed: int = 0, **kwargs) -> CtranForIntentSlot:
    torch.manual_seed(seed)
    labels = LabelVocab(intents=INTENTS, slots=SLOTS)
    return build_model("ctran", str(backbone), labels, heads=4, channels=8, **kwargs)


def encode(backbone, utterances) -> dict[str, torch.Tensor]:
    tokenizer = AutoTokenizer.from_pretrained(str(backbone))
    enc = tokenizer(utterances, is_split_into_words=True, padding=True, return_tensors="pt")
    # this tokenizer returns no token_type_ids, while the BERT graph takes them: zeros, as the exporter does
    return {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "token_type_ids": torch.zeros_like(enc["input_ids"]),
    }


def with_labels(batch: dict) -> dict:
    slot_labels = torch.full(batch["input_ids"].shape, -100)
    for b, n in enumerate(batch["attention_mask"].sum(1).tolist()):
        slot_labels[b, 1 : n - 1] = torch.arange(n - 2) % 3 + 1
    return {**batch, "intent_labels": torch.tensor([1, 2]), "slot_labels": slot_labels}


@pytest.fixture(params=[False, True], ids=["softmax", "crf"])
def use_crf(request) -> bool:
    return request.param


def test_shapes_loss_only_with_labels_and_decode(tiny_backbone, use_crf):
    model = tiny_ctran(tiny_backbone, use_crf=use_crf).train()
    batch = encode(tiny_backbone, UTTERANCES)
    out = model(**batch)
    assert isinstance(out, JointOutput) and out.loss is None and out.intent_loss is None
    assert out.intent_logits.shape == (2, len(INTENTS))
    assert out.slot_logits.shape == (*batch["input_ids"].shape, len(SLOTS))
    assert model.window(torch.randn(2, 7, 32), torch.ones(2, 7)).shape == (2, 7, 8 * 3)  # length kept
    out = model(**with_labels(batch))
    assert math.isfinite(out.loss.item()) and out.loss.item() > 0
    assert torch.allclose(out.loss, out.intent_loss + out.slot_loss)
    word_mask = with_labels(batch)["slot_labels"] != -100
    decoded = decode_output(model, out, word_mask)
    assert isinstance(decoded, DecodedBatch)
    assert [len(ids) for ids in decoded.slot_ids] == word_mask.sum(1).tolist()


def test_padding_does_not_change_the_real_positions(tiny_backbone):
    """The short utterance alone and padded in a batch with a longer one: same logits (eval mode)."""
    model = tiny_ctran(tiny_backbone).eval()
    alone, batch = encode(tiny_backbone, UTTERANCES[:1]), encode(tiny_backbone, UTTERANCES)
    n = alone["input_ids"].shape[1]
    assert batch["input_ids"].shape[1] > n + 3  # padding wider than half the largest kernel
    with torch.no_grad():
        single, padded = model(**alone), model(**batch)
    torch.testing.assert_close(padded.intent_logits[:1], single.intent_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded.slot_logits[:1, :n], single.slot_logits, atol=1e-5, rtol=1e-5)
    assert torch.isfinite(padded.slot_logits).all()  # padded rows too: no all -inf attention row


def test_aligned_decoder_self_attention_sees_only_its_own_position(tiny_backbone):
    """Changing one decoder-target position changes no other position's self-attention output."""
    model = tiny_ctran(tiny_backbone).eval()
    layer = model.slot_layers[0]
    x = torch.randn(1, 6, 32)
    y = x.clone()
    y[0, 2] += 1.0
    with torch.no_grad():
        a, b = (layer.self_attn.attend_to_self_only(t) for t in (x, y))
    changed = (a - b).abs().sum(-1)[0] > 1e-6
    assert changed.tolist() == [False, False, True, False, False, False]


def test_frozen_encoder_gets_no_grads_and_stays_in_eval_mode(tiny_backbone):
    model = tiny_ctran(tiny_backbone, freeze_encoder=True).train()
    assert model.training and not model.encoder.training
    assert all(not m.training for m in model.encoder.modules())
    assert model.context_layers[0].training
    model(**with_labels(encode(tiny_backbone, UTTERANCES))).loss.backward()
    for name, param in model.named_parameters():
        if name.startswith("encoder."):
            assert not param.requires_grad and param.grad is None, name
        else:
            assert param.requires_grad and param.grad is not None, name


def test_save_and_load_round_trip(tiny_backbone, tmp_path, use_crf):
    model = tiny_ctran(tiny_backbone, use_crf=use_crf, freeze_encoder=True, kernel_sizes=[1, 3]).eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(loaded, CtranForIntentSlot)
    assert (loaded.config.kernel_sizes, loaded.config.heads, loaded.config.channels) == ([1, 3], 4, 8)
    assert loaded.config.freeze_encoder and not loaded.train().encoder.training
    assert not any(p.requires_grad for p in loaded.encoder.parameters())  # re-frozen: loading replaced them
    batch = encode(tiny_backbone, UTTERANCES)
    with torch.no_grad():
        before, after = model(**batch), loaded.eval()(**batch)
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel_sizes": [3, 4]}, "kernel_sizes must be odd"),
        ({"kernel_sizes": []}, "kernel_sizes must be odd"),
        ({"heads": 5}, "heads must divide the backbone's hidden size 32"),
        ({"channels": 0}, "channels must be >= 1"),
        ({"classifier_dropout": 1.0}, "classifier_dropout"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CtranConfig(encoder={"model_type": "bert", "hidden_size": 32}, **kwargs)


def test_onnx_export_matches_torch_on_another_length(tiny_backbone, tmp_path):
    import onnxruntime as ort

    model = tiny_ctran(tiny_backbone, use_crf=True).eval()
    config = get_architecture(model.config.model_type).onnx
    names = config.inputs(model)
    sample = encode(tiny_backbone, [["a", "short", "one"], ["a", "b", "c", "d"]])
    batch, seq = torch.export.Dim("batch", max=4096), torch.export.Dim("sequence", max=128)
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            config.wrap(model).eval(),
            tuple(sample[n] for n in names),
            input_names=names,
            output_names=list(config.outputs),
            dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),),
            opset_version=18,
            dynamo=True,
            external_data=False,
            verbose=False,
            optimize=False,  # halves the test's time; the graph's masks and dynamic axes are what is checked
        )
    program.save(str(tmp_path / "model.onnx"), external_data=False)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    check = encode(tiny_backbone, UTTERANCES + [["one"]])  # batch 3, a longer padded length than the sample
    assert check["input_ids"].shape[1] != sample["input_ids"].shape[1]
    onnx_out = session.run(None, {n: check[n].numpy() for n in names})
    with torch.no_grad():
        torch_out = model(**check)
    for got, want in zip(onnx_out, (torch_out.intent_logits, torch_out.slot_logits), strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=0)
