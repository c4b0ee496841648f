"""Reply instances -> NTRD's tensors: word ids for context and template, the catalogue indices of the movies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nlu.generation.dialogues import ITEM, ReplyInstance
from nlu.generation.records import Vocab, tokenize

BOS_ID, EOS_ID = 2, 3


def build_vocab(instances: Sequence[ReplyInstance], titles: Sequence[str], min_count: int) -> Vocab:
    """Context and template words seen ``min_count`` times, plus every title word (the selector reads titles)."""
    counts: Counter[str] = Counter()
    for inst in instances:
        counts.update(inst.context)
        counts.update(inst.template)
    for title in titles:
        counts.update({w.lower(): min_count for w in tokenize(title)})
    counts[ITEM] = max(counts[ITEM], min_count)
    return Vocab.from_counts(counts, min_count)


def title_ids(titles: Sequence[str], vocab: Vocab, length: int) -> torch.Tensor:
    """``(len(titles) + 1, length)`` word ids; row 0 is the padding item."""
    rows = [[0] * length]
    for title in titles:
        ids = [vocab.word_id(w.lower()) for w in tokenize(title)][:length]
        rows.append(ids + [0] * (length - len(ids)))
    return torch.tensor(rows, dtype=torch.long)


@dataclass
class EncodedReply:
    context_ids: list[int]
    context_items: list[int]
    template_ids: list[int]  # ending with </s>
    item_ids: list[int]  # catalogue index per placeholder, -100 for a movie outside the catalogue


def encode_reply(
    inst: ReplyInstance, vocab: Vocab, item_index: dict[str, int], max_context: int, max_reply: int
) -> EncodedReply:
    context = [vocab.word_id(w) for w in inst.context[-max_context:]] or [1]
    template = [vocab.word_id(w) for w in inst.template[: max_reply - 1]]
    placeholders = sum(1 for w in inst.template[: max_reply - 1] if w == ITEM)
    items = [item_index.get(m, -100) for m in inst.items[:placeholders]]
    items += [-100] * (placeholders - len(items))
    return EncodedReply(
        context, [item_index[m] for m in inst.context_items if m in item_index], [*template, EOS_ID], items
    )


def collate(
    batch: Sequence[EncodedReply], item_token_id: int, with_labels: bool = True
) -> dict[str, torch.Tensor]:
    def pad(rows, value, size=None):
        size = size or max(1, max(len(r) for r in rows))
        return torch.tensor([list(r) + [value] * (size - len(r)) for r in rows], dtype=torch.long)

    out = {
        "context_ids": pad([b.context_ids for b in batch], 0),
        "context_items": pad([b.context_items for b in batch], 0),
    }
    out["context_mask"] = (out["context_ids"] != 0).long()
    if with_labels:
        out["decoder_input_ids"] = pad([[BOS_ID, *b.template_ids[:-1]] for b in batch], 0)
        out["labels"] = pad([b.template_ids for b in batch], -100)
        item_labels = torch.full_like(out["labels"], -100)
        for row, b in enumerate(batch):
            positions = [t for t, w in enumerate(b.template_ids) if w == item_token_id]
            for t, item in zip(positions, b.item_ids, strict=False):
                item_labels[row, t] = item
        out["item_labels"] = item_labels
    return out
