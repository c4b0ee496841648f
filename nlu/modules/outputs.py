"""Typed outputs shared by the joint models."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class JointOutput(ModelOutput):
    """``loss`` only when labels are given.

    intent_logits: (batch, num_intents); slot_logits: (batch, seq_len, num_slot_tags), per sub-token.
    earlier_slot_logits: the slot logits of earlier passes, each shaped as slot_logits (SlotRefine's first pass),
    for inspection; only slot_logits are decoded and exported.
    """

    loss: torch.Tensor | None = None
    intent_logits: torch.Tensor | None = None
    slot_logits: torch.Tensor | None = None
    intent_loss: torch.Tensor | None = None
    slot_loss: torch.Tensor | None = None
    earlier_slot_logits: tuple[torch.Tensor, ...] | None = None
