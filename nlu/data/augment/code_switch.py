"""Code-switching augmentation (Krishnan et al. 2021, "Multilingual Code-Switching for Zero-Shot Cross-Lingual
Intent Prediction and Slot Filling").

An utterance is cut into chunks: each slot span (``B-X I-X ...``) is a chunk, and so is each run of ``O`` words.
Each chunk is replaced, with probability ``probability``, by its word-by-word translation into a language drawn
for that chunk from ``languages``, using MUSE bilingual dictionaries (``source target`` a line; several lines for
one source word are alternatives, one drawn at random). A translated chunk keeps its label: ``B-X`` on its first
word and ``I-X`` on the rest, ``O`` for ``O`` chunks. Every chunk survives exactly once, in order: none is
dropped, duplicated or relabelled (the public reference script does all three; this does not follow it).

Identity pairs (``was was``) are dropped when a dictionary is read, so a substitution always changes the word;
a word missing from a dictionary stays as it is, and :class:`CodeSwitchReport` counts how often that happens.
The draws depend only on ``seed``, the example's id and the copy number, so the output is the same whatever
the order of the examples or the number of processes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlu.data.bio import spans
from nlu.data.example import Example
from nlu.errors import DataError

# Language families of the MUSE dictionaries at hand (en -> xx); a recipe may name a family instead of languages.
LANGUAGE_FAMILIES: dict[str, list[str]] = {
    "germanic": ["de", "nl", "da", "sv", "no"],
    "romance": ["es", "fr", "it", "pt", "ro", "ca"],
    "slavic": ["ru", "pl", "cs", "sr", "uk", "bg"],
    "indo-aryan": ["hi", "bn", "ur", "mr"],
    "turkic": ["tr", "kk", "az"],
    "sino-tibetan": ["zh"],
    "japonic": ["ja"],
    "austroasiatic": ["vi"],
    "austronesian": ["id", "ms", "tl"],
    "semitic": ["ar", "he"],
}


@dataclass
class BilingualDictionary:
    """Word translations from one language into another; keys and values lower-case single words."""

    language: str
    translations: dict[str, list[str]]
    identity_pairs_dropped: int = 0

    @classmethod
    def load(cls, path: str | Path, language: str) -> BilingualDictionary:
        """Read a MUSE dictionary (``source target`` a line, UTF-8); errors name the file and line."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such dictionary file (MUSE format: 'source target' a line)")
        translations: dict[str, list[str]] = {}
        identical = 0
        with path.open(encoding="utf-8-sig") as f:
            for lineno, line in enumerate(f, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise DataError(
                        f"{path}:{lineno}: expected 'source target' (two words), found {len(fields)}: {line.strip()!r}"
                    )
                source, target = fields[0].lower(), fields[1].lower()
                if source == target:
                    identical += 1
                    continue
                alternatives = translations.setdefault(source, [])
                if target not in alternatives:
                    alternatives.append(target)
        if not translations:
            raise DataError(f"{path}: no usable word pairs (all identical, or the file is empty)")
        return cls(language=language, translations=translations, identity_pairs_dropped=identical)


def load_dictionaries(
    folder: str | Path, languages: Sequence[str], source: str = "en"
) -> dict[str, BilingualDictionary]:
    """``<folder>/<source>-<lang>.txt`` for each language."""
    folder = Path(folder)
    missing = [lang for lang in languages if not (folder / f"{source}-{lang}.txt").is_file()]
    if missing:
        available = sorted(p.stem.split("-", 1)[1] for p in folder.glob(f"{source}-*.txt"))
        raise DataError(
            f"{folder}: no dictionary for {', '.join(missing)} ({source}-<lang>.txt); available: "
            f"{', '.join(available) or 'none'}"
        )
    return {lang: BilingualDictionary.load(folder / f"{source}-{lang}.txt", lang) for lang in languages}


def expand_languages(names: Iterable[str]) -> list[str]:
    """Languages and family names (``romance``) -> languages, in order, without repeats."""
    out: list[str] = []
    for name in names:
        for lang in LANGUAGE_FAMILIES.get(name, [name]):
            if lang not in out:
                out.append(lang)
    return out


def chunks(tags: Sequence[str]) -> list[tuple[int, int, str | None]]:
    """``(start, end, slot type or None)``: each slot span, and each maximal run of ``O`` words."""
    out: list[tuple[int, int, str | None]] = []
    slot_spans = spans(list(tags))
    position = 0
    for kind, start, end in slot_spans:
        if start > position:
            out.append((position, start, None))
        out.append((start, end, kind))
        position = end
    if position < len(tags):
        out.append((position, len(tags), None))
    return out


@dataclass
class CodeSwitchReport:
    """What the augmentation did: per language, words looked up and words the dictionary had."""

    originals: int = 0
    copies: int = 0
    chunks_switched: int = 0
    chunks_total: int = 0
    looked_up: dict[str, int] = field(default_factory=dict)
    translated: dict[str, int] = field(default_factory=dict)

    def coverage(self) -> dict[str, float]:
        return {lang: self.translated.get(lang, 0) / n for lang, n in self.looked_up.items() if n}

    def to_dict(self) -> dict:
        return {
            "originals": self.originals,
            "copies": self.copies,
            "chunks_switched": self.chunks_switched,
            "chunks_total": self.chunks_total,
            "words_looked_up": dict(self.looked_up),
            "words_translated": dict(self.translated),
            "coverage": {lang: round(c, 4) for lang, c in self.coverage().items()},
        }


class CodeSwitcher:
    """``augment(examples)`` -> each original followed by ``copies`` code-switched versions of it."""

    def __init__(
        self,
        dictionaries: dict[str, BilingualDictionary],
        probability: float = 0.5,
        copies: int = 1,
        seed: int = 0,
    ):
        if not dictionaries:
            raise ValueError("code-switching needs at least one dictionary")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        if copies < 1:
            raise ValueError(f"copies must be at least 1, got {copies}")
        self.dictionaries = dictionaries
        self.languages = sorted(dictionaries)
        self.probability = probability
        self.copies = copies
        self.seed = seed
        self.report = CodeSwitchReport()

    def augment(self, examples: Iterable[Example]) -> list[Example]:
        out: list[Example] = []
        for example in examples:
            out.append(example)
            self.report.originals += 1
            for copy in range(1, self.copies + 1):
                out.append(self.switch(example, copy))
                self.report.copies += 1
        return out

    def switch(self, example: Example, copy: int = 1) -> Example:
        """One code-switched version of ``example``; the same (seed, id, copy) always gives the same words."""
        rng = random.Random(f"{self.seed}:{example.id}:{copy}")
        tokens: list[str] = []
        tags: list[str] = []
        used: list[str] = []
        for start, end, kind in chunks(example.tags):
            words = example.tokens[start:end]
            self.report.chunks_total += 1
            if rng.random() < self.probability:
                lang = rng.choice(self.languages)
                words = [self._translate(word, lang, rng) for word in words]
                self.report.chunks_switched += 1
                if lang not in used:
                    used.append(lang)
            tokens += words
            tags += ["O"] * len(words) if kind is None else [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        meta = {**example.meta, "augmented": "code_switch", "source_id": example.id, "switched_to": used}
        return Example(
            id=f"{example.id}-cs{copy}",
            tokens=tokens,
            tags=tags,
            intent=example.intent,
            lang=example.lang,
            meta=meta,
        )

    def _translate(self, word: str, lang: str, rng: random.Random) -> str:
        self.report.looked_up[lang] = self.report.looked_up.get(lang, 0) + 1
        alternatives = self.dictionaries[lang].translations.get(word.lower())
        if not alternatives:
            return word
        self.report.translated[lang] = self.report.translated.get(lang, 0) + 1
        target = rng.choice(alternatives)
        return target[:1].upper() + target[1:] if word[:1].isupper() and word[1:].islower() else target


__all__ = [
    "BilingualDictionary",
    "CodeSwitchReport",
    "CodeSwitcher",
    "LANGUAGE_FAMILIES",
    "chunks",
    "expand_languages",
    "load_dictionaries",
]
