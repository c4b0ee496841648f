"""Find a data set by name or path and read its splits.

A **name** (``atis``, ``massive``, ``xsid:de``) is looked up in its data card, ``cards/<name>.md`` beside this
module (shipped in the package; ``$NLU_CARDS_DIR`` replaces the folder). The card's YAML header says where the
files live, relative to the data root (``$NLU_DATA_DIR``, else ``~/.cache/nlu/data`` where ``nlu data download``
puts them)::

    variants: [ar, da, de, en, ...]          # optional: languages or locales, chosen with  name:variant
    default_variant: en
    sources:                                 # tried in order for each split; the first file that exists is read
      - format: conll
        path: xsid/original/xSID-0.7/{variant}.{native_split}.conll
        split_names: {dev: valid}            # our split name -> the file's (native_split)
        id_prefix: xsid-{variant}-{split}
      - format: jsonl
        path: xsid/{variant}/{split}.jsonl

Older cards give ``path: atis`` (a folder of ``<split>.jsonl``) or ``path: packaged:nlu.data.demo`` (files
shipped inside that Python package). A **folder** holds ``<split>.<ext>`` files in any format of
:mod:`nlu.data.formats` (or JointBERT ``<split>/seq.in`` folders). **Files** can be named one by one per split.
A Hugging Face dataset folder written by ``save_to_disk`` is read through ``datasets``. Hub dataset ids are not
read directly (a run would depend on the network and on the hub's current revision): save the dataset to a
folder once and name the folder; :func:`resolve` says how.
"""

from __future__ import annotations

import difflib
import importlib
import json
import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePath

import yaml

from nlu.data.example import Example
from nlu.data.formats import detect_format, get_format, read_examples
from nlu.errors import DataError

log = logging.getLogger(__name__)

# A folder's split files are found by these names, in this order.
_SPLIT_FILES = (
    "{split}.jsonl",
    "{split}/seq.in",
    "{split}.conll",
    "{split}.yml",
    "{split}.yaml",
    "{split}.tsv",
)


def cards_dir() -> Path:
    """``$NLU_CARDS_DIR``, else the cards that ship in the package (``nlu/data/cards/``; files on disk in an
    editable install and a wheel alike, which pip never installs zipped)."""
    env = os.environ.get("NLU_CARDS_DIR")
    return Path(env) if env else Path(str(resources.files("nlu.data") / "cards"))


def label_file(name_or_path: str | os.PathLike) -> Path:
    """A label description file (intents and slot types, see ``nlu.data.label_files.load_label_file``): a path,
    or the name of one that ships in ``labels/`` beside the cards (``snips``, ``atis``, ``massive``, ``xsid``)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    parts = PurePath(name_or_path).parts
    if len(parts) == 1 and not path.suffix:
        packaged = cards_dir() / "labels" / f"{name_or_path}.yml"
        if packaged.is_file():
            return packaged
        known = sorted(p.stem for p in (cards_dir() / "labels").glob("*.yml"))
        raise DataError(
            f"{name_or_path}: no such label file, and no packaged label set of that name; the packaged ones are "
            f"{', '.join(known) or 'none'}"
        )
    if len(parts) == 3 and parts[:2] == ("data_cards", "labels") and path.suffix == ".yml":
        # Recipes written before the cards moved from data_cards/ into the package keep working.
        packaged = cards_dir() / "labels" / parts[2]
        if packaged.is_file():
            log.warning("%s: the label files ship with nlu now; write labels: %s", name_or_path, path.stem)
            return packaged
    return path


def data_root() -> Path:
    """``$NLU_DATA_DIR``, else ``~/.cache/nlu/data`` (where downloads go)."""
    env = os.environ.get("NLU_DATA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nlu" / "data"


def known_names() -> list[str]:
    return sorted(p.stem for p in cards_dir().glob("*.md") if p.stem.lower() != "readme")


def read_card(name: str) -> dict:
    """The YAML header of the data card ``<name>.md``, plus ``card_path``."""
    path = cards_dir() / f"{name}.md"
    if not path.is_file():
        known = known_names()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(
            f"unknown data set {name!r}: no data card {path}.{hint} Known names: {', '.join(known) or 'none'}; "
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
    if not isinstance(card, dict):
        raise DataError(f"{path}: the YAML header must be a mapping of keys to values")
    card["card_path"] = str(path)
    return card


@dataclass
class DataSource:
    """Where one data set's splits come from; ``describe()`` is what reports and errors print.

    ``kind`` is ``"card"`` (a named data set), ``"folder"``, ``"files"`` (one file per split) or ``"hf"``.
    """

    kind: str
    location: str
    name: str | None = None
    variant: str | None = None
    columns: dict[str, str] | None = None
    format: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    card: dict | None = None

    def describe(self) -> str:
        label = f"{self.name}:{self.variant}" if self.name and self.variant else self.name
        return f"{label} ({self.location})" if label else self.location


def resolve(name_or_path: str, *, format: str | None = None) -> DataSource:
    """Turn what a recipe or command line says into a :class:`DataSource`."""
    if format is not None:
        get_format(format)  # fail early on a misspelt format
    candidate = Path(name_or_path).expanduser()
    if candidate.exists():
        if not candidate.is_dir():
            raise DataError(
                f"{candidate}: expected a folder holding train/dev/test files, got a file; name the files "
                "per split instead (recipe: data.files: {train: ..., dev: ...})"
            )
        if (candidate / "dataset_dict.json").exists() or (candidate / "dataset_info.json").exists():
            return DataSource(kind="hf", location=str(candidate))
        return DataSource(kind="folder", location=str(candidate), format=format)
    if "/" in name_or_path or os.sep in name_or_path:
        hub = ""
        if _looks_like_a_hub_id(name_or_path):
            hub = (
                f". If {name_or_path!r} is a Hugging Face hub dataset: hub ids are not read directly; save it to a "
                f"folder once (python -c \"import datasets; datasets.load_dataset('{name_or_path}')"
                f".save_to_disk('data/{name_or_path.rsplit('/', 1)[-1]}')\") and name that folder, with data.columns "
                "(nlu data stats --columns) if its columns are not tokens, tags and intent"
            )
        raise DataError(
            f"{name_or_path}: no such folder (a data set is a name such as 'atis' or 'xsid:de', or a folder "
            f"path){hub}"
        )
    name, _, variant = name_or_path.partition(":")
    card = read_card(name)
    if card.get("kind") == "generation":
        raise DataError(
            f"{name} is a data set for the generators (records or dialogues, not intents and slots): name it in a "
            f"generator recipe (see recipes/e2e/ and recipes/redial/); `nlu data card {name}` says how to get it"
        )
    variants = [str(v) for v in card.get("variants") or []]
    if variant and variant not in variants:
        close = difflib.get_close_matches(variant, variants, n=1)
        hint = f" Did you mean {name}:{close[0]}?" if close else ""
        raise DataError(
            f"data set {name!r} has no variant {variant!r}.{hint} Variants: {', '.join(variants) or 'none'}"
        )
    variant = variant or (str(card["default_variant"]) if card.get("default_variant") else None)
    if card.get("sources"):
        source = DataSource(kind="card", location=str(data_root()), name=name, variant=variant, card=card)
        _require_some_files(source)
        return source
    where = str(card.get("path", name))
    if where.startswith("packaged:"):
        module = importlib.import_module(where.split(":", 1)[1])
        folder = Path(module.__file__).parent
    else:
        folder = data_root() / where
    if not folder.is_dir():
        raise DataError(_missing_message(name, card, [folder]))
    return DataSource(kind="folder", location=str(folder), name=name, format=card.get("format"), card=card)


def _looks_like_a_hub_id(name: str) -> bool:
    """``owner/name`` as the hub writes dataset ids (no leading dot, slash or ``~``, one slash)."""
    owner, _, rest = name.partition("/")
    return bool(owner and rest) and "/" not in rest and not name.startswith((".", "~"))


def from_files(files: dict[str, str], *, format: str | None = None) -> DataSource:
    """A data set given as one file (or JointBERT folder) per split, as in a recipe's ``data.files``."""
    for split, path in files.items():
        if not Path(path).expanduser().exists():
            raise DataError(f"data.files.{split}: {path}: no such file")
    if format is not None:
        get_format(format)
    location = os.path.commonpath([str(Path(p).expanduser().resolve()) for p in files.values()])
    return DataSource(kind="files", location=location, files=dict(files), format=format)


def _missing_message(name: str, card: dict, tried: list[Path]) -> str:
    fetch = (
        f"run `nlu data download {name}`, or "
        if card.get("download")
        else f"obtain it ({card.get('licence', 'see the card')}) from {card.get('source', 'its publisher')}, and "
    )
    root = data_root()
    looked = ", ".join(
        dict.fromkeys(str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in tried)
    )
    return (
        f"data set {name!r}: no files under {root} (looked for {looked}). To get the data, {fetch}"
        f"set NLU_DATA_DIR to the folder that holds it (in this repository's checkout: ../shared/data). "
        f"See {card.get('card_path', f'`nlu data card {name}`')}"
    )


def _card_candidates(source: DataSource, split: str) -> list[tuple[Path, dict]]:
    """``(file, source entry)`` for each of the card's sources, in order, for one split."""
    out = []
    for entry in source.card.get("sources") or []:
        native = (entry.get("split_names") or {}).get(split, split)
        fields = {"variant": source.variant or "", "split": split, "native_split": native}
        try:
            path = str(entry["path"]).format(**fields)
        except (KeyError, IndexError) as err:
            raise DataError(
                f"{source.card['card_path']}: sources: bad placeholder {err} in {entry}"
            ) from None
        out.append((Path(source.location) / path, {**entry, "fields": fields}))
    return out


def _require_some_files(source: DataSource) -> None:
    tried = [path for split in ("train", "dev", "test") for path, _ in _card_candidates(source, split)]
    if not any(p.exists() for p in tried):
        raise DataError(_missing_message(source.name or "", source.card or {}, tried))


def split_file(source: DataSource, split: str) -> tuple[Path, str, dict] | None:
    """The file (or folder) a split is read from, its format and reader options; None if there is none."""
    if source.kind == "card":
        for path, entry in _card_candidates(source, split):
            if path.exists():
                options = {}
                if entry.get("id_prefix"):
                    options["prefix"] = str(entry["id_prefix"]).format(**entry["fields"])
                if entry.get("lang"):
                    options["lang"] = str(entry["lang"]).format(**entry["fields"])
                return path, entry["format"], options
        return None
    if source.kind == "files":
        if split not in source.files:
            return None
        path = Path(source.files[split]).expanduser()
        return path, source.format or detect_format(path), {}
    folder = Path(source.location)
    for pattern in _SPLIT_FILES:
        path = folder / pattern.format(split=split)
        if path.is_file():
            if pattern == "{split}/seq.in":
                return path.parent, "jointbert", {"prefix": f"{source.name or folder.name}-{split}"}
            return path, source.format or detect_format(path), {}
    return None


def load_split(source: DataSource | str, split: str) -> list[Example]:
    """Read one split as a list of :class:`Example`."""
    if isinstance(source, str):
        source = resolve(source)
    if source.kind == "hf":
        from nlu.data.hf import load_hf_split

        return load_hf_split(source, split)
    found = split_file(source, split)
    if found is None:
        raise DataError(f"{source.describe()}: no split {split!r}: {expected_files(source, split)}")
    path, fmt, options = found
    return read_examples(path, fmt, split=split, **options)


def expected_files(source: DataSource, split: str) -> str:
    """Where a split's file was looked for, in words, for error messages."""
    if source.kind == "card":
        tried = [str(p) for p, _ in _card_candidates(source, split)]
        return f"none of {', '.join(tried)} exists"
    if source.kind == "files":
        return f"data.files names only {', '.join(source.files)}"
    names = ", ".join(p.format(split=split) for p in _SPLIT_FILES)
    return f"expected one of {names} in {source.location} (JointBERT layout: {split}/seq.in, seq.out, label)"


def has_split(source: DataSource, split: str) -> bool:
    if source.kind == "hf":
        # A save_to_disk DatasetDict lists its splits; a single saved Dataset is every split.
        index = Path(source.location) / "dataset_dict.json"
        if index.is_file():
            return split in json.loads(index.read_text(encoding="utf-8")).get("splits", [])
        return True
    return split_file(source, split) is not None
