"""The prediction record shared by the torch model, the ONNX runtime and LLM backends, and the one function
that builds it from a parser's decisions (:func:`assemble_prediction`).

``Prediction.to_dict()`` is the parse result of Rasa 3's ``/model/parse``, field for field: ``intent`` with
``id``, ``name`` and ``confidence`` (``{"name": null, "confidence": 0.0}`` when there is no text),
``intent_ranking`` alike, and entities with ``entity``, ``value``, ``start``, ``end``, ``confidence_entity`` and
``extractor``, plus ``role``, ``group`` and ``processors`` where they apply.

Kept free of torch and numpy imports so that the runtime can use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlu.data.bio import spans, split_slot_type

MODEL_EXTRACTOR = "nlu-toolkit"  # the ``extractor`` of entities a model found (Rasa names its components)


def intent_id(name: str) -> int:
    """A stable id for an intent name: Rasa reports ``hash(name)``, which changes with every process; this is
    the first 53 bits of the name's SHA-256, the same everywhere and exact in JavaScript numbers."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") >> 11


@dataclass
class Entity:
    """A slot value: ``start``/``end`` are character offsets into the original text (end exclusive).

    ``entity`` is the entity type without its role and group (``city``, not ``city#destination``); ``value`` is
    the text of the span, or the canonical value of an entity synonym (``processors`` then names the mapper);
    ``extractor`` says what found it: the model, the regex extractor or a button payload."""

    entity: str
    value: Any
    start: int
    end: int
    confidence: float
    role: str | None = None
    group: str | None = None
    extractor: str = MODEL_EXTRACTOR
    processors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "confidence_entity": round(float(self.confidence), 6),
            "value": self.value,
            "extractor": self.extractor,
        }
        if self.role is not None:
            out["role"] = self.role
        if self.group is not None:
            out["group"] = self.group
        if self.processors:
            out["processors"] = list(self.processors)
        return out


def _intent_dict(name: str, confidence: float) -> dict:
    return {"id": intent_id(name), "name": name, "confidence": round(float(confidence), 6)}


@dataclass
class Prediction:
    """What a parser says about one utterance, in the shape Rasa-style dialogue frameworks consume.

    ``intent`` is ``None`` for empty input. ``tokens``/``tags`` are the word-level view used by the evaluator
    (the model's own tags: a slot type there keeps its ``#role``/``@group``). ``truncated`` is true when the
    utterance was longer than the model's maximum length; words past the limit are tagged ``O`` and
    ``words_used`` says how many were read.
    """

    text: str
    intent: str | None
    intent_confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    truncated: bool = False
    words_used: int = 0

    def to_dict(self) -> dict:
        """Rasa 3's parse result: ``text``, ``intent``, ``entities``, ``intent_ranking`` (and ``truncated``,
        ``words_used``, ``words_total`` for an utterance longer than the model reads)."""
        out: dict = {
            "text": self.text,
            "intent": {"name": None, "confidence": 0.0}
            if self.intent is None
            else _intent_dict(self.intent, self.intent_confidence),
            "entities": [e.to_dict() for e in self.entities],
            "intent_ranking": [_intent_dict(n, c) for n, c in self.ranking],
        }
        if self.truncated:
            out["truncated"] = True
            out["words_used"] = self.words_used
            out["words_total"] = len(self.tokens)
        return out


def entities_from_tags(
    text: str,
    offsets: Sequence[tuple[int, int]],
    tags: Sequence[str],
    confidences: Sequence[float],
) -> list[Entity]:
    """Turn word-level BIO tags into entities with character spans in ``text``.

    ``offsets[i]`` is the character span of word ``i``; an entity's confidence is the mean confidence of its words.
    A slot type's role and group (``city#destination@1``) become the entity's ``role`` and ``group``.
    """
    entities = []
    for kind, first, last in spans(list(tags)):
        start, end = offsets[first][0], offsets[last - 1][1]
        conf = sum(confidences[first:last]) / (last - first)
        entity, role, group = split_slot_type(kind)
        entities.append(Entity(entity, text[start:end], start, end, conf, role=role, group=group))
    return entities


def assemble_prediction(
    text: str,
    words: Sequence[str],
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    intent_probs: Sequence[float],
    slot_ids: Sequence[int],
    slot_confidences: Sequence[float],
    intent_labels: Sequence[str],
    slot_labels: Sequence[str],
    ranking_size: int = 10,
) -> Prediction:
    """One utterance's :class:`Prediction` from the model's decisions, shared by the torch predictor and the
    ONNX runtime so both give the same output for the same numbers.

    ``word_ids``: the tokenizer's word index per sub-token (None for special tokens), after truncation;
    ``slot_ids``/``slot_confidences``: one per word the model saw, in word order; ``intent_probs``: over the
    intent vocabulary, whose index 0 (UNK) is never reported. Words past the truncation point are tagged ``O``.
    """
    seen = sorted({w for w in word_ids if w is not None})
    tags = ["O"] * len(words)
    confidences = [1.0] * len(words)
    for w, tag_id, conf in zip(seen, slot_ids, slot_confidences, strict=True):
        tags[w] = slot_labels[tag_id]
        confidences[w] = float(conf)
    words_used = (seen[-1] + 1) if seen else 0
    ranked = sorted(range(1, len(intent_probs)), key=lambda k: -intent_probs[k])[:ranking_size]
    ranking = [(intent_labels[k], float(intent_probs[k])) for k in ranked]
    return Prediction(
        text=text,
        intent=ranking[0][0],
        intent_confidence=ranking[0][1],
        ranking=ranking,
        entities=entities_from_tags(text, offsets, tags, confidences),
        tokens=list(words),
        tags=tags,
        truncated=words_used < len(words),
        words_used=words_used,
    )
