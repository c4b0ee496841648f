"""Pooling of token states into one vector per sequence."""

from __future__ import annotations

import torch


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, seq_len, hidden) states, (batch, seq_len) mask -> (batch, hidden): the mean over the positions the
    mask keeps (a row with none gives zeros)."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
