"""Logits -> word-level decisions, the same for every joint model: UNK is never predicted; slot tags come from
a CRF's Viterbi path with posterior-marginal confidences, or from a per-word argmax with softmax confidences."""

from __future__ import annotations

import torch

from nlu.modules.crf import CRF
from nlu.modules.outputs import DecodedBatch, JointOutput

# Large but finite: keeps softmax/CRF arithmetic free of inf - inf.
MASKED = -1e4


@torch.no_grad()
def decode_joint(
    intent_logits: torch.Tensor, slot_logits: torch.Tensor, word_mask: torch.Tensor, crf: CRF | None = None
) -> DecodedBatch:
    """intent_logits: (batch, num_intents); slot_logits: (batch, seq_len, num_tags); word_mask: (batch, seq_len)
    bool, true on each word's first sub-token. Index 0 of both vocabularies is UNK and is masked out."""
    intent_logits = intent_logits.float().clone()
    intent_logits[:, 0] = MASKED
    intent_probs = intent_logits.softmax(-1)
    slot_logits = slot_logits.float().clone()
    slot_logits[..., 0] = MASKED
    if crf is not None:
        paths = crf.decode(slot_logits, word_mask)
        marginals = crf.marginals(slot_logits, word_mask)
        confidences = []
        for b, path in enumerate(paths):
            positions = word_mask[b].nonzero().flatten().tolist()
            confidences.append([marginals[b, p, t].item() for p, t in zip(positions, path, strict=True)])
    else:
        probs = slot_logits.softmax(-1)
        best, ids = probs.max(-1)
        paths, confidences = [], []
        for b in range(ids.shape[0]):
            keep = word_mask[b]
            paths.append(ids[b][keep].tolist())
            confidences.append(best[b][keep].tolist())
    return DecodedBatch(intent_probs=intent_probs.tolist(), slot_ids=paths, slot_confidences=confidences)


def slot_loss(slot_logits: torch.Tensor, slot_labels: torch.Tensor, crf: CRF | None = None) -> torch.Tensor:
    """Mean CRF negative log-likelihood over utterances, or token cross-entropy; labels -100 are ignored.

    slot_logits: (batch, seq_len, num_tags); slot_labels: (batch, seq_len), the word's tag on its first
    sub-token and -100 elsewhere."""
    if crf is not None:
        return crf(slot_logits, slot_labels.clamp(min=0), slot_labels != -100, reduction="mean")
    return torch.nn.functional.cross_entropy(
        slot_logits.flatten(0, 1), slot_labels.flatten(), ignore_index=-100
    )


def joint_output(
    intent_logits: torch.Tensor,
    slot_logits: torch.Tensor,
    intent_labels: torch.Tensor | None,
    slot_labels: torch.Tensor | None,
    intent_loss_coef: float,
    crf: CRF | None = None,
    earlier_slot_logits: tuple[torch.Tensor, ...] = (),
) -> JointOutput:
    """A joint model's output, with its losses when both labels are given: ``intent_loss_coef`` x intent
    cross-entropy + the slot loss of ``slot_logits`` and of any ``earlier_slot_logits`` (a first pass that is
    trained too, as in SlotRefine). Only ``slot_logits`` are decoded."""
    out = JointOutput(
        intent_logits=intent_logits, slot_logits=slot_logits, earlier_slot_logits=earlier_slot_logits or None
    )
    if intent_labels is not None and slot_labels is not None:
        out.intent_loss = torch.nn.functional.cross_entropy(intent_logits, intent_labels)
        out.slot_loss = sum(
            (slot_loss(logits, slot_labels, crf) for logits in earlier_slot_logits),
            slot_loss(slot_logits, slot_labels, crf),
        )
        out.loss = intent_loss_coef * out.intent_loss + out.slot_loss
    return out
