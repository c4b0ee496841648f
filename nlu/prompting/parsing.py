"""Reading an LLM's reply back: an option number for intent choice, ``slot: value`` lines for slot filling.

Nothing here raises on any reply: a reply that cannot be read is reported (``None``, ``SlotParse.failed``) so that
an evaluation can count it and go on. Slot values are kept only where they are a contiguous span of the
utterance's words, compared case-insensitively and ignoring punctuation around each word, so every kept value has
exact word offsets; the counts in :class:`SlotParse` say how much of the reply was thrown away and why.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

_INTEGER = re.compile(r"\d+")
# Bullets and list numbering in front of a line: "- ", "* ", "• ", "1. ", "2) ".
_BULLET = re.compile(r"^\s*(?:[-*•+>]+|\d{1,3}[.)])\s+")
_SEPARATOR = re.compile(r"\s*[:=]\s*")
# A place inside a line where a second pair may start: "artist: x, service: y" or "artist: x; service: y".
_PAIR_START = re.compile(r"[,;]\s*([^\s,;:=]+)\s*[:=]")
_NONE_WORDS = {"none", "no slots", "no slot", "nothing", "n/a", "na", "null", "empty", "no entities"}
# Field names of the prompt itself, echoed by some models ("Slots: artist: madonna"), and words that start prose
# ("Note: ..."); never read as slot types, but what follows them is read as a line of its own.
_PROMPT_FIELDS = {"slots", "slot", "answer", "output", "utterance", "input", "intent", "response", "note"}
_MAX_LABEL_WORDS = 4


def parse_choice(reply: str | None, n_options: int) -> int | None:
    """The first integer from 1 to ``n_options`` in ``reply`` (the option number, 1-based, as the prompt numbers
    them), or ``None`` when there is none: ``"Answer: 3."`` -> 3; ``"0"`` or ``"7"`` of 5 options -> None."""
    if not reply:
        return None
    for match in _INTEGER.finditer(reply):
        digits = match.group()
        # int() refuses strings of more than 4300 digits; no option number is that long anyway.
        if len(digits) <= 6 and 1 <= int(digits) <= n_options:
            return int(digits)
    return None


@dataclass
class SlotParse:
    """What :func:`parse_slots` read from one reply.

    ``tags``: word-level BIO, one per word. ``proposed``: ``slot: value`` pairs in the reply, each ending up in
    exactly one of ``kept``, ``hallucinated`` (the value is not a span of the utterance), ``unknown_type`` (the slot
    name is not a candidate type) and ``overlapping`` (every occurrence of the value is already taken by an earlier
    kept pair: overlapping or duplicate proposals). ``failed``: the reply is None, or no line of it parses and it
    does not say ``none``.
    """

    tags: list[str]
    proposed: int = 0
    kept: int = 0
    hallucinated: int = 0
    unknown_type: int = 0
    overlapping: int = 0
    failed: bool = False
    spans: list[tuple[str, int, int]] = field(default_factory=list)


def _normalize_word(word: str) -> str:
    """Lower case, without the punctuation and symbols around it: ``"Boston."`` -> ``boston``, ``"st."`` -> ``st``."""
    start, end = 0, len(word)
    while start < end and _is_edge(word[start]):
        start += 1
    while end > start and _is_edge(word[end - 1]):
        end -= 1
    return word[start:end].casefold()


def _is_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in "PSC"


def _label_key(name: str) -> str:
    """``fromloc.city_name``, ``FromLoc City Name`` and ``"fromloc_city_name"`` all read as ``fromloccityname``."""
    return "".join(char for char in name.casefold() if char.isalnum())


def _strip_value(value: str) -> str:
    """Without surrounding white space, a trailing ``,``/``;`` (JSON-ish lists) and matching quotes."""
    value = value.strip().rstrip(",;").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
        value = value[1:-1]
    return value.strip()


def _is_none(text: str) -> bool:
    return " ".join(_normalize_word(word) for word in text.split()).strip(" .") in _NONE_WORDS


def _split_pairs(line: str, known: dict[str, str]) -> list[str]:
    """One line holding several pairs split at each ``,``/``;`` that is followed by a known slot name."""
    pieces, start = [], 0
    for match in _PAIR_START.finditer(line):
        if _label_key(match.group(1)) in known:
            pieces.append(line[start : match.start()])
            start = match.start() + 1
    pieces.append(line[start:])
    return pieces


class _Matcher:
    """Finds a value among the utterance's words: matching skips words that are only punctuation, and a match
    covers the words from its first to its last matched word."""

    def __init__(self, words: Sequence[str]):
        normalized = [_normalize_word(word) for word in words]
        self.positions = [i for i, word in enumerate(normalized) if word]
        self.keys = [normalized[i] for i in self.positions]

    def occurrences(self, value: str) -> list[tuple[int, int]]:
        """Word spans ``(first, last_exclusive)`` where ``value`` occurs, leftmost first."""
        needle = [word for word in (_normalize_word(part) for part in value.split()) if word]
        n = len(needle)
        if not n:
            return []
        found = []
        for start in range(len(self.keys) - n + 1):
            if self.keys[start : start + n] == needle:
                found.append((self.positions[start], self.positions[start + n - 1] + 1))
        return found


def parse_slots(reply: str | None, words: list[str], slot_types: Sequence[str]) -> SlotParse:
    """Read ``slot: value`` lines from ``reply`` into word-level BIO tags over ``words``.

    Tolerates bullets, list numbers, quotes, ``slot = value``, markdown emphasis, a trailing period, several pairs
    on one line and prose lines (ignored). Slot names match ``slot_types`` ignoring case and punctuation. Each
    value goes to its leftmost occurrence in the utterance that no earlier kept value overlaps; a value that is not
    a span of the utterance is dropped as hallucinated. A value list such as ``boston, denver`` that is not itself
    a span is read as separate values.
    """
    reader = _SlotReader(words, slot_types)
    if reply is None:
        reader.result.failed = True
        return reader.result
    for line in reply.splitlines():
        for piece in _split_pairs(line, reader.unambiguous()):
            reader.read(piece)
    reader.result.failed = not reader.parsed_any and not reader.said_none
    return reader.result


class _SlotReader:
    """The state of reading one reply: the tags so far, the words taken, and what the reply said."""

    def __init__(self, words: list[str], slot_types: Sequence[str]):
        self.tags = ["O"] * len(words)
        self.result = SlotParse(tags=self.tags)
        self.known: dict[str, str] = {}
        self.ambiguous: set[str] = set()
        for name in slot_types:
            key = _label_key(name)
            if key in self.known and self.known[key] != name:
                self.ambiguous.add(key)
            self.known[key] = name
        self.exact = set(slot_types)
        self.matcher = _Matcher(words)
        self.taken = [False] * len(words)
        self.parsed_any = self.said_none = False

    def unambiguous(self) -> dict[str, str]:
        return {k: v for k, v in self.known.items() if k not in self.ambiguous}

    def resolve(self, name: str) -> str | None:
        """The slot type a name in the reply stands for, or None."""
        if name in self.exact:
            return name
        key = _label_key(name)
        return self.known[key] if key in self.known and key not in self.ambiguous else None

    def propose(self, slot: str, value: str) -> None:
        """Tag the leftmost free occurrence of each part of ``value``; count what could not be placed."""
        result = self.result
        for part in _value_parts(value, self.matcher):
            result.proposed += 1
            occurrences = self.matcher.occurrences(part)
            if not occurrences:
                result.hallucinated += 1
                continue
            free = [(a, b) for a, b in occurrences if not any(self.taken[a:b])]
            if not free:
                result.overlapping += 1
                continue
            first, last = free[0]
            for i in range(first, last):
                self.taken[i] = True
                self.tags[i] = ("B-" if i == first else "I-") + slot
            result.kept += 1
            result.spans.append((slot, first, last))

    def read(self, piece: str, depth: int = 0) -> None:
        """One ``name: value`` piece of a line: a slot, "none", a prompt field to read into, or prose."""
        piece = _BULLET.sub("", piece).strip().strip("*_`{}[]").strip()
        if not piece:
            return
        if _is_none(piece):
            self.said_none = True
            return
        parts = _SEPARATOR.split(piece, maxsplit=1)
        if len(parts) != 2:
            return  # prose
        raw_name, raw_value = parts[0].strip().strip("*_`\"'").strip(), _strip_value(parts[1].strip("*_`"))
        slot = self.resolve(raw_name)
        if slot is None and _label_key(raw_name) in _PROMPT_FIELDS:
            if depth < 2 and raw_value:
                self.read(raw_value, depth + 1)  # "Slots: artist: madonna" or "Slots: none"
            return
        if not raw_value:
            return  # a heading such as "Here are the slots:"
        if slot is None:
            if len(raw_name.split()) > _MAX_LABEL_WORDS or not _label_key(raw_name):
                return  # prose with a colon in it
            self.parsed_any = True
            if not _is_none(raw_value):
                self.result.proposed += 1
                self.result.unknown_type += 1
            return
        self.parsed_any = True
        if not _is_none(raw_value):
            self.propose(slot, raw_value)


def _value_parts(value: str, matcher: _Matcher) -> list[str]:
    """``value`` itself, or its comma/semicolon/``|``-separated parts when it is a list and not itself a span."""
    if matcher.occurrences(value):
        return [value]
    parts = [_strip_value(part) for part in re.split(r"[,;|]", value)]
    parts = [part for part in parts if part]
    return parts if len(parts) > 1 else [value]
