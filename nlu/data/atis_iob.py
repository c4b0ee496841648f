"""The original ATIS ``.iob`` files (Hakkani-Tür et al. 2016; e.g. ``atis.train.w-intent.iob``).

One utterance a line: the words framed by ``BOS`` and ``EOS``, a tab, then one tag per word where the tag
under ``BOS`` is ``O`` and the one under ``EOS`` is the intent::

    BOS i want to fly from boston EOS<TAB>O O O O O O B-fromloc.city_name atis_flight

Read only: the JointBERT folder format (``jointbert``) is what the toolkit writes for ATIS.
"""

from __future__ import annotations

from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_lines
from nlu.errors import DataError


def read(
    path: str | Path, *, split: str | None = None, lang: str = "en", prefix: str | None = None
) -> list[Example]:
    path = Path(path)
    prefix = prefix or path.name.split(".")[0]
    stats = ReadStats()
    examples: list[Example] = []
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        if "\t" not in line:
            raise DataError(f"{where}: expected 'BOS words EOS<TAB>O tags intent' (no tab found)")
        text, labels = line.split("\t", 1)
        words, tags = text.split(), labels.split()
        if words[:1] != ["BOS"] or words[-1:] != ["EOS"]:
            raise DataError(f"{where}: the words must start with BOS and end with EOS")
        if len(tags) != len(words):
            raise DataError(
                f"{where}: {len(words)} words (with BOS and EOS) but {len(tags)} labels; expected one tag per "
                "word, with the intent in place of EOS's tag"
            )
        example = Example(
            id=f"{prefix}-{len(examples):05d}",
            tokens=words[1:-1],
            tags=tags[1:-1],
            intent=tags[-1],
            lang=lang,
        )
        examples.append(check_example(example, where, stats))
    return finish(path, examples, stats)
