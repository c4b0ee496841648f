"""The prediction record shared by the torch model, the ONNX runtime and LLM backends.

Kept free of torch and numpy imports so that the runtime can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Entity:
    """A slot value: ``start``/``end`` are character offsets into the original text (end exclusive)."""

    entity: str
    value: str
    start: int
    end: int
    confidence: float

    def to_dict(self) -> dict:
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence": round(float(self.confidence), 6),
        }


@dataclass
class Prediction:
    """What a parser says about one utterance, in the shape Rasa-style dialogue frameworks consume.

    ``intent`` is ``None`` for empty input. ``tokens``/``tags`` are the word-level view used by the evaluator.
    ``truncated`` is true when the utterance was longer than the model's maximum length; words past the limit
    are tagged ``O`` and ``words_used`` says how many were read.
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
        out: dict = {
            "text": self.text,
            "intent": None
            if self.intent is None
            else {"name": self.intent, "confidence": round(float(self.intent_confidence), 6)},
            "intent_ranking": [{"name": n, "confidence": round(float(c), 6)} for n, c in self.ranking],
            "entities": [e.to_dict() for e in self.entities],
        }
        if self.truncated:
            out["truncated"] = True
            out["words_used"] = self.words_used
            out["words_total"] = len(self.tokens)
        return out
