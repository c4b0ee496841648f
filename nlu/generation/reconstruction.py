"""Knowledge-base reconstruction (Wang et al. 2018): read a record back out of a text with the toolkit's own
slot filler, to check that a generated text says what its record says.

Training data for the slot filler comes from the same data set's (record, text) pairs:

* :class:`RecordAligner` finds each record value in its text as a span (the value as written, or one of its
  surface forms from a forms file such as ``recipes/e2e/value_forms.yml``) and tags it ``B-/I-<slot>``; values of
  ``sentence_slots`` that texts express without a span (E2E's ``familyFriendly: no`` is "not suitable for
  children") become the utterance's intent, ``familyFriendly=no``, which the intent head learns.
* :class:`ValueNormalizer` learns from the aligned training spans which value a surface string stands for
  (``"inexpensive"`` under ``priceRange`` -> ``cheap``).
* :class:`RecordExtractor` turns the slot filler's predictions back into records.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.data.alignment import split_words
from nlu.data.example import Example
from nlu.errors import RecordError
from nlu.generation.records import RecordText
from nlu.prediction import Prediction

NO_SENTENCE_SLOT = "none"


def load_forms(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """``{slot: {value: [surface forms]}}`` from YAML; raises :class:`RecordError` naming the key if malformed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise RecordError(f"{path}: cannot read value forms: {err}") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected slot: {{value: [forms]}}")
    for slot, values in data.items():
        if not isinstance(values, dict) or not all(
            isinstance(v, list) and all(isinstance(f, str) and f.strip() for f in v) for v in values.values()
        ):
            raise RecordError(f"{path}: {slot}: expected value: [non-empty surface forms]")
    return {str(s): {str(v): list(f) for v, f in values.items()} for s, values in data.items()}


def tag_name(slot: str) -> str:
    """A slot type as a BIO tag suffix: spaces (E2E's ``customer rating``) become underscores."""
    return "_".join(slot.split())


def _match_form(word: str) -> str:
    """How words are compared: lower-cased, without a final full stop, which the word splitter leaves on short
    words ("pub.", "5.") because it cannot tell them from abbreviations."""
    return word.lower().rstrip(".") or word


def _lower_words(text: str) -> list[str]:
    return [_match_form(w) for w, _, _ in split_words(text)]


@dataclass
class AlignmentStats:
    values: int = 0
    aligned: int = 0
    by_slot: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def to_dict(self) -> dict:
        return {
            "values": self.values,
            "aligned": self.aligned,
            "aligned_rate": self.aligned / self.values if self.values else 0.0,
            "by_slot": {s: {"values": v[0], "aligned": v[1]} for s, v in sorted(self.by_slot.items())},
        }


class RecordAligner:
    """(record, text) -> an :class:`Example` with the record's values tagged as spans of the text."""

    def __init__(self, forms: Mapping[str, Mapping[str, Sequence[str]]] | None = None, sentence_slots=()):
        self.forms = {s: {v: list(f) for v, f in values.items()} for s, values in (forms or {}).items()}
        self.sentence_slots = list(sentence_slots)
        self.stats = AlignmentStats()

    def intent(self, record: Mapping[str, Sequence[str]]) -> str:
        parts = [f"{s}={record[s][0]}" for s in self.sentence_slots if record.get(s)]
        return "|".join(parts) or NO_SENTENCE_SLOT

    def example(self, item: RecordText, example_id: str = "") -> Example:
        if item.text is None:
            raise RecordError(f"{example_id or 'record'}: a text is needed to align its values")
        words = [w for w, _, _ in split_words(item.text)]
        lower = [_match_form(w) for w in words]
        tags = ["O"] * len(words)
        # Candidates (slot, form words), longest first, so "city centre" wins over "centre" and a name that
        # contains "bar" is claimed before the eatType form "bar".
        candidates = []
        for slot, values in item.record.items():
            if slot in self.sentence_slots:
                continue
            for value in values:
                forms = [value, *self.forms.get(slot, {}).get(value, [])]
                for form in dict.fromkeys(forms):
                    candidates.append((slot, value, _lower_words(form)))
        candidates.sort(key=lambda c: -len(c[2]))
        found: set[tuple[str, str]] = set()
        for slot, value, form in candidates:
            n = len(form)
            for start in range(len(lower) - n + 1):
                if lower[start : start + n] == form and all(t == "O" for t in tags[start : start + n]):
                    name = tag_name(slot)
                    tags[start : start + n] = [f"B-{name}"] + [f"I-{name}"] * (n - 1)
                    found.add((slot, value))
        for slot, values in item.record.items():
            if slot in self.sentence_slots:
                continue
            for value in values:
                ok = (slot, value) in found
                self.stats.values += 1
                self.stats.aligned += ok
                self.stats.by_slot[slot][0] += 1
                self.stats.by_slot[slot][1] += ok
        return Example(example_id or (item.id or ""), words, tags, self.intent(item.record))


class ValueNormalizer:
    """Which record value a span stands for, by slot: learned from aligned training spans (the most frequent
    value for a lower-cased surface string); an unseen surface string stands for itself."""

    def __init__(self, table: Mapping[str, Mapping[str, str]] | None = None):
        self.table = {s: dict(v) for s, v in (table or {}).items()}

    @classmethod
    def learn(cls, items: Iterable[RecordText], examples: Iterable[Example]) -> ValueNormalizer:
        counts: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for item, ex in zip(items, examples, strict=True):
            slots = {tag_name(s): s for s in item.record}
            for name, surface in _spans(ex.tokens, ex.tags):
                slot = slots.get(name, name)
                for value in item.record.get(slot, []):
                    if _lower_words(surface) == _lower_words(value) or len(item.record[slot]) == 1:
                        counts[slot][_key(surface)][value] += 1
        table = {
            s: {surface: c.most_common(1)[0][0] for surface, c in forms.items()}
            for s, forms in counts.items()
        }
        return cls(table)

    def value(self, slot: str, surface: str) -> str:
        return self.table.get(slot, {}).get(_key(surface), surface)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps(self.table, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
        )

    @classmethod
    def load(cls, path: Path) -> ValueNormalizer:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


def _key(surface: str) -> str:
    return " ".join(_lower_words(surface))


def _spans(tokens: Sequence[str], tags: Sequence[str]) -> list[tuple[str, str]]:
    out, current, words = [], None, []
    for token, tag in [*zip(tokens, tags, strict=True), ("", "O")]:
        if tag.startswith("I-") and current == tag[2:]:
            words.append(token)
            continue
        if current is not None:
            out.append((current, " ".join(words)))
        current, words = (tag[2:], [token]) if tag[:2] in ("B-", "I-") else (None, [])
    return out


class RecordExtractor:
    """Texts -> records, with a slot filler (any callable texts -> :class:`Prediction`) and a normalizer."""

    def __init__(
        self,
        predict: Callable[[list[str]], list[Prediction]],
        normalizer: ValueNormalizer,
        sentence_slots: Sequence[str] = (),
    ):
        self.predict = predict
        self.normalizer = normalizer
        self.sentence_slots = list(sentence_slots)

    def extract(self, texts: Sequence[str]) -> list[dict[str, list[str]]]:
        slot_of_tag = {tag_name(s): s for s in self.normalizer.table}
        records = []
        for prediction in self.predict(list(texts)):
            record: dict[str, list[str]] = {}
            for entity in prediction.entities:
                slot = slot_of_tag.get(entity.entity, entity.entity)
                value = self.normalizer.value(slot, entity.value)
                if value not in record.setdefault(slot, []):
                    record[slot].append(value)
            if prediction.intent and prediction.intent not in (NO_SENTENCE_SLOT, "UNK"):
                for part in prediction.intent.split("|"):
                    slot, _, value = part.partition("=")
                    if slot in self.sentence_slots and value:
                        record[slot] = [value]
            records.append(record)
        return records
