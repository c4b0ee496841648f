"""Records and texts -> the describer's tensors, with the per-record extended vocabulary of the copy mechanism."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nlu.generation.records import RecordText, Vocab, tokenize

BOS_ID, EOS_ID, UNK_ID, PAD_ID = 2, 3, 1, 0


@dataclass
class EncodedRecord:
    """One record as parallel lists over its value words, plus the words it adds to the vocabulary.

    ``extended_ids`` index the vocabulary, or ``vocab_size + k`` for the k-th record word the vocabulary lacks
    (``oov_words[k]``): the decoder can copy it although it cannot generate it.
    """

    word_ids: list[int]
    slot_ids: list[int]
    positions_forward: list[int]
    positions_backward: list[int]
    extended_ids: list[int]
    oov_words: list[str]
    target_ids: list[int] | None = None  # text words in the extended vocabulary, ``</s>`` last


def encode_record(item: RecordText, vocab: Vocab, max_position: int, max_target: int = 80) -> EncodedRecord:
    words, slots, fwd, bwd = [], [], [], []
    for slot, values in item.record.items():
        for value in values:
            value_words = tokenize(value) or [value]
            n = len(value_words)
            for i, word in enumerate(value_words):
                words.append(word)
                slots.append(vocab.slot_id(slot))
                fwd.append(min(i + 1, max_position))
                bwd.append(min(n - i, max_position))
    oov: list[str] = []
    extended = []
    for word in words:
        wid = vocab.word_id(word)
        if wid == UNK_ID:
            if word not in oov:
                oov.append(word)
            wid = len(vocab.words) + oov.index(word)
        extended.append(wid)
    target = None
    if item.text is not None:
        target = []
        for word in tokenize(item.text)[:max_target]:
            wid = vocab.word_id(word)
            if wid == UNK_ID and word in oov:
                wid = len(vocab.words) + oov.index(word)
            target.append(wid)
        target.append(EOS_ID)
    return EncodedRecord(
        [UNK_ID if e >= len(vocab.words) else e for e in extended], slots, fwd, bwd, extended, oov, target
    )


def collate(batch: Sequence[EncodedRecord]) -> dict[str, torch.Tensor]:
    """Pad a batch: record tensors ``(batch, record_len)``; with targets, ``decoder_input_ids`` and ``labels``
    ``(batch, text_len)`` (labels padded with -100)."""
    length = max(len(e.word_ids) for e in batch)

    def pad(rows: list[list[int]], value: int, size: int) -> torch.Tensor:
        return torch.tensor([r + [value] * (size - len(r)) for r in rows], dtype=torch.long)

    out = {
        "word_ids": pad([e.word_ids for e in batch], PAD_ID, length),
        "slot_ids": pad([e.slot_ids for e in batch], 0, length),
        "positions_forward": pad([e.positions_forward for e in batch], 0, length),
        "positions_backward": pad([e.positions_backward for e in batch], 0, length),
        "extended_ids": pad([e.extended_ids for e in batch], PAD_ID, length),
        "record_mask": pad([[1] * len(e.word_ids) for e in batch], 0, length),
        "num_oov": torch.tensor(max(len(e.oov_words) for e in batch)),
    }
    if all(e.target_ids is not None for e in batch):
        t = max(len(e.target_ids) for e in batch)
        out["decoder_input_ids"] = pad([[BOS_ID, *e.target_ids[:-1]] for e in batch], PAD_ID, t)
        out["labels"] = pad([list(e.target_ids) for e in batch], -100, t)
    return out
