"""MASSIVE 1.0 / 1.1 (FitzGerald et al. 2023): one JSON object a line, all splits of a locale in one file.

::

    {"id": "1", "locale": "en-US", "partition": "train", "intent": "alarm_set",
     "utt": "wake me up at nine am", "annot_utt": "wake me up at [time : nine am]"}

``annot_utt`` is cut into outside text and ``[slot : value]`` spans. Words are split on white space, except in
the locales written without spaces between words (ja-JP, zh-CN, zh-TW, th-TH, my-MM, km-KH), where every
character is a token; ``Example.meta["tokenization"]`` records which (``"whitespace"`` or ``"characters"``).
``lang`` is the language part of the locale (``en``) and ``meta["locale"]`` the whole locale. The
``partition`` field selects the split (``dev`` in MASSIVE's own naming, like ours).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, json_objects
from nlu.errors import DataError

CHARACTER_LOCALES = frozenset({"ja-JP", "zh-CN", "zh-TW", "th-TH", "my-MM", "km-KH"})
_SPAN = re.compile(r"\[([^\[\]:]*):([^\[\]]*)\]")


def read(
    path: str | Path, *, split: str | None = None, lang: str | None = None, prefix: str | None = None
) -> list[Example]:
    """Read ``path``; with ``split``, only the records whose ``partition`` is that split.

    ``lang`` is accepted for the common reader signature; the language comes from each record's locale.
    Ids are ``<prefix>-<native id>``, prefix defaulting to ``massive-<locale>``.
    """
    path = Path(path)
    stats = ReadStats()
    examples: list[Example] = []
    required = ("locale", "partition", "intent", "utt", "annot_utt")
    for lineno, where, record in json_objects(path, required, " (is this a MASSIVE file?)"):
        if split is not None and record["partition"] != split:
            continue
        locale = str(record["locale"])
        by_characters = locale in CHARACTER_LOCALES
        tokens, tags = parse_annotation(str(record["annot_utt"]), by_characters, where)
        if _words(str(record["utt"]), by_characters) != tokens:
            raise DataError(
                f"{where}: annot_utt does not match utt: a slot value does not occur in the utterance "
                f"({record['annot_utt']!r} vs {record['utt']!r})"
            )
        example = Example(
            id=f"{prefix or f'massive-{locale}'}-{record.get('id', lineno)}",
            tokens=tokens,
            tags=tags,
            intent=str(record["intent"]),
            lang=locale.split("-")[0],
            meta={"locale": locale, "tokenization": "characters" if by_characters else "whitespace"},
        )
        examples.append(check_example(example, where, stats))
    if not examples and split is not None:
        raise DataError(f"{path}: no record has partition {split!r}")
    return finish(path, examples, stats)


def _words(text: str, by_characters: bool) -> list[str]:
    return [c for c in text if not c.isspace()] if by_characters else text.split()


def parse_annotation(annot: str, by_characters: bool = False, where: str = "") -> tuple[list[str], list[str]]:
    """``wake me up at [time : nine am]`` -> tokens and BIO tags; raises on unbalanced brackets."""
    depth = 0
    for i, ch in enumerate(annot):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth not in (0, 1):
            problem = "']' without '['" if depth < 0 else "'[' inside another '[...]'"
            raise DataError(
                f"{where}: unbalanced brackets in annot_utt at character {i}: {problem}: {annot!r}"
            )
    if depth:
        raise DataError(f"{where}: unbalanced brackets in annot_utt: '[' without ']': {annot!r}")
    tokens: list[str] = []
    tags: list[str] = []
    position = 0
    for match in _SPAN.finditer(annot):
        outside = _words(annot[position : match.start()], by_characters)
        tokens += outside
        tags += ["O"] * len(outside)
        slot, value = match.group(1).strip(), _words(match.group(2), by_characters)
        if not slot or not value:
            raise DataError(
                f"{where}: empty slot name or value in {match.group(0)!r} (expected [slot : value])"
            )
        tokens += value
        tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(value) - 1)
        position = match.end()
    rest = annot[position:]
    if "[" in rest or "]" in rest:
        raise DataError(f"{where}: a '[...]' without ' : ' between slot and value in annot_utt: {annot!r}")
    outside = _words(rest, by_characters)
    return tokens + outside, tags + ["O"] * len(outside)


def write(examples: list[Example], path: str | Path) -> None:
    """MASSIVE records; ``partition`` comes from ``meta["partition"]`` (default ``train``)."""
    with Path(path).open("w", encoding="utf-8") as f:
        for ex in examples:
            locale = ex.meta.get("locale", ex.lang)
            joiner = "" if ex.meta.get("tokenization") == "characters" else " "
            parts: list[str] = []
            for token, tag in zip(ex.tokens, ex.tags, strict=True):
                if tag.startswith("B-"):
                    parts.append(f"[{tag[2:]} : {token}")
                elif tag.startswith("I-"):
                    parts.append(token)
                else:
                    parts.append(token)
                if tag != "O" and not _continues(ex.tags, len(parts)):
                    parts[-1] += "]"
            record = {
                "id": ex.id,
                "locale": locale,
                "partition": ex.meta.get("partition", "train"),
                "intent": ex.intent,
                "utt": joiner.join(ex.tokens),
                "annot_utt": joiner.join(parts),
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _continues(tags: list[str], next_index: int) -> bool:
    return next_index < len(tags) and tags[next_index] == "I-" + tags[next_index - 1][2:]
