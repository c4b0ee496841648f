"""A decoder LLM as the backbone of JointBERT (``model.backbone: smollm2``, or any causal LM folder), on a tiny
random Llama: the encoder tokenizer, the attention masks, the summary token with either padding side, the
recipe checks, and the conversion of the packaged GGUF (slow)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from transformers import AutoTokenizer

from nlu.data.labels import LabelVocab
from nlu.errors import ModelError, RecipeError
from nlu.models import build_model
from nlu.models.backbones import backbone_is_decoder, build_encoder, is_decoder_config
from nlu.modules.decoder_backbone import (
    DecoderBackbone,
    decoder_attention_mask,
    last_token_positions,
    summary_states,
)
from nlu.training.recipe import load_recipe

LABELS = LabelVocab(["UNK", "play", "weather"], ["UNK", "O", "B-genre", "I-genre"])


@pytest.fixture(scope="module")
def tokenizer(tiny_decoder_backbone):
    return AutoTokenizer.from_pretrained(tiny_decoder_backbone)


@pytest.fixture(scope="module")
def model(tiny_decoder_backbone):
    torch.manual_seed(0)
    return build_model("jointbert", str(tiny_decoder_backbone), LABELS, use_crf=True).eval()


def _batch(tokenizer, utterances, side="right"):
    """Token ids and mask of word lists, padded on ``side`` with the tokenizer's pad token."""
    rows = tokenizer([u.split() for u in utterances], is_split_into_words=True)["input_ids"]
    width = max(map(len, rows))
    ids, mask = [], []
    for row in rows:
        pad = [tokenizer.pad_token_id] * (width - len(row))
        ids.append(row + pad if side == "right" else pad + row)
        mask.append([1] * len(row) + [0] * len(pad) if side == "right" else [0] * len(pad) + [1] * len(row))
    return torch.tensor(ids), torch.tensor(mask)


def test_the_encoder_tokenizer_reads_words_as_running_text_and_ends_each_utterance(tokenizer):
    enc = tokenizer([["play", "some", "jazz"]], is_split_into_words=True)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    assert tokens[0].startswith("Ġ")  # the first word too gets the space it has inside a sentence
    assert tokens[-1] == tokenizer.eos_token and enc.word_ids(0)[-1] is None  # the summary token
    assert enc.word_ids(0)[:-1] == sorted(enc.word_ids(0)[:-1])  # every other token belongs to a word
    assert tokenizer.pad_token_id not in (None, tokenizer.eos_token_id) and tokenizer.is_fast
    assert enc["input_ids"] == tokenizer(["play some jazz"])["input_ids"]  # words or raw text: the same ids


def test_causal_and_bidirectional_masks():
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])
    causal = decoder_attention_mask(mask, bidirectional=False)
    both = decoder_attention_mask(mask, bidirectional=True)
    assert causal.shape == both.shape == (2, 1, 4, 4) and causal.dtype == torch.bool
    # right padding: token 0 reads itself only, token 2 reads 0..2; the pad row reads itself and the real tokens
    assert causal[0, 0].tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]
    assert both[0, 0, :3].tolist() == [[True, True, True, False]] * 3  # every real token reads the utterance
    # left padding: the pad at 0 reads only itself (no empty row, so no NaN), real tokens never read it
    assert causal[1, 0, 0].tolist() == [True, False, False, False]
    assert causal[1, 0, 3].tolist() == [False, True, True, True]
    assert both[1, 0, 1].tolist() == [False, True, True, True]
    assert not torch.equal(causal, both)


def test_the_last_real_token_whichever_side_the_padding_is_on():
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert last_token_positions(mask).tolist() == [2, 4, 4]
    hidden = torch.arange(3 * 5 * 2, dtype=torch.float).reshape(3, 5, 2)
    summary = summary_states(DecoderBackbone(torch.nn.Identity()), hidden, mask)
    assert torch.equal(summary, hidden[[0, 1, 2], [2, 4, 4]])
    assert torch.equal(summary_states(torch.nn.Identity(), hidden, mask), hidden[:, 0])  # an encoder: [CLS]


def test_left_and_right_padding_give_the_same_logits(model, tokenizer):
    """Position ids count real tokens, so the padding side changes nothing the heads read."""
    utterances = ["play some jazz music please", "weather in paris"]
    right, right_mask = _batch(tokenizer, utterances, "right")
    left, left_mask = _batch(tokenizer, utterances, "left")
    with torch.no_grad():
        r = model(right, right_mask)
        lo = model(left, left_mask)
        alone = model(*_batch(tokenizer, utterances[1:]))
    assert r.intent_logits.shape == (2, len(LABELS.intents))
    assert r.slot_logits.shape == (*right.shape, len(LABELS.slots))
    torch.testing.assert_close(r.intent_logits, lo.intent_logits, atol=1e-5, rtol=1e-5)
    n = int(right_mask[1].sum())
    torch.testing.assert_close(r.slot_logits[1, :n], lo.slot_logits[1, -n:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r.intent_logits[1:], alone.intent_logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", ["causal", "bidirectional"])
def test_eager_attention_reads_the_mask_as_sdpa_does(tiny_decoder_backbone, model, tokenizer, attention):
    """The ONNX export computes attention eagerly (nlu.export.graph._eager_attention), which adds the mask to
    the scores: the logits must be those of SDPA, padding included."""
    from nlu.export.graph import _eager_attention

    other = build_model("jointbert", str(tiny_decoder_backbone), LABELS, use_crf=True, attention=attention)
    other.load_state_dict(model.state_dict())
    other.eval()
    ids, mask = _batch(tokenizer, ["play some jazz music please", "weather in paris"], "left")
    with torch.no_grad():
        sdpa = other(ids, mask)
        with _eager_attention(other):
            assert other.encoder.config._attn_implementation == "eager"
            eager = other(ids, mask)
    assert other.encoder.config._attn_implementation == "sdpa"
    torch.testing.assert_close(eager.intent_logits, sdpa.intent_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eager.slot_logits, sdpa.slot_logits, atol=1e-5, rtol=1e-5)


def test_the_intent_reads_the_last_token_and_causal_states_do_not_read_ahead(model, tokenizer):
    ids, mask = _batch(tokenizer, ["play some jazz", "play some rock"])
    with torch.no_grad():
        out = model(ids, mask)
    first_difference = int((ids[0] != ids[1]).nonzero()[0])
    # under the causal mask a token's state does not depend on the tokens after it
    torch.testing.assert_close(out.slot_logits[0, :first_difference], out.slot_logits[1, :first_difference])
    assert not torch.allclose(out.intent_logits[0], out.intent_logits[1])  # the last token has read both


def test_the_bidirectional_option_changes_the_mask_not_the_weights(tiny_decoder_backbone, model, tokenizer):
    both = build_model(
        "jointbert", str(tiny_decoder_backbone), LABELS, use_crf=True, attention="bidirectional"
    ).eval()
    both.load_state_dict(model.state_dict())
    assert both.config.attention == "bidirectional" and both.encoder.bidirectional
    assert not model.encoder.bidirectional
    ids, mask = _batch(tokenizer, ["play some jazz", "play some rock"])
    with torch.no_grad():
        out = both(ids, mask)
        causal = model(ids, mask)
    assert not torch.allclose(out.slot_logits[0, 0], out.slot_logits[1, 0])  # the first word reads the last
    assert not torch.allclose(out.slot_logits, causal.slot_logits)


def test_a_decoder_is_known_by_its_config(tiny_decoder_backbone, tiny_backbone):
    assert backbone_is_decoder(str(tiny_decoder_backbone)) and backbone_is_decoder("smollm2")
    assert not backbone_is_decoder(str(tiny_backbone)) and not backbone_is_decoder("minilm")
    config = json.loads((tiny_decoder_backbone / "config.json").read_text())
    assert is_decoder_config(config)
    assert isinstance(build_encoder(config), DecoderBackbone)
    bert = json.loads((tiny_backbone / "config.json").read_text())
    with pytest.raises(ModelError, match="causal applies to decoder"):
        build_encoder(bert, attention="causal")


def test_only_architectures_that_read_a_decoder_take_one(tiny_decoder_backbone):
    with pytest.raises(ModelError, match="decoder LLM"):
        build_model("slotrefine", str(tiny_decoder_backbone), LABELS, use_crf=False)


def _recipe(tmp_path, **model):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"data": {"dataset": "demo"}, "model": model}), encoding="utf-8")
    return load_recipe(path)


def test_recipe_checks_for_decoder_backbones(tmp_path, tiny_decoder_backbone):
    recipe = _recipe(tmp_path, backbone="smollm2", attention="bidirectional", use_crf=True)
    assert recipe.model.architecture_options()["attention"] == "bidirectional"
    assert _recipe(tmp_path, backbone="smollm2").model.attention is None  # the LM's own: causal
    with pytest.raises(RecipeError, match="model.backbone: 'smollm2' is a decoder LLM"):
        _recipe(tmp_path, architecture="ctran", backbone="smollm2")
    with pytest.raises(RecipeError, match="is a decoder LLM"):
        _recipe(tmp_path, architecture="zeroshot", backbone=str(tiny_decoder_backbone))
    with pytest.raises(RecipeError, match="model.attention: applies to decoder LLM backbones"):
        _recipe(tmp_path, architecture="slotrefine", attention="bidirectional")
    with pytest.raises(RecipeError, match="model.attention"):
        _recipe(tmp_path, attention="sideways")


@pytest.mark.slow
def test_the_packaged_smollm2_converts_to_the_gguf_s_own_numbers(tmp_path, monkeypatch):
    """De-quantised once into a folder: the base model's states are those of the GGUF loaded by transformers.
    Slow: 520 MB written, and the GGUF de-quantised twice (about two minutes on two cores)."""
    pytest.importorskip("gguf")
    from nlu.models.backbones import load_pretrained_encoder, resolve_backbone
    from nlu.prompting.local_backend import TransformersBackend

    monkeypatch.setenv("NLU_CACHE_DIR", str(tmp_path))
    try:
        folder = resolve_backbone("smollm2")
    except ModelError as err:  # the package is optional
        pytest.skip(str(err))
    info = json.loads((tmp_path / folder / "conversion.json").read_text())
    assert info["appended_token"] == "<|im_end|>" and info["pad_token"] == "<|endoftext|>"
    encoder = load_pretrained_encoder("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    enc = tokenizer([["play", "some", "jazz"]], is_split_into_words=True, return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())[:3] == ["Ġplay", "Ġsome", "Ġjazz"]
    gguf = TransformersBackend.packaged()
    with torch.no_grad():
        ours = encoder(enc["input_ids"], enc["attention_mask"]).last_hidden_state
        theirs = gguf.model.model(input_ids=enc["input_ids"]).last_hidden_state
    torch.testing.assert_close(ours, theirs)
