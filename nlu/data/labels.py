"""Label vocabularies, built from the training split only.

Index 0 of each vocabulary is the explicit unknown label ``UNK``. Intents and slot types that occur only in
dev/test map to it for the loss, are never predicted (decoding masks it) and so count as errors; the evaluation
report lists them by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nlu.data.bio import slot_type
from nlu.data.example import Example

UNK = "UNK"


@dataclass
class LabelVocab:
    intents: list[str]
    slots: list[str]

    @classmethod
    def from_examples(cls, examples: Iterable[Example]) -> LabelVocab:
        intents: set[str] = set()
        types: set[str] = set()
        for ex in examples:
            intents.add(ex.intent)
            types.update(t for t in (slot_type(tag) for tag in ex.tags) if t is not None)
        slots = ["O"] + [f"{p}-{t}" for t in sorted(types) for p in ("B", "I")]
        return cls(intents=[UNK, *sorted(intents)], slots=[UNK, *slots])

    @property
    def known_intents(self) -> list[str]:
        """The intents learned from training, in vocabulary order (UNK left out)."""
        return [name for name in self.intents if name != UNK]

    @property
    def slot_types(self) -> set[str]:
        """The slot types learned from training (UNK left out)."""
        return {t for t in (slot_type(s) for s in self.slots if s != UNK) if t is not None}

    def intent_id(self, intent: str) -> int:
        return self._intent_index.get(intent, 0)

    def slot_id(self, tag: str) -> int:
        return self._slot_index.get(tag, 0)

    def __post_init__(self) -> None:
        self._intent_index = {name: i for i, name in enumerate(self.intents)}
        self._slot_index = {name: i for i, name in enumerate(self.slots)}

    def save(self, directory: Path) -> None:
        (directory / "intent_labels.txt").write_text("\n".join(self.intents) + "\n", encoding="utf-8")
        (directory / "slot_labels.txt").write_text("\n".join(self.slots) + "\n", encoding="utf-8")
