"""The packaged DEMO data set: reproducible from its templates, well-formed, described by its data card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nlu.data.demo import DEMO_DIR
from nlu.data.demo.build import SPLITS, build

CARDS_DIR = Path(__file__).resolve().parents[2] / "nlu" / "data" / "cards"
CARD_KEYS = {
    "name",
    "title",
    "source",
    "version",
    "licence",
    "citation",
    "format",
    "path",
    "splits",
    "languages",
    "num_intents",
    "num_slot_types",
}


def _records(split: str) -> list[dict]:
    return [
        json.loads(line) for line in (DEMO_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def _front_matter(card: Path) -> dict:
    """The YAML header between the first two ``---`` lines of a data card."""
    _, header, _ = card.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(header)


def _slot_types(records: list[dict]) -> set[str]:
    return {tag[2:] for r in records for tag in r["tags"] if tag != "O"}


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    counts = build(tmp_path)
    for split in SPLITS:
        committed = (DEMO_DIR / f"{split}.jsonl").read_bytes()
        assert (tmp_path / f"{split}.jsonl").read_bytes() == committed, "rerun python -m nlu.data.demo.build"
        assert counts[split] == committed.count(b"\n")


@pytest.mark.parametrize("split", SPLITS)
def test_records_are_well_formed(split: str) -> None:
    records = _records(split)
    assert records
    for n, r in enumerate(records):
        assert list(r) == ["id", "tokens", "tags", "intent", "lang"]
        assert r["id"] == f"demo-{split}-{n:05d}"
        assert r["lang"] == "en" and r["intent"]
        assert len(r["tokens"]) == len(r["tags"]) > 0
        assert all(tok == tok.lower() and tok.isalnum() for tok in r["tokens"])
        previous = "O"
        for tag in r["tags"]:
            assert tag == "O" or tag[:2] in ("B-", "I-") and len(tag) > 2, tag
            if tag.startswith("I-"):  # strict BIO: I-x continues a B-x or I-x span
                assert previous != "O" and previous[2:] == tag[2:], r["id"]
            previous = tag
    utterances = [tuple(r["tokens"]) for r in records]
    assert len(set(utterances)) == len(utterances), "duplicate utterance within a split"


@pytest.mark.parametrize("split", ["dev", "test"])
def test_eval_labels_occur_in_train(split: str) -> None:
    train, other = _records("train"), _records(split)
    assert {r["intent"] for r in other} <= {r["intent"] for r in train}
    assert _slot_types(other) <= _slot_types(train)


def test_demo_card_matches_files() -> None:
    card = _front_matter(CARDS_DIR / "demo.md")
    train = _records("train")
    assert card["path"] == "packaged:nlu.data.demo"
    assert card["splits"] == {split: len(_records(split)) for split in SPLITS}
    assert card["num_intents"] == len({r["intent"] for r in train})
    assert card["num_slot_types"] == len(_slot_types(train))
    assert card["languages"] == ["en"]


@pytest.mark.parametrize("name", ["demo", "atis", "snips"])
def test_card_header_has_exactly_the_expected_keys(name: str) -> None:
    card = _front_matter(CARDS_DIR / f"{name}.md")
    assert CARD_KEYS - {"path"} <= set(card) <= CARD_KEYS | {"sources", "download"}
    assert card["name"] == name and card["format"] == ("jsonl" if name == "demo" else "jointbert")
    assert all(isinstance(n, int) and n > 0 for n in card["splits"].values())
