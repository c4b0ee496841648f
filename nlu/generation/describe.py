"""Describe records with a trained knowledge-base describer: ``KBDescriber.load(dir).describe(records)``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from nlu.errors import ModelError, RecordError
from nlu.generation.kb_describe import KBDescribeForGeneration
from nlu.generation.kb_describe.features import collate, encode_record
from nlu.generation.records import RecordText, Vocab, check_record, detokenize


class KBDescriber:
    """A trained describer and its vocabulary. ``describe`` checks each record against the slot types the model
    was trained on and raises :class:`RecordError` naming the record and slot."""

    def __init__(self, model: KBDescribeForGeneration, vocab: Vocab):
        self.model = model.eval()
        self.vocab = vocab

    @classmethod
    def load(cls, folder: str | Path) -> KBDescriber:
        folder = Path(folder)
        if not (folder / "config.json").is_file() or not (folder / "vocab.json").is_file():
            raise ModelError(
                f"{folder}: not a knowledge-base describer (expected config.json and vocab.json, as "
                "`nlu train recipes/e2e/kb_describe.yaml` writes under best/)"
            )
        return cls(KBDescribeForGeneration.from_pretrained(folder), Vocab.load(folder))

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder, safe_serialization=True)
        self.vocab.save(folder)

    @property
    def slot_types(self) -> list[str]:
        return self.vocab.slot_types[1:]

    def describe(
        self,
        records: Sequence[Mapping | RecordText],
        batch_size: int = 64,
        beam_size: int | None = None,
    ) -> list[str]:
        items = [
            RecordText(
                check_record(r.record if isinstance(r, RecordText) else r, f"record {i + 1}", self.slot_types)
            )
            for i, r in enumerate(records)
        ]
        texts: list[str] = []
        max_position = self.model.config.max_position
        for start in range(0, len(items), batch_size):
            encoded = [
                encode_record(RecordText(it.record), self.vocab, max_position)
                for it in items[start : start + batch_size]
            ]
            ids = self.model.generate_ids(collate(encoded), beam_size=beam_size)
            for enc, row in zip(encoded, ids, strict=True):
                texts.append(detokenize(self._word(i, enc.oov_words) for i in row))
        return texts

    def _word(self, index: int, oov: list[str]) -> str:
        size = len(self.vocab.words)
        return self.vocab.words[index] if index < size else oov[index - size]


def read_record_input(path: Path) -> list[RecordText]:
    """``nlu generate describe``'s input: a JSON file holding one record (or a list of them), or JSON lines of
    records (bare, or under ``"record"``)."""
    from nlu.data.readers import json_objects
    from nlu.generation.records import parse_item

    if not path.is_file():
        raise RecordError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8-sig")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [parse_item(whole, str(path))]
    if isinstance(whole, list):
        return [parse_item(obj, f"{path}: item {i + 1}") for i, obj in enumerate(whole)]
    items = [parse_item(obj, where) for _, where, obj in json_objects(path, [])]
    if not items:
        raise RecordError(f"{path}: no records")
    return items
