"""Gazetteers (entity lists per slot type) and the word-level features they give a model. Torch-free: the ONNX
runtime computes the same features as training.

A gazetteer maps each slot type to phrases, one a line in its file, as Rasa lookup tables are written::

    # cities.txt -> slot type "city"
    new york
    boston

Matching is case-insensitive on whole words, longest phrase first, left to right; a word inside a match of type
T gets feature T. A word can carry several types (``washington`` a city and a state). Features are a
``(num_words, num_types)`` array of 0/1, in the gazetteer's type order.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from nlu.data.bio import spans
from nlu.data.example import Example
from nlu.errors import DataError

LEXICON_FILE = "lexicon.json"


class Gazetteer:
    def __init__(self, entries: dict[str, Iterable[str]]):
        self.types: list[str] = sorted(entries)
        self.phrases: dict[str, list[str]] = {}
        self._index: dict[tuple[str, ...], set[int]] = {}
        for t, kind in enumerate(self.types):
            phrases = sorted({" ".join(p.lower().split()) for p in entries[kind] if p.strip()})
            self.phrases[kind] = phrases
            for phrase in phrases:
                self._index.setdefault(tuple(phrase.split()), set()).add(t)
        self.max_words = max((len(k) for k in self._index), default=0)

    def __len__(self) -> int:
        return sum(len(p) for p in self.phrases.values())

    def features(self, words: Sequence[str]) -> np.ndarray:
        """(len(words), len(types)) float32, 1 where a word is inside a phrase of that type."""
        out = np.zeros((len(words), len(self.types)), dtype=np.float32)
        lowered = [w.lower() for w in words]
        for start in range(len(lowered)):
            for length in range(min(self.max_words, len(lowered) - start), 0, -1):
                hit = self._index.get(tuple(lowered[start : start + length]))
                if hit:
                    out[start : start + length, sorted(hit)] = 1.0
                    break  # the longest phrase starting here; shorter ones inside it add nothing new
        return out

    @classmethod
    def from_files(cls, files: dict[str, str | Path]) -> Gazetteer:
        entries = {}
        for kind, path in files.items():
            path = Path(path)
            if not path.is_file():
                raise DataError(f"model.lexicon.files.{kind}: {path}: no such file (one phrase a line)")
            try:
                lines = path.read_text(encoding="utf-8-sig").splitlines()
            except UnicodeDecodeError:
                raise DataError(f"{path}: not UTF-8 text") from None
            entries[kind] = [line for line in lines if line.strip() and not line.startswith("#")]
            if not entries[kind]:
                raise DataError(f"{path}: no phrases (one a line) for lexicon type {kind!r}")
        return cls(entries)

    @classmethod
    def from_examples(
        cls, examples: Iterable[Example], slot_types: Sequence[str] | dict[str, Sequence[str]]
    ) -> Gazetteer:
        """The values slot types take in ``examples`` (build it from the training split only).

        ``slot_types``: a list of slot types, each its own lexicon type; or a mapping from lexicon type to
        slot-type patterns (``fnmatch``: ``{"city": ["*city_name"]}`` pools ``fromloc.city_name``,
        ``toloc.city_name``, ...).
        """
        patterns = {t: [t] for t in slot_types} if not isinstance(slot_types, dict) else dict(slot_types)
        entries: dict[str, set[str]] = {kind: set() for kind in patterns}
        for ex in examples:
            for slot, start, end in spans(ex.tags):
                for kind, globs in patterns.items():
                    if any(fnmatch.fnmatchcase(slot, g) for g in globs):
                        entries[kind].add(" ".join(ex.tokens[start:end]))
        empty = [kind for kind, values in entries.items() if not values]
        if empty:
            raise DataError(
                f"model.lexicon.from_train: no value of slot type(s) {', '.join(empty)} in the train split"
            )
        return cls(entries)

    def save(self, directory: Path) -> None:
        path = Path(directory) / LEXICON_FILE
        path.write_text(
            json.dumps({"types": self.types, "phrases": self.phrases}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> Gazetteer:
        path = Path(directory) / LEXICON_FILE
        if not path.is_file():
            raise DataError(f"{directory}: the model uses a lexicon but {LEXICON_FILE} is missing")
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["phrases"])


def extra_inputs(
    names: Sequence[str],
    words_batch: Sequence[Sequence[str]],
    word_ids_batch: Sequence[Sequence[int | None]],
    width: int,
    gazetteer: Gazetteer | None = None,
) -> dict[str, np.ndarray]:
    """The model inputs besides the tokenizer's, for a padded batch of ``width`` sub-tokens.

    ``word_mask`` (batch, width) bool: true on each word's first sub-token. ``lexicon_features``
    (batch, width, num_types) float32: every sub-token of a word carries the word's gazetteer features.
    """
    batch = len(words_batch)
    out: dict[str, np.ndarray] = {}
    if "word_mask" in names:
        mask = np.zeros((batch, width), dtype=bool)
        for b, word_ids in enumerate(word_ids_batch):
            previous = None
            for p, wid in enumerate(word_ids):
                mask[b, p] = wid is not None and wid != previous
                previous = wid
        out["word_mask"] = mask
    if "lexicon_features" in names:
        if gazetteer is None:
            raise DataError("the model takes lexicon features but no gazetteer was given")
        feats = np.zeros((batch, width, len(gazetteer.types)), dtype=np.float32)
        for b, (words, word_ids) in enumerate(zip(words_batch, word_ids_batch, strict=True)):
            per_word = gazetteer.features(words)
            for p, wid in enumerate(word_ids):
                if wid is not None:
                    feats[b, p] = per_word[wid]
        out["lexicon_features"] = feats
    return out
