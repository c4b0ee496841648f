"""The JointBERT folder format used for ATIS and SNIPS (Goo et al. 2018 split).

A split is a folder with three files of one utterance a line: ``seq.in`` (words), ``seq.out`` (BIO tags) and
``label`` (intent). Lines are split on any white space: SNIPS lines end with a space.
"""

from __future__ import annotations

from pathlib import Path

from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_lines
from nlu.errors import DataError


def read(
    folder: str | Path, *, split: str | None = None, lang: str = "en", prefix: str = ""
) -> list[Example]:
    """Read ``folder/{seq.in,seq.out,label}``; ids are ``<prefix>-<line index>``, prefix defaulting to the
    folder's name."""
    folder = Path(folder)
    seq_in, seq_out, label = (folder / "seq.in", folder / "seq.out", folder / "label")
    words, tags, intents = read_lines(seq_in), read_lines(seq_out), read_lines(label)
    if not (len(words) == len(tags) == len(intents)):
        raise DataError(
            f"{folder}: seq.in has {len(words)} lines, seq.out {len(tags)}, label {len(intents)}; "
            "the three files must have one line per utterance"
        )
    stats = ReadStats()
    examples = []
    for i, (w, t, intent) in enumerate(zip(words, tags, intents, strict=True), start=1):
        example = Example(
            id=f"{prefix or folder.name}-{i - 1:05d}",
            tokens=w.split(),
            tags=t.split(),
            intent=intent.strip(),
            lang=lang,
        )
        examples.append(check_example(example, f"{seq_in}:{i} (with seq.out:{i}, label:{i})", stats))
    return finish(folder, examples, stats)


def write(examples: list[Example], folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, column in (
        ("seq.in", [" ".join(ex.tokens) for ex in examples]),
        ("seq.out", [" ".join(ex.tags) for ex in examples]),
        ("label", [ex.intent for ex in examples]),
    ):
        (folder / name).write_text("".join(line + "\n" for line in column), encoding="utf-8")
