"""The losses every joint model trains with: intent cross-entropy and the slot loss (a CRF's negative
log-likelihood, or token cross-entropy). Decoding is ``nlu.decoding``, shared with the runtime."""

from __future__ import annotations

import torch

from nlu.decoding import DecodedBatch, decode, decoding_of, slot_decoder
from nlu.modules.crf import CRF
from nlu.modules.outputs import JointOutput


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


def decode_output(model, out: JointOutput, word_mask: torch.Tensor) -> DecodedBatch:
    """A joint model's output decoded as every parser decodes it (:func:`nlu.decoding.decode`, with the model's
    CRF when it has one). word_mask: (batch, seq_len) bool, true on each word's first sub-token."""
    positions = [row.nonzero().flatten().tolist() for row in word_mask]
    return decode(
        out.intent_logits.detach().float().cpu().numpy(),
        out.slot_logits.detach().float().cpu().numpy(),
        positions,
        slot_decoder(decoding_of(model)),
    )
