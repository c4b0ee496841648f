"""MultiATIS++ (Xu et al. 2020): ATIS in nine languages, one tab-separated file per split and language.

Files are named ``<split>_<LANG>.tsv`` (``train_EN.tsv``, ``dev_DE.tsv``, ``test_JA.tsv``) and start with the
header ``id<TAB>utterance<TAB>slot_labels<TAB>intent``. Utterance and slot labels are space-separated and
align word for word (Japanese and Chinese come segmented). Multi-intent labels (``atis_flight#atis_airfare``)
are kept whole, as for ATIS. The corpus is LDC-licensed (LDC2021T04), so only fixtures are in this repository.
"""

from __future__ import annotations

import re
from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_lines
from nlu.errors import DataError

HEADER = ("id", "utterance", "slot_labels", "intent")
_FILE = re.compile(r"^(train|dev|test)_([A-Za-z]{2})\.tsv$")


def read(
    path: str | Path, *, split: str | None = None, lang: str | None = None, prefix: str | None = None
) -> list[Example]:
    """Read one TSV file; the language comes from the file name (``_DE`` -> ``de``) unless ``lang`` is given."""
    path = Path(path)
    match = _FILE.match(path.name)
    lang = lang or (match.group(2).lower() if match else "en")
    prefix = prefix or f"multiatis-{path.stem.lower()}"
    lines = read_lines(path)
    if not lines or tuple(c.strip() for c in lines[0].split("\t")) != HEADER:
        raise DataError(f"{path}:1: expected the header line {'<TAB>'.join(HEADER)!r}")
    stats = ReadStats()
    examples: list[Example] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 4:
            raise DataError(
                f"{path}:{lineno}: expected 4 tab-separated columns (id, utterance, slot_labels, intent), "
                f"found {len(cols)}"
            )
        native_id, utterance, labels, intent = (c.strip() for c in cols)
        example = Example(
            id=f"{prefix}-{native_id}",
            tokens=utterance.split(),
            tags=labels.split(),
            intent=intent,
            lang=lang,
        )
        examples.append(check_example(example, f"{path}:{lineno}", stats))
    return finish(path, examples, stats)


def write(examples: list[Example], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        f.write("\t".join(HEADER) + "\n")
        for i, ex in enumerate(examples):
            native_id = ex.id.rsplit("-", 1)[-1] if ex.id.rsplit("-", 1)[-1].isdigit() else str(i)
            f.write(f"{native_id}\t{' '.join(ex.tokens)}\t{' '.join(ex.tags)}\t{ex.intent}\n")
