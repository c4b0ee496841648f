"""MEDIA (Bonneau-Maynard et al. 2005; ELRA-S0272): French hotel-booking dialogues annotated with concepts.

The corpus is licensed, so this module is written from the format descriptions and tested on fixtures:

* the column format of the public MEDIA evaluation scripts: one word and its concept tag a line, a blank line
  between user turns. Tags are BIO (``B-localisation-ville``), bare concepts (``localisation-ville``:
  consecutive equal concepts form one span) or ``null``/``O`` for words outside any concept. These files have no
  intents: each turn gets the intent ``"none"`` and ``meta["intent_annotated"] = False``.
* the intent-annotated release (Alavoine et al. 2024, "New Semantic Task for the French Spoken Language
  Understanding MEDIA Benchmark"): the same, with the turn's intent either in a ``# intent = <label>`` line
  before the turn or in a middle column (``word<TAB>intent<TAB>tag``, repeated on every word).

Columns are separated by tabs, or by runs of spaces when there are no tabs. ``# id = ...`` lines name turns.
"""

from __future__ import annotations

import re
from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_lines
from nlu.errors import DataError

NO_INTENT = "none"
OUTSIDE = frozenset({"O", "null", "NULL", "Null", "_"})
_COMMENT = re.compile(r"#\s*([^=:\s][^=:]*?)\s*[=:]\s?(.*)$")


def read(
    path: str | Path, *, split: str | None = None, lang: str = "fr", prefix: str | None = None
) -> list[Example]:
    path = Path(path)
    prefix = prefix or f"media-{path.stem}"
    stats = ReadStats()
    examples: list[Example] = []
    turn: list[tuple[int, list[str]]] = []
    comments: dict[str, str] = {}
    for lineno, line in enumerate([*read_lines(path), ""], start=1):
        if line.strip().startswith("#") and not turn:
            match = _COMMENT.match(line.strip())
            if match:
                comments[match.group(1).strip()] = match.group(2).strip()
            continue
        if line.strip():
            cols = line.split("\t") if "\t" in line else line.split()
            cols = [c.strip() for c in cols]
            if len(cols) not in (2, 3) or not all(cols):
                raise DataError(
                    f"{path}:{lineno}: expected 'word<TAB>concept' or 'word<TAB>intent<TAB>concept', "
                    f"found {len(cols)} column(s): {line!r}"
                )
            turn.append((lineno, cols))
            continue
        if turn:
            examples.append(_example(path, turn, comments, prefix, len(examples), lang, stats))
        elif comments:
            raise DataError(f"{path}:{lineno}: comment lines with no words after them")
        turn, comments = [], {}
    return finish(path, examples, stats)


def _example(
    path: Path,
    turn: list[tuple[int, list[str]]],
    comments: dict[str, str],
    prefix: str,
    position: int,
    lang: str,
    stats: ReadStats,
) -> Example:
    start = turn[0][0]
    widths = {len(cols) for _, cols in turn}
    if len(widths) > 1:
        raise DataError(f"{path}:{start}: the turn mixes 2- and 3-column lines")
    column_intents = {cols[1] for _, cols in turn} if widths == {3} else set()
    if len(column_intents) > 1:
        raise DataError(f"{path}:{start}: the turn's words carry different intents: {sorted(column_intents)}")
    intent = comments.get("intent") or (column_intents.pop() if column_intents else None)
    tags: list[str] = []
    previous = None
    for _, cols in turn:
        concept = cols[-1]
        if concept in OUTSIDE:
            tags.append("O")
            previous = None
        elif concept[:2] in ("B-", "I-"):
            tags.append(concept)
            previous = None
        else:  # a bare concept: a new span unless the previous word had the same one
            tags.append(("I-" if previous == concept else "B-") + concept)
            previous = concept
    native_id = comments.get("id")
    example = Example(
        id=f"{prefix}-{position:05d}" + (f":{native_id}" if native_id else ""),
        tokens=[cols[0] for _, cols in turn],
        tags=tags,
        intent=intent or NO_INTENT,
        lang=lang,
        meta={"intent_annotated": intent is not None},
    )
    return check_example(example, f"{path}:{start}", stats)


def write(examples: list[Example], path: str | Path) -> None:
    """The intent-annotated column format: ``# id`` and ``# intent`` lines, then ``word<TAB>BIO tag``."""
    with Path(path).open("w", encoding="utf-8") as f:
        for ex in examples:
            f.write(f"# id = {ex.id}\n")
            if ex.meta.get("intent_annotated", True):
                f.write(f"# intent = {ex.intent}\n")
            for token, tag in zip(ex.tokens, ex.tags, strict=True):
                f.write(f"{token}\t{'null' if tag == 'O' else tag}\n")
            f.write("\n")
