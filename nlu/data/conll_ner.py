"""Token-level tagging files in the CoNLL-2003 style, for auxiliary tasks (NER, another data set's slots).

One word a line with its tag in the last column (``EU NNP B-NP B-ORG``; any number of columns, separated by
tabs or spaces), a blank line between sentences, ``-DOCSTART-`` lines and ``#`` comments skipped. IOB1 files
(``I-X`` opening a span) are read as BIO, as conlleval does. These sentences have no intent: each gets the
intent ``none`` and ``meta["intent_annotated"] = False``.
"""

from __future__ import annotations

from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_lines
from nlu.errors import DataError

NO_INTENT = "none"


def read(
    path: str | Path, *, split: str | None = None, lang: str = "en", prefix: str | None = None
) -> list[Example]:
    path = Path(path)
    prefix = prefix or path.stem
    stats = ReadStats()
    examples: list[Example] = []
    words: list[str] = []
    tags: list[str] = []
    start = 0
    for lineno, line in enumerate([*read_lines(path), ""], start=1):
        stripped = line.strip()
        if stripped.startswith("-DOCSTART-") or stripped.startswith("#"):
            continue
        if not stripped:
            if words:
                example = Example(
                    id=f"{prefix}-{len(examples):05d}",
                    tokens=words,
                    tags=tags,
                    intent=NO_INTENT,
                    lang=lang,
                    meta={"intent_annotated": False},
                )
                examples.append(check_example(example, f"{path}:{start}", stats))
            words, tags = [], []
            continue
        columns = stripped.split("\t") if "\t" in stripped else stripped.split()
        if len(columns) < 2:
            raise DataError(
                f"{path}:{lineno}: expected a word and a tag (at least two columns), found {line!r}"
            )
        start = start if words else lineno
        words.append(columns[0])
        tags.append(columns[-1])
    return finish(path, examples, stats)


def write(examples: list[Example], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for ex in examples:
            for token, tag in zip(ex.tokens, ex.tags, strict=True):
                f.write(f"{token} {tag}\n")
            f.write("\n")
