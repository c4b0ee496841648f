"""``nlu data convert``: read one format, write another, never clobbering what is there."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from nlu.data.bio import slot_type
from nlu.data.formats import detect_format, get_format, read_examples, write_examples
from nlu.data.registry import load_split, resolve
from nlu.errors import DataError

_SUFFIXES = {".jsonl": "jsonl", ".conll": "conll", ".yml": "rasa", ".yaml": "rasa", ".tsv": "multiatis"}


def convert(
    source: str | Path,
    out: str | Path,
    *,
    to: str | None = None,
    from_format: str | None = None,
    split: str | None = None,
    overwrite: bool = False,
) -> dict:
    """Convert ``source`` (a file, a JointBERT folder, or a data set name with ``split``) into ``out``.

    ``out`` is written to a temporary file next to it and renamed into place, so an interrupted conversion
    never leaves half a file, and an existing ``out`` is replaced only with ``overwrite``.
    """
    out = Path(out)
    to = to or _SUFFIXES.get(out.suffix.lower())
    if to is None:
        raise DataError(
            f"{out}: cannot tell the output format from the name; pass --to (jsonl, conll, rasa, ...)"
        )
    target_format = get_format(to)
    if target_format.writer() is None:
        raise DataError(f"the {target_format.name} format is read-only; choose another --to")
    path = Path(source).expanduser()
    if path.exists():
        if out.resolve() == path.resolve():
            raise DataError(f"{out}: the output is the input; write to another path")
        from_format = get_format(from_format or detect_format(path)).name
        examples = read_examples(path, from_format, split=split)
        described = str(path)
    else:
        if split is None:
            raise DataError(
                f"{source}: not a file; to convert a data set by name, say which split with --split"
            )
        data = resolve(str(source), format=from_format)
        examples = load_split(data, split)
        described, from_format = f"{data.describe()} / {split}", from_format or "data set"
    if out.exists() and not overwrite:
        raise DataError(f"{out} exists; pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written = staging / out.name
        write_examples(examples, written, target_format.name)
        if out.is_dir():
            shutil.rmtree(out)
        os.replace(written, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "examples": len(examples),
        "intents": len({ex.intent for ex in examples}),
        "slot_types": len({t for ex in examples for t in map(slot_type, ex.tags) if t}),
        "source": described,
        "from": from_format,
        "to": target_format.name,
    }
