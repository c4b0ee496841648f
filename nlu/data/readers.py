"""What every format reader shares: reading a text file, checking an :class:`Example`, reporting repairs.

Each on-disk format lives in a module of its own (``jsonl``, ``atis_seq``, ``xsid_conll``, ``massive``, ...) and
is listed in :mod:`nlu.data.formats`. Every reader returns ``list[Example]`` and raises :class:`DataError`
naming the file and line of the first problem it cannot repair. Invalid BIO (``I-X`` without ``B-X``) is
repaired and counted, not fatal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlu.data.bio import is_valid_tag, repair_bio
from nlu.data.example import Example
from nlu.errors import DataError

logger = logging.getLogger(__name__)


def read_text(path: Path) -> str:
    """The file's text; a byte-order mark is dropped and bytes that are not UTF-8 name their line."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not part of the first word
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not valid UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); "
            "re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def read_lines(path: Path) -> list[str]:
    return read_text(path).splitlines()


def json_objects(path: Path, required: Sequence[str], hint: str = "") -> Iterator[tuple[int, str, dict]]:
    """``(line number, where, object)`` for each non-blank line of a JSON-lines file (``where`` is ``file:line``).

    A line that is not a JSON object, or lacks a ``required`` key, raises :class:`DataError` naming file and line."""
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: malformed JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        missing = [k for k in required if k not in obj]
        if missing:
            raise DataError(f"{where}: missing key(s) {', '.join(missing)}{hint}")
        yield lineno, where, obj


@dataclass
class ReadStats:
    """What a reader repaired or dropped, reported once per file instead of once per line."""

    bio_repaired: int = 0
    notes: list[str] = field(default_factory=list)


def check_example(example: Example, where: str, stats: ReadStats) -> Example:
    """Raise on what cannot be repaired (lengths, empty tokens, non-BIO tags, no intent); repair BIO."""
    if len(example.tokens) != len(example.tags):
        raise DataError(
            f"{where}: {len(example.tokens)} tokens but {len(example.tags)} tags; each word needs one tag"
        )
    if not example.tokens:
        raise DataError(f"{where}: empty utterance (no tokens)")
    for tok in example.tokens:
        if not tok or tok.isspace() or any(c.isspace() for c in tok):
            raise DataError(f"{where}: token {tok!r} is empty or contains white space")
    spaced = [t for t in example.tags if any(c.isspace() for c in t)]
    if spaced:
        raise DataError(
            f"{where}: tag {spaced[0]!r} contains white space, which would make it a label of its own; "
            f"write {spaced[0].strip()!r}"
        )
    bad = [t for t in example.tags if not is_valid_tag(t)]
    if bad:
        raise DataError(f"{where}: tag {bad[0]!r} is not BIO (expected O, B-<type> or I-<type>)")
    if not example.intent or not example.intent.strip():
        raise DataError(f"{where}: missing intent")
    if example.intent != example.intent.strip():
        raise DataError(
            f"{where}: intent {example.intent!r} has white space around it, which would make it a label of its "
            f"own; write {example.intent.strip()!r}"
        )
    example.tags, changed = repair_bio(example.tags)
    stats.bio_repaired += changed
    return example


def finish(path: Path, examples: list[Example], stats: ReadStats) -> list[Example]:
    """Refuse an empty result and log what was repaired."""
    if not examples:
        raise DataError(f"{path}: the file holds no examples")
    if stats.bio_repaired:
        logger.warning(
            "%s: repaired %d tags that were I-X without a preceding B-X/I-X (read as B-X)",
            path,
            stats.bio_repaired,
        )
    for note in stats.notes[:5]:
        logger.warning("%s", note)
    if len(stats.notes) > 5:
        logger.warning("%s: %d more like this", path, len(stats.notes) - 5)
    return examples
