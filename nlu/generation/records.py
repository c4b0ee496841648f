"""Knowledge-base records and their texts: reading, checking, word tokenisation and the word vocabulary.

A record is a flat mapping ``{slot type: value}`` where a value is a string or a list of strings (E2E's cleaned
release has rows such as ``"eatType": ["pub", "restaurant"]``). On disk, a data file is JSON lines with a
``record`` and, for training and evaluation, a ``text``::

    {"id": "e2e-train-00021", "record": {"name": "Alimentum", "food": "Chinese", "near": ["Yippee Noodle Bar"]},
     "text": "Alimentum serves Chinese food near Yippee Noodle Bar."}

A bare record (a JSON object without ``record``) is accepted where only records are needed (``nlu generate
describe``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nlu.errors import RecordError

_WORD = re.compile(r"£?\d+(?:[.,]\d+)*|\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)


@dataclass
class RecordText:
    """One (record, text) pair; ``text`` is ``None`` for a record to describe."""

    record: dict[str, list[str]]
    text: str | None = None
    id: str | None = None


def tokenize(text: str) -> list[str]:
    """Words and punctuation marks: ``"£20-25, near Café Rouge."`` -> ``£20 - 25 , near Café Rouge .``"""
    return _WORD.findall(text)


_ATTACH_LEFT = {".", ",", "!", "?", ";", ":", ")", "%", "-"}
_ATTACH_RIGHT = ("(", "£", "-")


def detokenize(words: Iterable[str]) -> str:
    """The inverse of :func:`tokenize` for display: ``£20 - 25 , family - friendly .`` ->
    ``£20-25, family-friendly.`` (closing punctuation and hyphens attach; nothing follows ``(`` or ``£`` with a
    space)."""
    out = ""
    for word in words:
        if out and word not in _ATTACH_LEFT and not out.endswith(_ATTACH_RIGHT):
            out += " "
        out += word
    return out


def check_record(record: object, where: str, slot_types: Iterable[str] | None = None) -> dict[str, list[str]]:
    """A record as ``{slot: [values]}``; raise :class:`RecordError` naming ``where`` and the offending slot for
    a non-mapping, an empty value, a value that is not text, or (given ``slot_types``) an unknown slot type."""
    if not isinstance(record, Mapping) or not record:
        raise RecordError(f"{where}: expected a non-empty JSON object of slot: value, got {record!r}")
    known = set(slot_types) if slot_types is not None else None
    out: dict[str, list[str]] = {}
    for slot, value in record.items():
        if not isinstance(slot, str) or not slot.strip():
            raise RecordError(f"{where}: a slot type must be non-empty text, got {slot!r}")
        if known is not None and slot not in known:
            raise RecordError(
                f"{where}: unknown slot type {slot!r}; the model knows {', '.join(sorted(known))}"
            )
        values = value if isinstance(value, list) else [value]
        if not values:
            raise RecordError(f"{where}: slot {slot!r} has an empty list; drop the slot or give a value")
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise RecordError(f"{where}: slot {slot!r}: expected text, got {item!r}")
            if not str(item).strip():
                raise RecordError(f"{where}: slot {slot!r} has an empty value; drop the slot or give a value")
        out[slot] = [str(item).strip() for item in values]
    return out


_MR_SLOT = re.compile(r"\s*([^\[\],]+?)\s*\[([^\[\]]*)\]\s*(?:,|$)")


def parse_mr(text: str, where: str) -> dict[str, list[str]]:
    """An E2E meaning representation, ``name[The Eagle], eatType[pub], eatType[restaurant]`` -> a record
    (a repeated slot gives a list, in order)."""
    record: dict[str, list[str]] = {}
    position = 0
    for match in _MR_SLOT.finditer(text):
        if match.start() != position:
            break
        record.setdefault(match.group(1), []).append(match.group(2))
        position = match.end()
    if position != len(text) or not record:
        raise RecordError(f"{where}: not an E2E record string (slot[value], slot[value], ...): {text[:80]!r}")
    return check_record(record, where)


def _read_e2e_csv(path: Path) -> list[RecordText]:
    """E2E's native CSV (``mr,ref`` or the cleaned ``mr,ref,fixed,orig_mr``)."""
    import csv

    items, problems = [], []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"mr", "ref"} <= set(reader.fieldnames):
            raise RecordError(f"{path}: expected an E2E CSV with the columns mr,ref")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            try:
                record = parse_mr(row["mr"] or "", where)
            except RecordError as err:
                problems.append(str(err))
                continue
            if not (row["ref"] or "").strip():
                problems.append(f"{where}: empty reference text")
                continue
            items.append(RecordText(record, row["ref"], f"{path.stem}-{len(items):05d}"))
    if problems:
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise RecordError("\n".join(problems[:10]) + more)
    return items


def read_records(path: str | Path, require_text: bool = True) -> list[RecordText]:
    """Read a JSON-lines file of ``{"record": ..., "text": ...}`` (or E2E's native CSV); every bad line is
    reported with file and line."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return _read_e2e_csv(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise RecordError(f"{path}: not valid UTF-8 (byte offset {err.start})") from None
    items, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not valid JSON ({err.msg})")
            continue
        try:
            items.append(parse_item(obj, where, require_text))
        except RecordError as err:
            problems.append(str(err))
    if problems:
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise RecordError("\n".join(problems[:10]) + more)
    if not items:
        raise RecordError(f"{path}: no records")
    return items


def parse_item(obj: object, where: str, require_text: bool = False) -> RecordText:
    """One JSON object: ``{"record": {...}, "text": ..., "id": ...}`` or a bare record."""
    if isinstance(obj, Mapping) and "record" in obj:
        text = obj.get("text")
        if require_text and (not isinstance(text, str) or not text.strip()):
            raise RecordError(f'{where}: expected a non-empty "text" beside the record')
        return RecordText(check_record(obj["record"], where), text, obj.get("id"))
    if require_text:
        raise RecordError(f'{where}: expected {{"record": {{...}}, "text": "..."}}')
    return RecordText(check_record(obj, where))


def record_key(record: Mapping[str, list[str]]) -> str:
    """A canonical string for grouping the references of one record (multi-reference evaluation)."""
    return json.dumps({k: list(v) for k, v in record.items()}, sort_keys=True, ensure_ascii=False)


def group_references(items: list[RecordText]) -> list[tuple[dict[str, list[str]], list[str]]]:
    """Distinct records in first-seen order, each with all its reference texts."""
    groups: dict[str, tuple[dict, list[str]]] = {}
    for item in items:
        group = groups.setdefault(record_key(item.record), (item.record, []))
        if item.text is not None:
            group[1].append(item.text.strip())
    return list(groups.values())


@dataclass
class Vocab:
    """Output/input words and slot types. Words index 0..3 are ``<pad> <unk> <s> </s>``."""

    words: list[str]
    slot_types: list[str]

    def __post_init__(self) -> None:
        self.word_index = {w: i for i, w in enumerate(self.words)}
        self.slot_index = {s: i for i, s in enumerate(self.slot_types)}

    @classmethod
    def build(cls, items: Iterable[RecordText], min_count: int = 2) -> Vocab:
        """Text words seen at least ``min_count`` times; record words are copied, so they need no entry."""
        counts: Counter[str] = Counter()
        slots: dict[str, None] = {}
        for item in items:
            counts.update(tokenize(item.text or ""))
            slots.update(dict.fromkeys(item.record))
        return cls.from_counts(counts, min_count, list(slots))

    @classmethod
    def from_counts(cls, counts: Counter[str], min_count: int, slot_types: list[str] = ()) -> Vocab:
        """Words seen at least ``min_count`` times, most frequent first, after the special words."""
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
        return cls([*SPECIALS, *(w for w in words if w not in SPECIALS)], [UNK, *slot_types])

    def word_id(self, word: str) -> int:
        return self.word_index.get(word, 1)

    def slot_id(self, slot: str) -> int:
        return self.slot_index.get(slot, 0)

    def save(self, folder: Path) -> None:
        (folder / "vocab.json").write_text(
            json.dumps({"words": self.words, "slot_types": self.slot_types}, ensure_ascii=False),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, folder: Path) -> Vocab:
        data = json.loads((Path(folder) / "vocab.json").read_text(encoding="utf-8"))
        return cls(data["words"], data["slot_types"])
