"""The round trip every model must pass (STYLE.md habit 10).

Each variant is trained for a few steps from a recipe with the tiny backbone; its ``best/`` folder is loaded back
with ``Predictor.load`` and must handle one utterance, a batch, empty input and an over-long input, with labels
that do not depend on how the input arrives. Every step is its own test on the same trained folder
(``trained_model_dir``), so a new architecture is one more entry in ``VARIANTS`` and a new stage of the trip
(an exported model, a runtime) is one more test function taking ``trained_model_dir`` and ``predictor``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from nlu_testing import QA_TRAINING, write_recipe

from nlu.data.alignment import split_words
from nlu.data.registry import load_split
from nlu.inference import Predictor
from nlu.prediction import Prediction

DECODER = "tiny-decoder"  # stands for the tiny Llama backbone (the tiny_decoder_backbone fixture)
# recipe ``model`` section per variant; all train 30 steps at a high learning rate so that the tiny model
# predicts a mix of tags (a model that says "O" everywhere would make the consistency checks vacuous)
VARIANTS = {
    "jointbert": {"architecture": "jointbert", "use_crf": False},
    "jointbert_crf": {"architecture": "jointbert", "use_crf": True},
    "jointidsf": {"architecture": "jointidsf", "use_crf": True, "jointidsf": {"attention_dim": 16}},
    "slotrefine": {"architecture": "slotrefine", "use_crf": False, "slotrefine": {"heads": 2}},
    "ctran": {"architecture": "ctran", "use_crf": False, "ctran": {"heads": 2, "channels": 8}},
    "zeroshot": {"architecture": "zeroshot", "use_crf": False, "zeroshot": {"embed_dim": 16}},
    "zeroshot_qa": {"architecture": "zeroshot_qa", "use_crf": False, "zeroshot_qa": {"embed_dim": 16}},
    "contextual": {
        "architecture": "contextual",
        "contextual": {"discriminator_dim": 16, "label_head_dim": 16},
    },
    # gazetteer features from the train split: the artifact must carry the lists and the runtime match them
    "jointbert_crf_lexicon": {
        "architecture": "jointbert",
        "use_crf": True,
        "lexicon": {"from_train": ["city", "room"]},
    },
    # a decoder LLM backbone (the tiny Llama): the intent on the last token, causal or bidirectional attention
    "jointbert_crf_decoder": {"architecture": "jointbert", "use_crf": True, "backbone": DECODER},
    "jointbert_decoder_bidirectional": {
        "architecture": "jointbert",
        "use_crf": False,
        "backbone": DECODER,
        "attention": "bidirectional",
    },
}

# more steps for heads that start further from a useful tagger (a tanh bottleneck, a refiner, a decoder stack)
LONGER = {"max_steps": 80, "epochs": 4}
# randomly initialised Transformer layers on top: more steps at a moderate rate (the tiny CTRAN tags nothing but O
# after 80 steps; after 160 it predicts about 200 spans on DEMO dev)
TRANSFORMER = {"max_steps": 160, "epochs": 6, "learning_rate": 3e-3, "head_learning_rate": 3e-3}
# the tiny Llama's random layers learn more slowly than the tiny BERT's
DECODER_TRAINING = {"max_steps": 80, "epochs": 4, "learning_rate": 3e-3, "head_learning_rate": 3e-3}
TRAINING = {
    "jointidsf": LONGER,
    "ctran": TRANSFORMER,
    "zeroshot": LONGER,
    "zeroshot_qa": QA_TRAINING,
    "jointbert_crf_decoder": DECODER_TRAINING,
    "jointbert_decoder_bidirectional": DECODER_TRAINING,
}

UTTERANCES = [
    "can you play shake it off",
    "wake me up at 7 am tomorrow",
    "turn the bathroom desk lamp off",
    "what's the weather in paris?",
    "hi",
]


@pytest.fixture(scope="module", params=list(VARIANTS))
def trained_model_dir(request, tmp_path_factory, tiny_backbone) -> Path:
    from nlu.training.trainer import train

    folder = tmp_path_factory.mktemp(f"round-trip-{request.param}")
    model = dict(VARIANTS[request.param])
    if model.get("backbone") == DECODER:
        model["backbone"] = str(request.getfixturevalue("tiny_decoder_backbone"))
    recipe = write_recipe(
        folder / "recipe.yaml",
        tiny_backbone,
        model=model,
        training={"max_steps": 30, "epochs": 2, "learning_rate": 1e-2, "warmup_ratio": 0.0}
        | TRAINING.get(request.param, {}),
    )
    return train(recipe, output_dir=folder / "run").best_model_dir


@pytest.fixture(scope="module")
def predictor(trained_model_dir) -> Predictor:
    return Predictor.load(trained_model_dir)


def same_labels(a: Prediction, b: Prediction) -> bool:
    return (
        a.intent == b.intent
        and a.tags == b.tags
        and [(e.entity, e.start, e.end, e.value) for e in a.entities]
        == [(e.entity, e.start, e.end, e.value) for e in b.entities]
        and math.isclose(a.intent_confidence, b.intent_confidence, rel_tol=1e-4, abs_tol=1e-6)
    )


def test_best_folder_is_self_contained(trained_model_dir):
    files = {p.name for p in trained_model_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "intent_labels.txt",
        "slot_labels.txt",
    } <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl"))]
    assert ("lexicon.json" in files) == bool(
        json.loads((trained_model_dir / "config.json").read_text()).get("lexicon_types")
    )
    config = json.loads((trained_model_dir / "config.json").read_text())
    intents = (trained_model_dir / "intent_labels.txt").read_text().split()
    assert config["intent_labels"] == intents and intents[0] == "UNK"
    info = json.loads((trained_model_dir / "training_info.json").read_text())
    assert info["step"] > 0 and info["metric"] == "exact_match"


def test_one_utterance(predictor):
    (prediction,) = predictor.predict([UTTERANCES[0]])
    assert prediction.intent in predictor.intent_labels and prediction.intent != "UNK"
    assert 0.0 < prediction.intent_confidence <= 1.0
    confidences = [c for _, c in prediction.ranking]
    assert prediction.ranking[0] == (prediction.intent, prediction.intent_confidence)
    assert confidences == sorted(confidences, reverse=True)
    assert "UNK" not in [name for name, _ in prediction.ranking]
    assert prediction.tokens == UTTERANCES[0].split()
    assert len(prediction.tags) == len(prediction.tokens)
    assert all(tag in predictor.slot_labels and tag != "UNK" for tag in prediction.tags)
    assert not prediction.truncated and prediction.words_used == len(prediction.tokens)
    for entity in prediction.entities:
        assert UTTERANCES[0][entity.start : entity.end] == entity.value
        assert 0.0 < entity.confidence <= 1.0 + 1e-6
    json.dumps(prediction.to_dict())


def test_batch_gives_what_single_calls_give(predictor):
    """Padding and length-sorting inside a batch must not change any label."""
    batched = predictor.predict(UTTERANCES)
    assert [p.text for p in batched] == UTTERANCES  # input order kept
    for text, prediction in zip(UTTERANCES, batched, strict=True):
        assert same_labels(prediction, predictor.predict([text])[0]), text
    # a batch size smaller than the input splits it into several forward passes: same answers
    small = Predictor(
        predictor.model, predictor.tokenizer, batch_size=2, gazetteer=predictor.gazetteer
    ).predict(UTTERANCES)
    assert all(same_labels(a, b) for a, b in zip(small, batched, strict=True))


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_empty_input(predictor, text):
    batch = predictor.predict([UTTERANCES[0], text, UTTERANCES[1]])
    empty = batch[1]
    assert empty.text == text and empty.intent is None and empty.intent_confidence == 0.0
    assert empty.entities == [] and empty.tags == [] and not empty.truncated
    assert empty.to_dict()["intent"] == {"name": None, "confidence": 0.0}
    assert batch[0].intent is not None and batch[2].intent is not None


def test_600_word_input_is_truncated_without_error(predictor):
    words = ("turn on the kitchen lights and play some jazz in the living room " * 50).split()[:600]
    text = " ".join(words)
    (prediction,) = predictor.predict([text])
    assert len(words) == 600 and prediction.intent is not None
    assert prediction.truncated and prediction.to_dict()["truncated"] is True
    assert 0 < prediction.words_used < 600
    specials = predictor.tokenizer([["a"]], is_split_into_words=True).word_ids(0).count(None)
    assert (
        prediction.words_used <= predictor.max_length - specials
    )  # e.g. [CLS] and [SEP] take two sub-tokens
    assert len(prediction.tags) == len(prediction.tokens) == 600
    assert set(prediction.tags[prediction.words_used :]) == {"O"}  # unread words get no slot
    last_read_end = split_words(text)[prediction.words_used - 1][2]
    assert all(e.end <= last_read_end for e in prediction.entities)
    # the words that were read are labelled as if the utterance had stopped there
    (prefix,) = predictor.predict([" ".join(words[: prediction.words_used])])
    assert prefix.tags == prediction.tags[: prediction.words_used]


def test_pretokenised_and_raw_text_agree(predictor):
    """``predict_examples`` (the evaluator's path) and ``predict`` (the user's path) label DEMO test alike."""
    examples = load_split("demo", "test")
    from_words = predictor.predict_examples(examples)
    from_text = predictor.predict([" ".join(ex.tokens) for ex in examples])
    disagree = [
        ex.id for ex, a, b in zip(examples, from_words, from_text, strict=True) if not same_labels(a, b)
    ]
    assert not disagree
    assert {tag for p in from_words for tag in p.tags} != {"O"}  # the check above compared real slot labels


def test_exported_runtime_gives_the_same_labels(trained_model_dir, predictor, tmp_path_factory):
    """Export to ONNX, load with the torch-free ``Parser``: the labels are the torch model's."""
    from nlu.export import export_model
    from nlu.runtime import Parser

    artifact = tmp_path_factory.mktemp("round-trip-onnx") / "artifact"
    assert export_model(trained_model_dir, artifact)["parity"]["passed"]
    parser = Parser.load(artifact)
    long_text = " ".join(
        ("turn on the kitchen lights and play some jazz in the living room " * 50).split()[:600]
    )
    (one,) = parser.parse_batch([UTTERANCES[0]])
    assert same_labels(one, predictor.predict([UTTERANCES[0]])[0])
    for onnx, torch in zip(parser.parse_batch(UTTERANCES), predictor.predict(UTTERANCES), strict=True):
        assert same_labels(onnx, torch), torch.text
    empty = parser.parse("")
    assert empty.intent is None and empty.tags == [] and same_labels(empty, predictor.predict([""])[0])
    (onnx_long,) = parser.parse_batch([long_text])
    (torch_long,) = predictor.predict([long_text])
    assert same_labels(onnx_long, torch_long)
    assert onnx_long.truncated and (onnx_long.words_used, len(onnx_long.tags)) == (torch_long.words_used, 600)


def test_lexicon_features_reach_the_model(trained_model_dir, predictor):
    """For a model with a gazetteer: the gate has learned something, and the features change its output."""
    import torch

    from nlu.data.lexicon import extra_inputs

    model = predictor.model
    if not model.config.lexicon_types:
        pytest.skip("this variant has no lexicon")
    assert model.lexicon_gate.proj.weight.abs().sum() > 0
    words = ["what's", "the", "weather", "in", "paris"]
    enc = predictor.tokenizer([words], is_split_into_words=True, return_tensors="pt")
    feats = extra_inputs(
        ["lexicon_features"], [words], [enc.word_ids(0)], enc["input_ids"].shape[1], predictor.gazetteer
    )
    lexicon = torch.from_numpy(feats["lexicon_features"])
    assert lexicon.sum() > 0, "paris is a city of the DEMO train split"
    inputs = {k: v for k, v in enc.items() if k in predictor.input_names}
    with torch.no_grad():
        with_lexicon = model(**inputs, lexicon_features=lexicon).slot_logits
        without = model(**inputs, lexicon_features=torch.zeros_like(lexicon)).slot_logits
    assert not torch.allclose(with_lexicon, without)
