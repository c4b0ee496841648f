"""The questions of the question-answering zero-shot model: the label texts it tokenises, the slot types each
training utterance is asked about (its own and sampled negatives), the (utterance, question) pairs packed into
one encoder batch, and the answers merged into one tag per word. See :mod:`.modeling_zeroshot_qa`."""

from __future__ import annotations

import torch

from nlu.data.label_files import label_text, question_text
from nlu.models.zeroshot.configuration_zeroshot import slot_types_of
from nlu.models.zeroshot_qa.configuration_zeroshot_qa import ZeroShotQAConfig

# The question tagger's three classes for one slot type.
ANSWER_O, ANSWER_B, ANSWER_I = 0, 1, 2
IGNORE = -100


def label_texts(config: ZeroShotQAConfig) -> list[str]:
    """What is tokenised into ``config.label_token_ids``: the intents' label texts (vocabulary order, ``UNK``
    left out), then each slot type's question (order of first appearance in the slot vocabulary)."""
    intents = [
        label_text(name, config.intent_descriptions.get(name, "")) for name in config.intent_labels[1:]
    ]
    k = config.examples_per_question
    questions = [
        question_text(t, config.slot_descriptions.get(t, ""), config.slot_examples.get(t, [])[:k])
        for t in slot_types_of(config.slot_labels)
    ]
    return intents + questions


def sample_questions(
    present: torch.Tensor,
    negatives: int,
    groups: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (utterance, slot type) pairs a training batch asks: every type an utterance has, and up to
    ``negatives`` types it does not have, drawn at random, first among the types that other utterances of its
    group (its intent) in the batch have, then among the rest.

    present: (batch, num_types) bool, the types each utterance has; groups: (batch,) int, or None (no
    preference). Draws from ``generator`` (default: torch's global generator, which the training loop seeds):
    the same seed gives the same pairs. Returns (utterance index, type index), each (num_pairs,), in row-major
    order (utterance, then type)."""
    batch, num_types = present.shape
    scores = torch.rand(batch, num_types, generator=generator, device=present.device)
    if groups is not None:
        same = (groups[:, None] == groups[None, :]).to(scores.dtype)  # (batch, batch)
        scores = scores + (same @ present.to(scores.dtype) > 0).to(scores.dtype)  # the group's types first
    scores = scores.masked_fill(present, -1.0)
    asked = present.clone()
    k = min(negatives, num_types)
    if k:
        top = scores.topk(k, dim=1)
        asked.scatter_(1, top.indices, top.values >= 0)  # >= 0: a type the utterance does not have
        asked |= present
    utterance, slot_type = asked.nonzero(as_tuple=True)
    return utterance, slot_type


def pack_questions(
    utterance_ids: torch.Tensor,
    utterance_mask: torch.Tensor,
    question_ids: torch.Tensor,
    question_lengths: torch.Tensor,
    pad_id: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each question and its utterance as one right-padded sequence, ``[CLS] question [SEP] utterance [SEP]``:
    the question's sub-tokens (its own ``[CLS]`` and ``[SEP]`` included), then the utterance's after its
    ``[CLS]``. What a tokenizer gives for the pair, so positions count from the question's start whatever the
    padding, and the words' states do not depend on the longest question or utterance of the batch.

    utterance_ids, utterance_mask: (pairs, seq_len), right-padded, ``[CLS]`` first; question_ids: (pairs,
    question_len), right-padded; question_lengths: (pairs,). Returns input ids, attention mask and segment ids
    (0 on the question, 1 after it), each (pairs, question_len + seq_len - 1). The utterance's sub-token j
    (j >= 1) sits at ``question_lengths + j - 1``."""
    pairs, seq_len = utterance_ids.shape
    question_len = question_ids.shape[1]
    width = question_len + seq_len - 1
    position = torch.arange(width, device=utterance_ids.device)[None, :]  # (1, width)
    length = question_lengths[:, None]  # (pairs, 1)
    in_question = position < length  # (pairs, width)
    from_utterance = position - length + 1  # the utterance sub-token read at each position
    in_utterance = ~in_question & (from_utterance < seq_len)
    utterance_index = from_utterance.clamp(0, seq_len - 1)
    question_index = position.clamp(max=question_len - 1).expand(pairs, width)
    utterance_part = torch.where(in_utterance, utterance_ids.gather(1, utterance_index), pad_id)
    ids = torch.where(in_question, question_ids.gather(1, question_index), utterance_part)
    mask = torch.where(
        in_question,
        torch.ones_like(ids),
        torch.where(in_utterance, utterance_mask.gather(1, utterance_index), 0),
    )
    return ids, mask, (~in_question).to(ids.dtype)


def merged_slot_logits(answers: torch.Tensor, bonus: torch.Tensor | None = None) -> torch.Tensor:
    """Per-type answers -> one score per tag, such that a softmax over the tags is the distribution of "at most
    one type claims the word" when the types answer independently: O scores 0, and ``B-t`` (``I-t``) scores the
    log-odds of B (I) against O in type t's answer. A word takes a type's tag only where that type says B or I
    more than O, and the type most confident against O wins a word several types claim.

    answers: (..., num_types, 3) O/B/I scores; bonus: (num_types,) log-odds added to each type's B and I, or
    None. Returns (..., 1 + 2 * num_types): O, then B- of each type, then I- of each type."""
    odds = answers[..., 1:] - answers[..., :1]  # (..., num_types, 2)
    if bonus is not None:
        odds = odds + bonus[:, None]
    zero = answers.new_zeros(answers.shape[:-2] + (1,))
    return torch.cat([zero, odds[..., 0], odds[..., 1]], dim=-1)
