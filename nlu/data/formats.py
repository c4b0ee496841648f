"""Every on-disk format the toolkit reads or writes, by name.

Each format is a module of ``nlu.data`` with ``read(path, *, split=None, lang=...) -> list[Example]`` and,
where the format can hold what an :class:`Example` holds, ``write(examples, path)``. Adding a format is one
module and one line here. ``split`` matters only to formats that keep all splits in one file (MASSIVE's
``partition`` field); the others read the whole file.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nlu.data.example import Example
from nlu.errors import DataError


@dataclass(frozen=True)
class DataFormat:
    name: str
    module: str
    description: str
    folder: bool = False  # the format is a folder of files (JointBERT), not one file
    has_intents: bool = True  # False: token tags only (auxiliary tasks); every example's intent is "none"

    def reader(self) -> Callable[..., list[Example]]:
        return importlib.import_module(self.module).read

    def writer(self) -> Callable[[list[Example], Path], None] | None:
        return getattr(importlib.import_module(self.module), "write", None)


FORMATS: dict[str, DataFormat] = {
    f.name: f
    for f in (
        DataFormat("jsonl", "nlu.data.jsonl", 'one {"id", "tokens", "tags", "intent", "lang"} object a line'),
        DataFormat(
            "jointbert", "nlu.data.atis_seq", "folder of seq.in / seq.out / label (ATIS, SNIPS)", True
        ),
        DataFormat(
            "atis_iob", "nlu.data.atis_iob", "original ATIS .iob lines: BOS words EOS <TAB> O tags intent"
        ),
        DataFormat(
            "snips_json", "nlu.data.snips_json", "Snips NLU benchmark JSON: {intent: [{data: [chunks]}]}"
        ),
        DataFormat(
            "conll", "nlu.data.xsid_conll", "xSID CoNLL: # text / # intent comments, index word intent tag"
        ),
        DataFormat(
            "massive", "nlu.data.massive", "MASSIVE JSON lines with utt and annot_utt ([slot : value])"
        ),
        DataFormat(
            "media", "nlu.data.media", "MEDIA columns: word (intent) concept-tag a line, blank between turns"
        ),
        DataFormat("multiatis", "nlu.data.multiatis", "MultiATIS++ TSV: id, utterance, slot_labels, intent"),
        DataFormat("rasa", "nlu.data.rasa_yaml", "Rasa NLU training data YAML (nlu: - intent: / examples:)"),
        DataFormat(
            "conll_ner",
            "nlu.data.conll_ner",
            "CoNLL-2003 style: word ... tag a line, no intents (auxiliary)",
            has_intents=False,
        ),
    )
}
ALIASES = {"xsid": "conll", "rasa_yaml": "rasa", "json": "jsonl"}


def get_format(name: str) -> DataFormat:
    key = ALIASES.get(name, name)
    if key not in FORMATS:
        raise DataError(f"unknown data format {name!r}; known formats: {', '.join(FORMATS)}")
    return FORMATS[key]


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its name and first line; raises when it cannot tell."""
    path = Path(path)
    if path.is_dir():
        if (path / "seq.in").is_file():
            return "jointbert"
        raise DataError(f"{path}: a folder is read as the JointBERT format, but it has no seq.in")
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix in (".yml", ".yaml"):
        return "rasa"
    if suffix in (".conll", ".conllu"):
        return "conll"
    if suffix in (".iob",):
        return "atis_iob"
    if suffix == ".tsv":
        return "multiatis"
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    first, first_row = "", ""
    if path.is_file():
        with path.open(encoding="utf-8-sig", errors="replace") as f:
            for _, line in zip(range(200), f, strict=False):
                if line.strip() and not first:
                    first = line.strip()
                if line.strip() and not line.startswith("#"):
                    first_row = line.rstrip("\n")
                    break
    if not first:
        raise DataError(
            f"{path}: the file is empty (or holds only blank lines); it has no utterances to read"
        )
    if suffix == ".jsonl" or (first.startswith("{") and suffix != ".json"):
        # JSON lines: the reader itself names a malformed line; only MASSIVE's annot_utt tells another format
        return "massive" if _first_json_object_has(path, "annot_utt") else "jsonl"
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return "massive" if "annot_utt" in obj else "jsonl"
        return "snips_json"
    if first.startswith("BOS "):
        return "atis_iob"
    if first.startswith("-DOCSTART-"):
        return "conll_ner"
    columns = first_row.split("\t") if "\t" in first_row else first_row.split()
    if len(columns) == 4 and columns[0].strip().isdigit():
        return "conll"
    if len(columns) in (2, 3):
        return "media"
    raise DataError(
        f"{path}: cannot tell the format from its name or first lines; name it (in a recipe: data.format; "
        f"with `nlu data convert`: --from). Formats: {', '.join(FORMATS)}"
    )


def _first_json_object_has(path: Path, key: str, lines: int = 20) -> bool:
    """Whether the first JSON object among the first ``lines`` lines of ``path`` has ``key``."""
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        for _, line in zip(range(lines), f, strict=False):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return key in obj
    return False


def read_examples(
    path: str | Path, fmt: str | None = None, *, split: str | None = None, **options
) -> list[Example]:
    """Read ``path`` in format ``fmt`` (guessed when None)."""
    data_format = get_format(fmt or detect_format(path))
    return data_format.reader()(Path(path), split=split, **options)


def write_examples(examples: list[Example], path: str | Path, fmt: str) -> None:
    data_format = get_format(fmt)
    writer = data_format.writer()
    if writer is None:
        writable = [f.name for f in FORMATS.values() if f.writer() is not None]
        raise DataError(f"the {data_format.name} format is read-only; write one of: {', '.join(writable)}")
    writer(examples, Path(path))
