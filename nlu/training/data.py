"""Examples -> tokenised ``datasets.Dataset`` -> length-bucketed, dynamically padded batches."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence

import datasets
import torch

from nlu.data.alignment import align_labels
from nlu.data.example import Example
from nlu.data.labels import LabelVocab
from nlu.data.lexicon import Gazetteer, extra_inputs

IGNORE = -100
logger = logging.getLogger(__name__)


def warn_truncated(truncated: int, total: int, longest: int, max_length: int, what: str) -> None:
    """One warning for the utterances of a split that are longer than the model reads (none: no warning)."""
    if truncated:
        logger.warning(
            "%d of %d %s utterances are longer than max_length=%d sub-tokens (the longest has %d) and are cut "
            "off: their last words are never %s. Raise model.max_length to keep them",
            truncated,
            total,
            what,
            max_length,
            longest,
            "learned" if what.startswith("training") else "tagged (they count as O)",
        )


def count_truncated(examples: Sequence[Example], tokenizer, max_length: int) -> tuple[int, int]:
    """How many examples are longer than ``max_length`` sub-tokens (special tokens included), and the length
    of the longest in sub-tokens."""
    lengths = [
        len(ids) for ids in tokenizer([ex.tokens for ex in examples], is_split_into_words=True)["input_ids"]
    ]
    return sum(n > max_length for n in lengths), max(lengths, default=0)


def encode_examples(
    examples: Sequence[Example],
    tokenizer,
    labels: LabelVocab,
    max_length: int,
    gazetteer: Gazetteer | None = None,
    what: str = "training",
) -> datasets.Dataset:
    """One row per example: ``input_ids``, ``attention_mask`` (+ ``token_type_ids``), ``intent_label`` and
    ``slot_labels`` (the word's tag id on its first sub-token, -100 elsewhere), and with a gazetteer
    ``lexicon_features`` (one list of 0/1 per sub-token). Tokenisation runs batched through ``Dataset.map``
    with the backbone's fast tokenizer. Examples longer than ``max_length`` are truncated, and counted in one
    warning (``what`` names them there)."""
    truncated, longest = count_truncated(examples, tokenizer, max_length)
    warn_truncated(truncated, len(examples), longest, max_length, what)
    datasets.disable_progress_bars()
    raw = datasets.Dataset.from_dict(
        {
            "tokens": [ex.tokens for ex in examples],
            "intent_label": [labels.intent_id(ex.intent) for ex in examples],
            "word_labels": [[labels.slot_id(t) for t in ex.tags] for ex in examples],
        }
    )

    def tokenize(batch: dict) -> dict:
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        enc["slot_labels"] = [
            align_labels(enc.word_ids(i), word_labels) for i, word_labels in enumerate(batch["word_labels"])
        ]
        if gazetteer is not None:
            enc["lexicon_features"] = []
            for i, words in enumerate(batch["tokens"]):
                word_ids = enc.word_ids(i)
                feats = extra_inputs(["lexicon_features"], [words], [word_ids], len(word_ids), gazetteer)
                enc["lexicon_features"].append(feats["lexicon_features"][0].tolist())
        return enc

    return raw.map(tokenize, batched=True, remove_columns=["tokens", "word_labels"])


class Collator:
    """Pads a list of rows to the longest in the batch."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], dtype=torch.long)

        batch = {
            "input_ids": pad("input_ids", self.pad_token_id),
            "attention_mask": pad("attention_mask", 0),
            "slot_labels": pad("slot_labels", IGNORE),
            "intent_labels": torch.tensor([r["intent_label"] for r in rows], dtype=torch.long),
        }
        if "lexicon_features" in rows[0]:
            types = len(rows[0]["lexicon_features"][0])
            batch["lexicon_features"] = torch.tensor(
                [
                    r["lexicon_features"] + [[0.0] * types] * (width - len(r["lexicon_features"]))
                    for r in rows
                ],
                dtype=torch.float32,
            )
        if "token_type_ids" in rows[0]:
            batch["token_type_ids"] = pad("token_type_ids", 0)
        if "index" in rows[0]:  # the utterance's place in the training split (distillation targets)
            batch["index"] = torch.tensor([r["index"] for r in rows], dtype=torch.long)
        return batch


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of similar length, in an order fixed by ``seed`` and the epoch.

    Each epoch shuffles the indices, cuts them into pools of ``pool_batches`` batches, sorts each pool by length,
    cuts batches and shuffles the batches. The order depends only on ``(seed, epoch)``, so a resumed run sees
    exactly the batches the interrupted run would have seen. Set ``epoch`` before iterating.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, seed: int, shuffle: bool = True, pool_batches: int = 50
    ):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(range(len(self.lengths)))
        if not self.shuffle:
            order = sorted(indices, key=lambda i: self.lengths[i])
            yield from (order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size))
            return
        rng = random.Random(self.seed * 100_003 + self.epoch)
        rng.shuffle(indices)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(indices), pool):
            chunk = sorted(indices[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        rng.shuffle(batches)
        yield from batches

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)
