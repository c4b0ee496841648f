"""Find a data set by name or path and read its splits.

A name (``atis``, ``snips``, ``demo``) is looked up in ``data_cards/<name>.md``, whose YAML header says where the
files live: ``path: atis`` means ``$NLU_DATA_DIR/atis/<split>.jsonl``; ``path: packaged:nlu.data.demo`` means the
files shipped inside that Python package. A path is a folder holding ``<split>.jsonl`` files or JointBERT
``<split>/seq.in`` folders. A Hugging Face dataset (hub id, or a local folder written by ``save_to_disk``) is read
through ``datasets``.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.data.example import Example
from nlu.data.readers import read_jsonl, read_seq_folder
from nlu.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]


def cards_dir() -> Path:
    return Path(os.environ.get("NLU_CARDS_DIR", REPO_ROOT / "data_cards"))


def data_root() -> Path:
    """``$NLU_DATA_DIR``, else ``~/.cache/nlu/data`` (where downloads go)."""
    env = os.environ.get("NLU_DATA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nlu" / "data"


def read_card(name: str) -> dict:
    """The YAML header of ``data_cards/<name>.md``."""
    path = cards_dir() / f"{name}.md"
    if not path.is_file():
        known = sorted(p.stem for p in cards_dir().glob("*.md"))
        raise DataError(
            f"unknown data set {name!r}: no data card {path}. Known names: {', '.join(known) or 'none'}; "
            "or give a folder path instead of a name"
        )
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise DataError(f"{path}: a data card must start with a YAML header between '---' lines")
    header = text.split("---", 2)[1]
    try:
        card = yaml.safe_load(header)
    except yaml.YAMLError as err:
        raise DataError(f"{path}: the YAML header does not parse: {err}") from None
    card["card_path"] = str(path)
    return card


@dataclass
class DataSource:
    """Where one data set's splits come from; ``describe()`` is what reports and errors print."""

    kind: str  # "folder" or "hf"
    location: str
    name: str | None = None
    hf_config: str | None = None
    columns: dict[str, str] | None = None

    def describe(self) -> str:
        return f"{self.name} ({self.location})" if self.name else self.location


def resolve(name_or_path: str) -> DataSource:
    """Turn what a recipe or command line says into a :class:`DataSource`."""
    candidate = Path(name_or_path).expanduser()
    if candidate.exists():
        if not candidate.is_dir():
            raise DataError(f"{candidate}: expected a folder holding train/dev/test files, got a file")
        if (candidate / "dataset_dict.json").exists() or (candidate / "dataset_info.json").exists():
            return DataSource(kind="hf", location=str(candidate))
        return DataSource(kind="folder", location=str(candidate))
    if "/" in name_or_path or os.sep in name_or_path:
        raise DataError(
            f"{name_or_path}: no such folder (a data set is a name such as 'atis' or a folder path)"
        )
    card = read_card(name_or_path)
    where = str(card.get("path", name_or_path))
    if where.startswith("packaged:"):
        module = importlib.import_module(where.split(":", 1)[1])
        folder = Path(module.__file__).parent
    else:
        folder = data_root() / where
    if not folder.is_dir():
        raise DataError(
            f"data set {name_or_path!r} is expected in {folder}, which does not exist. Set NLU_DATA_DIR to the "
            f"folder that holds '{where}/' (in this repository's checkout: ../shared/data)"
        )
    return DataSource(kind="folder", location=str(folder), name=name_or_path)


def load_split(source: DataSource | str, split: str) -> list[Example]:
    """Read one split as a list of :class:`Example`."""
    if isinstance(source, str):
        source = resolve(source)
    if source.kind == "hf":
        from nlu.data.hf import load_hf_split

        return load_hf_split(source, split)
    folder = Path(source.location)
    jsonl, seq = folder / f"{split}.jsonl", folder / split / "seq.in"
    if jsonl.is_file():
        return read_jsonl(jsonl)
    if seq.is_file():
        return read_seq_folder(folder / split, prefix=f"{source.name or folder.name}-{split}")
    raise DataError(
        f"{source.describe()}: no split {split!r}: expected {jsonl} or {seq} (JointBERT layout: "
        f"{split}/seq.in, seq.out, label)"
    )


def has_split(source: DataSource, split: str) -> bool:
    if source.kind == "hf":
        # A save_to_disk DatasetDict lists its splits; a hub id cannot be checked offline.
        index = Path(source.location) / "dataset_dict.json"
        if index.is_file():
            return split in json.loads(index.read_text(encoding="utf-8")).get("splits", [])
        return True
    folder = Path(source.location)
    return (folder / f"{split}.jsonl").is_file() or (folder / split / "seq.in").is_file()
