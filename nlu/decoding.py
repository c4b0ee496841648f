"""Logits -> word-level decisions: the one decoding every parser uses, the torch model's and the exported graph's
alike. UNK (index 0 of both vocabularies) is never predicted; slot tags come from a CRF's Viterbi path with
posterior-marginal confidences (``nlu.modules.crf_numpy``), or from a per-word argmax with softmax confidences.

numpy only, no torch: the runtime decodes with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlu.modules.crf_numpy import NumpyCRF

# Large but finite: keeps softmax and CRF arithmetic free of inf - inf.
MASKED = -1e4


@dataclass
class DecodedBatch:
    """Word-level decisions for a batch: per utterance, intent probabilities over the intent vocabulary
    (UNK forced to 0), and one slot tag id and confidence per word that the model saw."""

    intent_probs: list[list[float]]
    slot_ids: list[list[int]]
    slot_confidences: list[list[float]]


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def decoding_of(model) -> dict:
    """How a joint model's slot logits are decoded, as an artifact's manifest stores it: ``{"type": "softmax"}``,
    or ``{"type": "crf"}`` with the CRF's transition scores and its BIO constraints (as 0/1, so that the manifest
    stays compact; absent in artifacts exported before them). Reads the torch CRF's parameters without importing
    torch."""
    crf = getattr(model, "crf", None)
    if crf is None:
        return {"type": "softmax"}
    decoding = {
        "type": "crf",
        "transitions": crf.transitions.detach().tolist(),
        "start_transitions": crf.start_transitions.detach().tolist(),
        "end_transitions": crf.end_transitions.detach().tolist(),
    }
    if crf.allowed_start is not None:
        decoding["allowed_start"] = crf.allowed_start.astype(int).tolist()
    if crf.allowed_transitions is not None:
        decoding["allowed_transitions"] = crf.allowed_transitions.astype(int).tolist()
    return decoding


def slot_decoder(decoding: dict) -> NumpyCRF | None:
    """The CRF a decoding description holds (``{"type": "crf", "transitions": ..., ...}``, as an artifact's
    manifest and :meth:`nlu.modules.crf.CRF.decoding` write it), or None for ``{"type": "softmax"}``."""
    if decoding.get("type", "softmax") != "crf":
        return None
    return NumpyCRF(
        decoding["transitions"],
        decoding["start_transitions"],
        decoding["end_transitions"],
        allowed_start=decoding.get("allowed_start"),
        allowed=decoding.get("allowed_transitions"),
    )


def decode(
    intent_logits: np.ndarray,
    slot_logits: np.ndarray,
    positions: Sequence[Sequence[int]],
    crf: NumpyCRF | None = None,
) -> DecodedBatch:
    """intent_logits: (batch, num_intents); slot_logits: (batch, seq_len, num_tags), per sub-token;
    positions: per utterance, the sub-token position of each word the model saw (its first sub-token)."""
    intent_logits = np.array(intent_logits, dtype=np.float64)
    intent_logits[:, 0] = MASKED
    intent_probs = softmax(intent_logits)
    slot_logits = np.array(slot_logits, dtype=np.float32)  # a copy: the caller's logits stay as computed
    slot_logits[..., 0] = MASKED
    slot_ids, confidences = [], []
    for b, words in enumerate(positions):
        emissions = slot_logits[b, list(words)]
        if crf is not None:
            path, confidence = crf.decode(emissions)
        else:
            probs = softmax(emissions)
            path, confidence = probs.argmax(-1).tolist(), probs.max(-1).tolist()
        slot_ids.append(path)
        confidences.append(confidence)
    return DecodedBatch(intent_probs.tolist(), slot_ids, confidences)
