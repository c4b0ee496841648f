"""Batching for training: the bucketed sampler, the padding collator and label alignment on sub-tokens."""

from __future__ import annotations

import random
import statistics

import pytest
import torch
from transformers import AutoTokenizer

from nlu.data.example import Example
from nlu.data.labels import LabelVocab
from nlu.training.data import IGNORE, BucketBatchSampler, Collator, encode_examples


def random_lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 100) for _ in range(n)]


@pytest.mark.parametrize(("n", "batch_size"), [(1000, 10), (103, 8), (5, 16)])
def test_every_index_once_per_epoch(n, batch_size):
    sampler = BucketBatchSampler(random_lengths(n), batch_size, seed=3, pool_batches=4)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == -(-n // batch_size)
        assert all(1 <= len(b) <= batch_size for b in batches)
        assert sorted(i for b in batches for i in b) == list(range(n))


def test_order_depends_only_on_seed_and_epoch():
    lengths = random_lengths(500)

    def order(seed: int, epoch: int) -> list[list[int]]:
        sampler = BucketBatchSampler(lengths, 16, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    reference = order(seed=1, epoch=2)
    assert order(seed=1, epoch=2) == reference  # a fresh sampler, as after a resume
    random.seed(12345)
    torch.manual_seed(12345)  # the global RNGs play no part
    assert order(seed=1, epoch=2) == reference
    assert order(seed=1, epoch=3) != reference
    assert order(seed=2, epoch=2) != reference

    sampler = BucketBatchSampler(lengths, 16, seed=1)
    sampler.set_epoch(2)
    assert list(sampler) == list(sampler) == reference  # iterating has no side effects


def test_batches_hold_similar_lengths():
    lengths = random_lengths(2000)
    sampler = BucketBatchSampler(lengths, 16, seed=0, pool_batches=50)
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in sampler]
    # Random batches of 16 from uniform 1..100 spread over ~88; sorted pools of 800 leave a few units.
    assert statistics.mean(spreads) < 5
    # ...yet batches still come in mixed order, not shortest first.
    means = [statistics.mean(lengths[i] for i in b) for b in sampler]
    assert means != sorted(means)


def test_without_shuffle_batches_are_sorted_by_length():
    lengths = [5, 1, 4, 2, 3]
    sampler = BucketBatchSampler(lengths, 2, seed=0, shuffle=False)
    assert list(sampler) == [[1, 3], [4, 2], [0]]


def test_collator_pads_to_the_longest_row():
    rows = [
        {
            "input_ids": [2, 10, 11, 3],
            "attention_mask": [1, 1, 1, 1],
            "token_type_ids": [0, 0, 0, 0],
            "slot_labels": [IGNORE, 4, 1, IGNORE],
            "intent_label": 2,
        },
        {
            "input_ids": [2, 12, 3],
            "attention_mask": [1, 1, 1],
            "token_type_ids": [0, 0, 0],
            "slot_labels": [IGNORE, 5, IGNORE],
            "intent_label": 1,
        },
    ]
    batch = Collator(pad_token_id=7)(rows)
    assert batch["input_ids"].tolist() == [[2, 10, 11, 3], [2, 12, 3, 7]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]
    assert batch["slot_labels"].tolist() == [[IGNORE, 4, 1, IGNORE], [IGNORE, 5, IGNORE, IGNORE]]
    assert batch["intent_labels"].tolist() == [2, 1]
    assert all(t.dtype == torch.long for t in batch.values())
    assert len(rows[1]["input_ids"]) == 3  # the rows themselves are not padded in place

    no_types = Collator(0)([{k: v for k, v in r.items() if k != "token_type_ids"} for r in rows])
    assert "token_type_ids" not in no_types


def test_encode_examples_labels_first_subtokens_only(tiny_backbone):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    # "zqxv" is not in the tiny vocabulary: it splits into character pieces z ##q ##x ##v.
    train = [
        Example(id="a", tokens=["play", "zqxv", "now"], tags=["O", "B-song", "O"], intent="play_music"),
        Example(id="b", tokens=["wake", "me", "up"], tags=["O", "O", "O"], intent="set_alarm"),
    ]
    labels = LabelVocab.from_examples(train)
    unseen = Example(id="c", tokens=["play", "zqxv"], tags=["O", "B-artist"], intent="new_intent")
    encoded = encode_examples([*train, unseen], tokenizer, labels, max_length=32)

    first = encoded[0]
    pieces = tokenizer.convert_ids_to_tokens(first["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and len(pieces) > 5  # the word really split
    word_ids = tokenizer(["play", "zqxv", "now"], is_split_into_words=True).word_ids()
    expected = [IGNORE] * len(word_ids)
    for position, word in enumerate(word_ids):
        if word is not None and (position == 0 or word_ids[position - 1] != word):
            expected[position] = labels.slot_id(train[0].tags[word])
    assert first["slot_labels"] == expected
    assert [x for x in first["slot_labels"] if x != IGNORE] == [labels.slot_id(t) for t in train[0].tags]
    assert first["intent_label"] == labels.intent_id("play_music") != 0

    # Labels that the training split lacks map to UNK (0), for the loss.
    assert encoded[2]["intent_label"] == 0
    assert [x for x in encoded[2]["slot_labels"] if x != IGNORE] == [labels.slot_id("O"), 0]


def test_encode_examples_truncates_to_max_length(tiny_backbone):
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    words = ["turn", "on", "the", "lights"] * 10
    example = Example(id="long", tokens=words, tags=["O"] * len(words), intent="x")
    labels = LabelVocab.from_examples([example])
    row = encode_examples([example], tokenizer, labels, max_length=12)[0]
    assert len(row["input_ids"]) == len(row["slot_labels"]) == 12
    assert sum(x != IGNORE for x in row["slot_labels"]) == 10  # 12 minus [CLS] and [SEP]
