"""xSID's CoNLL-like format (van der Goot et al. 2021), also written by ``nlu data convert --to conll``.

One sentence a block, blocks separated by a blank line::

    # id = 12
    # text = Werds heid regna?
    # intent = weather/find
    1	Werds	weather/find	O
    2	heid	weather/find	B-datetime

Token lines have four tab-separated columns: index, word, intent (repeated) and BIO slot tag. The intent comes
from the ``# intent =`` line; the column is ignored (a few upstream rows disagree with it). Comment keys other
than ``id`` and ``intent`` (``text``, ``text-en``, ``dialect``, ``slots``) are kept in ``Example.meta``.

Upstream quirks handled: a row with an empty word column (zh, no) is dropped with its tag and reported with its
file and line; a sentence left with no words is dropped the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_lines
from nlu.errors import DataError

_COMMENT = re.compile(r"#\s*([^=:\s][^=:]*?)\s*[=:]\s?(.*)$")
_LANG_PREFIX = re.compile(r"^[a-z]{2,3}(-[a-z]{2,4})?$")


def language_from_filename(path: Path) -> str | None:
    """``de-ba.valid.conll`` -> ``de-ba`` (xSID names files ``<lang>.<split>.conll``)."""
    head = path.name.split(".", 1)[0]
    return head if _LANG_PREFIX.match(head) else None


def read(
    path: str | Path, *, split: str | None = None, lang: str | None = None, prefix: str | None = None
) -> list[Example]:
    """Read every sentence; ids are ``<prefix>-<0-based position>`` plus ``:<# id>`` when the file gives one."""
    path = Path(path)
    lang = lang or language_from_filename(path) or "en"
    prefix = prefix or path.name.rsplit(".", 1)[0]
    stats = ReadStats()
    examples: list[Example] = []
    blocks = _blocks(path, read_lines(path))
    for position, (start, comments, rows) in enumerate(blocks):
        where = f"{path}:{start}"
        if "intent" not in comments:
            raise DataError(f"{where}: the sentence has no '# intent = <label>' line before its words")
        kept = []
        for lineno, word, tag in rows:
            if word.strip():
                kept.append((word.strip(), tag))
            else:
                stats.notes.append(f"{path}:{lineno}: empty word column; the row and its tag {tag!r} dropped")
        if not kept:
            stats.notes.append(f"{where}: sentence with no words dropped")
            continue
        native_id = comments.pop("id", None)
        intent = comments.pop("intent").strip()
        example = Example(
            id=f"{prefix}-{position:05d}" + (f":{native_id}" if native_id is not None else ""),
            tokens=[w for w, _ in kept],
            tags=[t for _, t in kept],
            intent=intent,
            lang=lang,
            meta=comments,
        )
        examples.append(check_example(example, where, stats))
    return finish(path, examples, stats)


def _blocks(path: Path, lines: list[str]) -> list[tuple[int, dict[str, str], list[tuple[int, str, str]]]]:
    """``(first line number, comments, [(line number, word, tag)])`` for each sentence."""
    blocks = []
    start, comments, rows = 0, {}, []
    for lineno, line in enumerate([*lines, ""], start=1):
        if not line.strip():
            if rows:
                blocks.append((start, comments, rows))
            elif comments:
                raise DataError(f"{path}:{start}: comment lines with no token lines after them")
            start, comments, rows = 0, {}, []
            continue
        start = start or lineno
        if line.startswith("#"):
            match = _COMMENT.match(line)
            if match:
                comments[match.group(1).strip()] = match.group(2).strip()
            continue
        cols = line.split("\t")
        if len(cols) != 4:
            raise DataError(
                f"{path}:{lineno}: expected 4 tab-separated columns (index, word, intent, slot tag), "
                f"found {len(cols)}: {line!r}"
            )
        rows.append((lineno, cols[1], cols[3].strip()))
    return blocks


def write(examples: list[Example], path: str | Path) -> None:
    """Write the four-column format with ``# id``, ``# text`` and ``# intent`` lines (and other meta keys)."""
    with Path(path).open("w", encoding="utf-8") as f:
        for ex in examples:
            f.write(f"# id = {ex.id}\n")
            meta = {k: v for k, v in ex.meta.items() if isinstance(v, str) and "\n" not in v}
            f.write(f"# text = {meta.pop('text', ' '.join(ex.tokens))}\n")
            f.write(f"# intent = {ex.intent}\n")
            for key, value in meta.items():
                f.write(f"# {key} = {value}\n")
            for i, (token, tag) in enumerate(zip(ex.tokens, ex.tags, strict=True), start=1):
                f.write(f"{i}\t{token}\t{ex.intent}\t{tag}\n")
            f.write("\n")
