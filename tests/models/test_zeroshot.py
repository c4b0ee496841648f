"""The zero-shot joint model on the tiny random backbone: label-set-independent heads, the eval-mode label cache,
swapping in unseen labels, save/load, ONNX export, and the label-name helpers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from nlu.data.labels import LabelVocab
from nlu.decoding import MASKED
from nlu.errors import DataError, ModelError
from nlu.models.zeroshot import (
    ZeroShotConfig,
    ZeroShotForIntentSlot,
    build_zeroshot,
    humanize,
    label_text,
    load_label_file,
)
from nlu.modules.decoding import decode_output
from nlu.modules.outputs import JointOutput

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "zeroshot"
LABELS = LabelVocab(
    intents=["UNK", "play_music", "set_alarm", "get_weather"],
    slots=["UNK", "O", "B-song", "I-song", "B-time", "I-time"],
)
DESCRIPTIONS = ({"play_music": "play a song"}, {"time": "a time of day"})
NEW_INTENTS = {"BookTaxi": "order a cab", "RateBook": "", "find.recipe": "look up a dish", "HTTPCheck": ""}
NEW_SLOT_TYPES = {"pickup_place": "where the ride starts", "dish": "", "stars": "a rating from one to five"}
BATCH, SEQ_LEN, DIM = 3, 9, 16


def build(tiny_backbone, labels: LabelVocab = LABELS, **kwargs) -> ZeroShotForIntentSlot:
    torch.manual_seed(0)
    kwargs.setdefault("descriptions", DESCRIPTIONS)
    return build_zeroshot(str(tiny_backbone), labels, embed_dim=DIM, **kwargs)


def make_batch(vocab_size: int, num_slot_tags: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Three right-padded utterances; slot labels on first sub-tokens only (-100 elsewhere)."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, vocab_size, (BATCH, SEQ_LEN), generator=g)
    attention_mask = torch.zeros(BATCH, SEQ_LEN, dtype=torch.long)
    slot_labels = torch.full((BATCH, SEQ_LEN), -100)
    for b, (n, positions) in enumerate([(SEQ_LEN, [1, 2, 4, 5, 7]), (6, [1, 2, 3, 4]), (4, [1, 2])]):
        attention_mask[b, :n] = 1
        input_ids[b, n:] = 0
        slot_labels[b, positions] = torch.randint(1, num_slot_tags, (len(positions),), generator=g)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "intent_labels": torch.tensor([1, 2, 3]),
        "slot_labels": slot_labels,
    }


def inputs_of(model: ZeroShotForIntentSlot) -> dict[str, torch.Tensor]:
    batch = make_batch(model.encoder.config.vocab_size, len(model.config.slot_labels))
    return {k: batch[k] for k in ("input_ids", "attention_mask")}


def word_mask() -> torch.Tensor:
    return make_batch(100, 6)["slot_labels"] != -100


class EncoderCalls:
    """Counts the encoder's forward calls and keeps each call's output states (to check gradients)."""

    def __init__(self, model: ZeroShotForIntentSlot):
        self.states: list[torch.Tensor] = []
        self.handle = model.encoder.register_forward_hook(self._hook)

    def _hook(self, module, args, output) -> None:
        if output.last_hidden_state.requires_grad:
            output.last_hidden_state.retain_grad()
        self.states.append(output.last_hidden_state)

    def __enter__(self) -> EncoderCalls:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def test_forward_gives_one_column_per_label_with_unk_masked(tiny_backbone):
    from nlu.models.backbones import load_pretrained_encoder

    model = build(tiny_backbone).eval()
    pretrained = load_pretrained_encoder(str(tiny_backbone)).state_dict()
    assert all(torch.equal(v, pretrained[k]) for k, v in model.encoder.state_dict().items())
    with torch.no_grad():
        out = model(**inputs_of(model))
    assert isinstance(out, JointOutput)
    assert out.loss is None and out.intent_loss is None and out.slot_loss is None
    assert out.intent_logits.shape == (BATCH, 4)
    assert out.slot_logits.shape == (BATCH, SEQ_LEN, 6)
    assert torch.all(out.intent_logits[:, 0] == MASKED) and torch.all(out.slot_logits[..., 0] == MASKED)
    # the other columns are scaled cosines (|score| <= scale = 10 at the start) or the O scorer's output
    assert out.intent_logits[:, 1:].abs().max() <= 10.0 + 1e-4
    assert out.slot_logits[..., 2:].abs().max() <= 10.0 + 1e-4
    decoded = decode_output(model, out, word_mask())
    assert [len(ids) for ids in decoded.slot_ids] == [5, 4, 2]
    assert all(probs[0] == 0.0 for probs in decoded.intent_probs)
    assert all(0 not in ids for ids in decoded.slot_ids)


def test_training_loss_reaches_the_encoder_through_utterances_and_labels(tiny_backbone):
    model = build(tiny_backbone, intent_loss_coef=0.5).train()
    batch = make_batch(model.encoder.config.vocab_size, len(LABELS.slots))
    with EncoderCalls(model) as calls:
        out = model(**batch)
        out.loss.backward()
    assert math.isfinite(out.loss.item()) and out.loss.item() > 0
    assert torch.allclose(out.loss, 0.5 * out.intent_loss + out.slot_loss)
    # two encoder passes: the utterances, then all 5 label texts (3 intents + 2 slot types) in one batch
    assert [tuple(s.shape[:1]) for s in calls.states] == [(BATCH,), (5,)]
    for states in calls.states:
        assert states.grad is not None and states.grad.abs().sum() > 0
    params = dict(model.named_parameters())
    for name in ["utterance_proj.weight", "begin_proj.weight", "inside_proj.weight", "label_proj.weight"]:
        assert params[name].grad.abs().sum() > 0, name
    assert params["o_scorer.weight"].grad.abs().sum() > 0
    assert params["log_logit_scale"].grad.abs() > 0
    assert params["encoder.embeddings.word_embeddings.weight"].grad.abs().sum() > 0


def test_eval_mode_reads_cached_label_embeddings_and_train_mode_drops_them(tiny_backbone):
    model = build(tiny_backbone).train()
    assert model.intent_label_cache is None
    model.eval()
    assert model.intent_label_cache.shape == (3, DIM) and model.slot_type_cache.shape == (2, DIM)
    assert not model.intent_label_cache.requires_grad
    inputs = inputs_of(model)
    with EncoderCalls(model) as calls:
        first = model(**inputs)  # with gradients enabled too: the label path stays cached
        second = model(**inputs)
    assert len(calls.states) == 2  # the utterance encoder only, once per forward
    assert torch.equal(first.slot_logits, second.slot_logits)
    model.train()
    assert model.intent_label_cache is None and model.slot_type_cache is None


def test_slot_columns_follow_the_vocabulary_order(tiny_backbone):
    """A vocabulary in no particular order: each column holds the score of its own tag, computed by hand."""
    labels = LabelVocab(
        intents=["UNK", "set_alarm", "play_music"],
        slots=["UNK", "I-time", "B-song", "O", "B-time", "I-song"],
    )
    model = build(tiny_backbone, labels, descriptions=({}, {"song": "the title of a track"})).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_backbone))
    inputs = inputs_of(model)
    with torch.no_grad():
        out = model(**inputs)
        hidden = model.encoder(**inputs).last_hidden_state

        def embed(text: str) -> torch.Tensor:
            enc = tokenizer([text], return_tensors="pt")
            states = model.encoder(**enc).last_hidden_state[0]
            return torch.nn.functional.normalize(model.label_proj(states.mean(0)), dim=-1)

        def cosine(proj: torch.nn.Linear, states: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(proj(states), dim=-1) @ label

        song, time = embed("song: the title of a track"), embed("time")
        scale = model.log_logit_scale.exp()
        expected = {
            "I-time": scale * cosine(model.inside_proj, hidden, time),
            "B-song": scale * cosine(model.begin_proj, hidden, song),
            "O": model.o_scorer(hidden)[..., 0],
            "B-time": scale * cosine(model.begin_proj, hidden, time),
            "I-song": scale * cosine(model.inside_proj, hidden, song),
        }
        for column, tag in enumerate(labels.slots[1:], start=1):
            assert torch.allclose(out.slot_logits[..., column], expected[tag], atol=1e-5), tag
        for column, (name, text) in enumerate([("set_alarm", "set alarm"), ("play_music", "play music")], 1):
            by_hand = scale * cosine(model.utterance_proj, hidden[:, 0], embed(text))
            assert torch.allclose(out.intent_logits[:, column], by_hand, atol=1e-5), name


def test_set_labels_scores_unseen_labels_without_changing_weights(tiny_backbone):
    model = build(tiny_backbone).eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    before = model.config.label_token_ids
    model.set_labels(NEW_INTENTS, NEW_SLOT_TYPES)
    assert model.config.intent_labels == ["UNK", *NEW_INTENTS]
    assert model.config.slot_labels == [
        "UNK", "O", "B-pickup_place", "I-pickup_place", "B-dish", "I-dish", "B-stars", "I-stars"
    ]  # fmt: skip
    assert model.config.intent_descriptions == NEW_INTENTS
    assert model.config.slot_descriptions == NEW_SLOT_TYPES
    assert len(model.config.label_token_ids) == 7 and model.config.label_token_ids != before
    assert model.state_dict().keys() == weights.keys()
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert model.intent_label_cache.shape == (4, DIM) and model.slot_type_cache.shape == (3, DIM)
    with torch.no_grad():
        out = model(**inputs_of(model))
    assert out.intent_logits.shape == (BATCH, 5) and out.slot_logits.shape == (BATCH, SEQ_LEN, 8)
    assert torch.all(out.intent_logits[:, 0] == MASKED) and torch.all(out.slot_logits[..., 0] == MASKED)
    decoded = decode_output(model, out, word_mask())
    assert [len(probs) for probs in decoded.intent_probs] == [5] * BATCH
    assert all(0 < tag < 8 for ids in decoded.slot_ids for tag in ids)
    # the new labels train as well: one step reaches every head
    model.train()
    batch = make_batch(model.encoder.config.vocab_size, 8)
    model(**batch | {"intent_labels": torch.tensor([1, 3, 4])}).loss.backward()
    assert model.label_proj.weight.grad.abs().sum() > 0


def test_labels_unseen_in_training_get_the_bonus_and_trained_ones_do_not(tiny_backbone):
    model = build(tiny_backbone, intent_scoring="head").eval()
    assert model.config.trained_intents == ["play_music", "set_alarm", "get_weather"]
    assert model.config.trained_slot_types == ["song", "time"]
    mixed_intents = {"play_music": "play a song", "BookTaxi": "order a cab", "get_weather": ""}
    mixed_types = {"time": "a time of day", "dish": ""}
    inputs = inputs_of(model)
    model.set_labels(mixed_intents, mixed_types, unseen_intent_bonus=0.0, unseen_slot_bonus=0.0)
    assert model.new_labels() == (["BookTaxi"], ["dish"])
    with torch.no_grad():
        plain = model(**inputs)
    model.set_labels(mixed_intents, mixed_types, unseen_intent_bonus=0.3, unseen_slot_bonus=0.2)
    with torch.no_grad():
        calibrated = model(**inputs)
    shift = 0.3 * model.logit_scale()
    intent_shift = (
        calibrated.intent_logits - plain.intent_logits
    )  # columns: UNK, play_music, BookTaxi, get_weather
    assert torch.allclose(intent_shift[:, 2], shift.expand(BATCH))
    assert torch.all(intent_shift[:, [0, 1, 3]] == 0)
    tags = model.config.slot_labels  # UNK, O, B-time, I-time, B-dish, I-dish
    slot_shift = calibrated.slot_logits - plain.slot_logits
    for column, tag in enumerate(tags):
        expected = 0.2 * model.logit_scale() if tag.endswith("-dish") else torch.tensor(0.0)
        assert torch.allclose(slot_shift[..., column], expected.expand(BATCH, SEQ_LEN)), tag
    # a new label set changes neither the trained labels nor, unless given, the bonus
    assert (model.config.unseen_intent_bonus, model.config.unseen_slot_bonus) == (0.3, 0.2)
    assert model.config.trained_intents == ["play_music", "set_alarm", "get_weather"]


def test_intents_are_scored_in_the_encoder_space_when_one_is_new(tiny_backbone):
    model = build(tiny_backbone).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_backbone))
    inputs = inputs_of(model)
    trained_only = {"play_music": "play a song", "get_weather": ""}
    with_new = trained_only | {"BookTaxi": "order a cab"}

    def encoder_space_logits(intents: dict[str, str]) -> torch.Tensor:
        def pooled(ids, mask):
            states = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            return torch.nn.functional.normalize((states * weights).sum(1) / weights.sum(1), dim=-1)

        texts = tokenizer([label_text(n, d) for n, d in intents.items()], return_tensors="pt", padding=True)
        labels = pooled(texts["input_ids"], texts["attention_mask"])
        return model.logit_scale() * pooled(inputs["input_ids"], inputs["attention_mask"]) @ labels.T

    with torch.no_grad():
        model.set_labels(with_new, {}, tokenizer=tokenizer)  # auto, a new intent: the encoder space
        assert model.config.intent_scoring == "auto"
        assert torch.allclose(model(**inputs).intent_logits[:, 1:], encoder_space_logits(with_new), atol=1e-5)
        model.set_labels(trained_only, {}, tokenizer=tokenizer)  # auto, only trained intents: the heads
        heads = model(**inputs).intent_logits[:, 1:]
        assert not torch.allclose(heads, encoder_space_logits(trained_only), atol=1e-3)
        model.config.intent_scoring = "encoder"  # always the encoder space
        model.set_labels(trained_only, {}, tokenizer=tokenizer)
        assert torch.allclose(
            model(**inputs).intent_logits[:, 1:], encoder_space_logits(trained_only), atol=1e-5
        )
        model.config.intent_scoring = "head"  # always the heads, new intent or not
        model.set_labels(trained_only, {}, tokenizer=tokenizer)
        assert torch.equal(model(**inputs).intent_logits[:, 1:], heads)
    # training trains the heads whatever the setting
    model.config.intent_scoring = "encoder"
    model.set_labels(with_new, {}, tokenizer=tokenizer)
    model.train()
    batch = make_batch(model.encoder.config.vocab_size, 2)
    model(**batch | {"slot_labels": torch.where(batch["slot_labels"] >= 0, 1, -100)}).loss.backward()
    assert model.utterance_proj.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="intent_scoring"):
        ZeroShotConfig(intent_labels=LABELS.intents, slot_labels=LABELS.slots, intent_scoring="cls")


def test_the_unseen_label_bonus_is_checked_and_saved(tiny_backbone, tmp_path):
    with pytest.raises(ValueError, match="unseen_intent_bonus"):
        ZeroShotConfig(intent_labels=LABELS.intents, slot_labels=LABELS.slots, unseen_intent_bonus=-0.1)
    model = build(tiny_backbone, unseen_intent_bonus=0.2, unseen_slot_bonus=0.1).eval()
    with pytest.raises(ValueError, match="unseen_slot_bonus"):
        model.set_labels(NEW_INTENTS, NEW_SLOT_TYPES, unseen_slot_bonus=3.0)
    model.set_labels(NEW_INTENTS, NEW_SLOT_TYPES)  # keeps the builder's bonuses
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = ZeroShotForIntentSlot.from_pretrained(tmp_path)
    assert (loaded.config.unseen_intent_bonus, loaded.config.unseen_slot_bonus) == (0.2, 0.1)
    assert loaded.new_labels() == (list(NEW_INTENTS), list(NEW_SLOT_TYPES))
    inputs = inputs_of(model)
    with torch.no_grad():
        assert torch.equal(model(**inputs).intent_logits, loaded(**inputs).intent_logits)
    # a config saved before the field existed: its labels are the trained ones
    old = ZeroShotConfig(intent_labels=LABELS.intents, slot_labels=LABELS.slots)
    assert old.trained_intents == LABELS.intents[1:] and old.trained_slot_types == ["song", "time"]


def test_the_recipe_default_bonus_is_the_models():
    from nlu.models.zeroshot import ZeroShotOptions
    from nlu.models.zeroshot import configuration_zeroshot as config

    section = ZeroShotOptions()
    assert section.unseen_intent_bonus == config.DEFAULT_UNSEEN_INTENT_BONUS
    assert section.unseen_slot_bonus == config.DEFAULT_UNSEEN_SLOT_BONUS


def test_set_labels_needs_a_tokenizer_and_valid_names(tiny_backbone):
    model = build(tiny_backbone).eval()
    model.label_tokenizer = None
    with pytest.raises(ModelError, match="label_tokenizer"):
        model.set_labels(NEW_INTENTS, NEW_SLOT_TYPES)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_backbone))
    with pytest.raises(ValueError, match="reserved"):
        model.set_labels({"UNK": ""}, {}, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="at least one intent"):
        model.set_labels({}, {"dish": ""}, tokenizer=tokenizer)
    model.set_labels(NEW_INTENTS, {}, tokenizer=tokenizer)  # intents only
    assert model.config.slot_labels == ["UNK", "O"]
    with torch.no_grad():
        assert model(**inputs_of(model)).slot_logits.shape == (BATCH, SEQ_LEN, 2)


def test_save_and_load_keep_the_label_set_and_the_logits(tiny_backbone, tmp_path):
    model = build(tiny_backbone).eval()
    model.set_labels(NEW_INTENTS, NEW_SLOT_TYPES)
    with torch.no_grad():  # non-default values, so anything re-initialised on load is caught
        model.log_logit_scale.fill_(math.log(20.0))
        model.o_scorer.bias.fill_(0.5)
    model.prepare_labels()  # weights changed in eval mode: refresh the cache
    model.save_pretrained(tmp_path, safe_serialization=True)
    loaded = ZeroShotForIntentSlot.from_pretrained(
        tmp_path
    )  # no tokenizer attached: the ids are in the config
    assert loaded.label_tokenizer is None and not loaded.training
    for key in (
        "intent_labels",
        "slot_labels",
        "intent_descriptions",
        "slot_descriptions",
        "label_token_ids",
    ):
        assert getattr(loaded.config, key) == getattr(model.config, key), key
    assert loaded.config.embed_dim == DIM
    inputs = inputs_of(model)
    with torch.no_grad():
        before, after = model(**inputs), loaded(**inputs)
    assert torch.equal(before.intent_logits, after.intent_logits)
    assert torch.equal(before.slot_logits, after.slot_logits)


def test_labels_without_token_ids_are_tokenised_by_the_attached_tokenizer(tiny_backbone):
    built = build(tiny_backbone)
    config = ZeroShotConfig(**built.config.to_dict() | {"label_token_ids": None})
    model = ZeroShotForIntentSlot(config).eval()
    model.load_state_dict(built.state_dict())
    assert model.intent_label_cache is None  # nothing to encode the labels with yet
    with pytest.raises(ModelError, match="label_tokenizer"), torch.no_grad():
        model(**inputs_of(model))
    model.label_tokenizer = AutoTokenizer.from_pretrained(str(tiny_backbone))
    with torch.no_grad():
        out = model(**inputs_of(model))
        expected = built.eval()(**inputs_of(model))
    assert model.config.label_token_ids == built.config.label_token_ids
    assert torch.allclose(out.slot_logits, expected.slot_logits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"use_crf": True}, "use_crf"),
        ({"embed_dim": 0}, "embed_dim"),
        ({"label_max_length": 2}, "label_max_length"),
        ({"classifier_dropout": 1.0}, "classifier_dropout"),
        ({"intent_descriptions": {"fly": "book a flight"}}, "fly"),
        ({"slot_labels": ["UNK", "O", "song"]}, "song"),
        ({"label_token_ids": [[2, 3]]}, "label_token_ids"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZeroShotConfig(**{"intent_labels": LABELS.intents, "slot_labels": LABELS.slots} | kwargs)


def test_builder_refuses_a_crf(tiny_backbone):
    with pytest.raises(ValueError, match="use_crf"):
        build(tiny_backbone, use_crf=True)


def test_lexicon_features_gate_the_token_states(tiny_backbone):
    model = build(tiny_backbone, lexicon_types=["song", "time"]).eval()
    inputs = inputs_of(model)
    features = torch.zeros(BATCH, SEQ_LEN, 2)
    features[:, 1:3, 0] = 1.0
    with torch.no_grad():
        plain = model(**inputs, lexicon_features=torch.zeros_like(features))
        model.lexicon_gate.proj.weight.normal_()
        gated = model(**inputs, lexicon_features=features)
    assert not torch.allclose(plain.slot_logits[:, 1:3], gated.slot_logits[:, 1:3])


def test_onnx_export_bakes_in_the_label_embeddings(tiny_backbone, tmp_path):
    """The eval model exports like the other joint models (see nlu.export.exporter._torch_export): one encoder
    in the graph, the label embeddings as constants, logits equal to torch's on other batch/sequence sizes."""
    import logging
    import warnings

    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from nlu.export.onnx_config import OnnxConfig

    model = build(tiny_backbone)
    model.set_labels(NEW_INTENTS, NEW_SLOT_TYPES)
    config = OnnxConfig()
    names = config.inputs(model)
    assert names == ["input_ids", "attention_mask", "token_type_ids"]
    sample = inputs_of(model)
    args = (
        sample["input_ids"][:2, :6],
        sample["attention_mask"][:2, :6],
        torch.zeros(2, 6, dtype=torch.long),
    )
    batch, seq = torch.export.Dim("batch", max=4096), torch.export.Dim("sequence", max=128)
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    wrapped = config.wrap(model).eval()  # fills the label cache before tracing
    assert model.intent_label_cache is not None
    with EncoderCalls(model) as calls, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapped,
            args,
            input_names=names,
            output_names=list(config.outputs),
            dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),),
            opset_version=18,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    assert len(calls.states) == 1  # traced once, on the utterance: no label encoder in the graph
    path = tmp_path / "model.onnx"
    program.save(str(path), external_data=False)
    graph = onnx.load(str(path)).graph
    softmaxes = [node for node in graph.node if node.op_type == "Softmax"]
    assert len(softmaxes) <= model.encoder.config.num_hidden_layers  # one attention per layer, one encoder
    constants = [numpy_helper.to_array(t) for t in graph.initializer]
    assert model.new_labels()[0]  # new intents: scored in the encoder space, against the label texts' states
    for cache in (model.intent_text_cache.numpy(), model.slot_type_cache.numpy()):
        assert any(
            np.allclose(c, form) for c in constants for form in (cache, cache.T) if c.shape == form.shape
        )

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {k: v.numpy() for k, v in sample.items()} | {
        "token_type_ids": np.zeros((BATCH, SEQ_LEN), np.int64)
    }
    intent_onnx, slot_onnx = session.run(None, feeds)
    with torch.no_grad():
        out = model(**sample)
    assert intent_onnx.shape == (BATCH, 5) and slot_onnx.shape == (BATCH, SEQ_LEN, 8)
    assert np.abs(out.intent_logits.numpy() - intent_onnx).max() < 1e-4
    assert np.abs(out.slot_logits.numpy() - slot_onnx).max() < 1e-4


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("PlayMusic", "play music"),
        ("fromloc.city_name", "fromloc city name"),
        ("alarm/set_alarm", "alarm set alarm"),
        ("timeRange", "time range"),
        ("HTTPRequest", "http request"),
        ("atis_flight#atis_airfare", "atis flight atis airfare"),
        ("localisation-ville", "localisation ville"),
        ("city", "city"),
    ],
)
def test_humanize(name, words):
    assert humanize(name) == words


def test_label_text_joins_the_name_and_the_description():
    assert label_text("PlayMusic", "play a song ") == "play music: play a song"
    assert label_text("fromloc.city_name", "") == "fromloc city name"


def test_load_label_file_reads_the_snips_labels():
    intents, slots = load_label_file(ASSETS / "snips_labels.yaml")
    assert list(intents) == [
        "AddToPlaylist", "BookRestaurant", "GetWeather", "PlayMusic", "RateBook", "SearchCreativeWork",
        "SearchScreeningEvent",
    ]  # fmt: skip
    assert intents["GetWeather"].startswith("ask for the weather")
    assert len(slots) >= 10 and slots["artist"] and slots["spatial_relation"] == ""
    assert all(isinstance(d, str) for d in [*intents.values(), *slots.values()])


def test_load_label_file_takes_either_section(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("slots:\n  dish: a meal\n  cuisine:\n", encoding="utf-8")
    assert load_label_file(path) == ({}, {"dish": "a meal", "cuisine": ""})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- PlayMusic\n- GetWeather\n", ["expected a mapping"]),
        ("intents:\n  PlayMusic: 3\n", ["intents.PlayMusic", "got int"]),
        ("intents:\n  PlayMusic: [a, b]\nslot: {}\n", ["intents.PlayMusic", "slot: unknown section"]),
        ("intents: [PlayMusic]\n", ["intents: expected a mapping"]),
        ("intents: {PlayMusic: play\n", ["not valid YAML"]),
        ("", ["expected a mapping"]),
    ],
)
def test_load_label_file_names_the_file_and_key_of_each_problem(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_label_file(path)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_load_label_file_reports_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_label_file(tmp_path / "absent.yaml")


def test_label_file_by_the_name_of_one_that_ships_with_nlu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found in the package, wherever nlu runs
    intents, slots = load_label_file("snips")
    assert intents["GetWeather"] and slots["artist"]
    with pytest.raises(DataError, match=r"snipz: no such label file.*atis, massive, snips, xsid"):
        load_label_file("snipz")


def test_label_file_by_its_path_in_a_checkout_before_the_cards_moved(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    assert load_label_file("data_cards/labels/snips.yml") == load_label_file("snips")
    assert "write labels: snips" in caplog.text
