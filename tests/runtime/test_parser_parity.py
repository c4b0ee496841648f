"""The torch-free ``Parser`` gives what the torch ``Predictor`` gives on the model it was exported from, and a
shared ``Parser`` is safe to call from several threads."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from nlu.data.registry import load_split
from nlu.inference import Predictor
from nlu.prediction import Prediction
from nlu.runtime import Parser

LONG_WORDS = ("Turn on the Kitchen lights and play some jazz in the living room " * 50).split()[:600]
TEXTS = [
    "can you play shake it off",
    "Wake me up at 7 AM tomorrow, please.",
    "turn the bathroom desk lamp off!",
    "what's the weather in Paris?",
    '"hi"',
    "Book a table (for two) at st. louis; thanks",
    "",
    "   \t ",
    " ".join(LONG_WORDS),
    "hi",
]
TOLERANCE = 1e-4


def assert_same(onnx: Prediction, torch: Prediction) -> None:
    """Same labels, same spans, and confidences within ``TOLERANCE``."""
    assert onnx.text == torch.text
    assert onnx.intent == torch.intent, onnx.text
    assert onnx.tokens == torch.tokens and onnx.tags == torch.tags, onnx.text
    assert (onnx.truncated, onnx.words_used) == (torch.truncated, torch.words_used)
    assert math.isclose(onnx.intent_confidence, torch.intent_confidence, abs_tol=TOLERANCE)
    assert [name for name, _ in onnx.ranking] == [name for name, _ in torch.ranking]
    for (_, a), (_, b) in zip(onnx.ranking, torch.ranking, strict=True):
        assert math.isclose(a, b, abs_tol=TOLERANCE)
    assert [(e.entity, e.value, e.start, e.end) for e in onnx.entities] == [
        (e.entity, e.value, e.start, e.end) for e in torch.entities
    ]
    for a, b in zip(onnx.entities, torch.entities, strict=True):
        assert math.isclose(a.confidence, b.confidence, abs_tol=TOLERANCE)


@pytest.fixture(scope="module", params=[True, False], ids=["crf", "softmax"])
def pair(request, tiny_artifact, tiny_mixed_model_dir) -> tuple[Parser, Predictor]:
    return Parser.load(tiny_artifact(request.param)), Predictor.load(tiny_mixed_model_dir(request.param))


def test_parse_batch_matches_torch(pair):
    parser, predictor = pair
    from_onnx, from_torch = parser.parse_batch(TEXTS), predictor.predict(TEXTS)
    assert [p.text for p in from_onnx] == TEXTS  # input order kept
    for onnx, torch in zip(from_onnx, from_torch, strict=True):
        assert_same(onnx, torch)
    assert any(tag != "O" for p in from_torch for tag in p.tags)  # the comparison covered real slot tags

    long = from_onnx[TEXTS.index(" ".join(LONG_WORDS))]
    assert long.truncated and 0 < long.words_used < 600 and len(long.tags) == 600
    for empty in (from_onnx[TEXTS.index("")], from_onnx[TEXTS.index("   \t ")]):
        assert empty.intent is None and empty.tags == [] and empty.entities == []
        assert empty.to_dict() == {
            "text": empty.text,
            "intent": {"name": None, "confidence": 0.0},
            "intent_ranking": [],
            "entities": [],
        }


def test_batching_does_not_change_labels(pair):
    parser, _ = pair
    whole = parser.parse_batch(TEXTS)
    for small, one, text, prediction in zip(
        parser.parse_batch(TEXTS, batch_size=3), [parser.parse(t) for t in TEXTS], TEXTS, whole, strict=True
    ):
        assert_same(small, prediction)
        assert_same(one, prediction)
        assert prediction.text == text


def test_pretokenised_path_matches_torch(pair):
    """``parse_words`` (how the evaluator scores an artifact) against ``predict_examples`` on DEMO test."""
    parser, predictor = pair
    examples = load_split("demo", "test")
    from_onnx = parser.parse_words([ex.tokens for ex in examples])
    for onnx, torch in zip(from_onnx, predictor.predict_examples(examples), strict=True):
        assert_same(onnx, torch)


def test_shared_parser_is_thread_safe(tiny_artifact):
    """8 threads x 25 calls on one Parser give what the same calls give one after another."""
    parser = Parser.load(tiny_artifact(True), num_threads=1)
    texts = [t for t in TEXTS if t.strip()]
    expected = [parser.parse(t).to_dict() for t in texts]
    start = threading.Barrier(8, timeout=30)

    def work(worker: int) -> list[tuple[int, dict]]:
        start.wait()  # all threads call at once
        indices = [(worker + call) % len(texts) for call in range(25)]
        return [(i, parser.parse(texts[i]).to_dict()) for i in indices]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [
            r for future in [pool.submit(work, w) for w in range(8)] for r in future.result(timeout=60)
        ]
    assert len(results) == 8 * 25
    assert [got for _, got in results] == [expected[i] for i, _ in results]


def test_crf_artifact_decodes_under_the_models_bio_constraints(tiny_artifact, tiny_mixed_model_dir):
    """The CRF model's BIO constraints travel in the manifest, and the runtime never emits an I-X that continues
    no X span, even where the logits ask for one."""
    import itertools

    import numpy as np
    import torch

    from nlu.modules.crf_numpy import bio_constraints
    from nlu.runtime.manifest import read_manifest

    artifact = tiny_artifact(True)
    decoding = read_manifest(artifact)["decoding"]
    parser = Parser.load(artifact)
    allowed_start, allowed = bio_constraints(parser.slot_labels)
    assert not allowed_start.all(), "the tiny model's labels must include an I- tag"
    assert decoding["allowed_start"] == allowed_start.astype(int).tolist()
    assert decoding["allowed_transitions"] == allowed.astype(int).tolist()

    i_tags = [i for i, label in enumerate(parser.slot_labels) if label.startswith("I-")]
    outside = parser.slot_labels.index("O")
    emissions = np.zeros((4, len(parser.slot_labels)), dtype=np.float32)
    emissions[0, i_tags[0]] = 50.0  # an I- tag first
    emissions[1, outside] = 50.0
    emissions[2, i_tags[-1]] = 50.0  # an I- tag after O
    emissions[3, outside] = 50.0
    path, _ = parser.crf.decode(emissions)
    assert allowed_start[path[0]] and all(allowed[a, b] for a, b in itertools.pairwise(path))
    torch_crf = Predictor.load(tiny_mixed_model_dir(True)).model.crf  # rebuilt by from_pretrained
    assert (torch_crf.allowed_start == allowed_start).all() and (
        torch_crf.allowed_transitions == allowed
    ).all()
    assert torch_crf.decode(torch.from_numpy(emissions)[None]) == [path]
