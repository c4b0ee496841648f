"""Readers for the on-disk formats of issue 2: JSON lines and the JointBERT folder format.

Every reader returns ``list[Example]`` and raises :class:`DataError` naming the file and line of the first
problem it cannot repair. Invalid BIO (``I-X`` without ``B-X``) is repaired and counted, not fatal.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from nlu.data.bio import is_valid_tag, repair_bio
from nlu.data.example import Example
from nlu.errors import DataError

logger = logging.getLogger(__name__)


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not part of the first word
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line}: not valid UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); "
            "re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    return text.splitlines()


def _check(example: Example, where: str, stats: dict[str, int]) -> Example:
    if len(example.tokens) != len(example.tags):
        raise DataError(
            f"{where}: {len(example.tokens)} tokens but {len(example.tags)} tags; each word needs one tag"
        )
    if not example.tokens:
        raise DataError(f"{where}: empty utterance (no tokens)")
    for tok in example.tokens:
        if not tok or tok.isspace() or any(c.isspace() for c in tok):
            raise DataError(f"{where}: token {tok!r} is empty or contains white space")
    bad = [t for t in example.tags if not is_valid_tag(t)]
    if bad:
        raise DataError(f"{where}: tag {bad[0]!r} is not BIO (expected O, B-<type> or I-<type>)")
    if not example.intent or not example.intent.strip():
        raise DataError(f"{where}: missing intent")
    example.tags, changed = repair_bio(example.tags)
    stats["bio_repaired"] += changed
    return example


def _finish(path: Path, examples: list[Example], stats: dict[str, int]) -> list[Example]:
    if not examples:
        raise DataError(f"{path}: the file holds no examples")
    if stats["bio_repaired"]:
        logger.warning(
            "%s: repaired %d tags that were I-X without a preceding B-X/I-X (read as B-X)",
            path,
            stats["bio_repaired"],
        )
    return examples


def read_jsonl(path: str | Path, lang: str = "en") -> list[Example]:
    """One JSON object a line: ``{"id", "tokens", "tags", "intent", "lang"}`` (``id`` and ``lang`` optional)."""
    path = Path(path)
    stats = {"bio_repaired": 0}
    examples: list[Example] = []
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: malformed JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        missing = [k for k in ("tokens", "tags", "intent") if k not in obj]
        if missing:
            raise DataError(f"{where}: missing key(s) {', '.join(missing)}")
        if not isinstance(obj["tokens"], list) or not isinstance(obj["tags"], list):
            raise DataError(f"{where}: 'tokens' and 'tags' must be lists of strings")
        example = Example(
            id=str(obj.get("id", f"{path.stem}-{lineno:05d}")),
            tokens=[str(t) for t in obj["tokens"]],
            tags=[str(t) for t in obj["tags"]],
            intent=str(obj["intent"]),
            lang=str(obj.get("lang", lang)),
        )
        examples.append(_check(example, where, stats))
    return _finish(path, examples, stats)


def read_seq_folder(folder: str | Path, lang: str = "en", prefix: str = "") -> list[Example]:
    """The JointBERT layout: ``seq.in`` (words), ``seq.out`` (tags) and ``label`` (intent), one utterance a line."""
    folder = Path(folder)
    seq_in, seq_out, label = (folder / "seq.in", folder / "seq.out", folder / "label")
    words, tags, intents = _read_lines(seq_in), _read_lines(seq_out), _read_lines(label)
    if not (len(words) == len(tags) == len(intents)):
        raise DataError(
            f"{folder}: seq.in has {len(words)} lines, seq.out {len(tags)}, label {len(intents)}; "
            "the three files must have one line per utterance"
        )
    stats = {"bio_repaired": 0}
    examples = []
    for i, (w, t, intent) in enumerate(zip(words, tags, intents, strict=True), start=1):
        example = Example(
            id=f"{prefix or folder.name}-{i - 1:05d}",
            tokens=w.split(),
            tags=t.split(),
            intent=intent.strip(),
            lang=lang,
        )
        examples.append(_check(example, f"{seq_in}:{i} (with seq.out:{i}, label:{i})", stats))
    return _finish(folder, examples, stats)
