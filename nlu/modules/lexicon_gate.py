"""Feature-based gating with gazetteer features (Margatina et al. 2019, "Attention-based Conditioning Methods
for External Knowledge Integration"): each token representation is scaled, dimension by dimension, by a gate
computed from the token's lexicon features, ``h' = h * 2 sigmoid(W f)``.

With ``W`` initialised to zero the gate starts at exactly 1, so adding a lexicon leaves a pretrained encoder's
output untouched until training finds the features useful (the paper's ``sigmoid(W f + b)`` would halve every
feature at the start).
"""

from __future__ import annotations

import torch
from torch import nn


class LexiconGate(nn.Module):
    def __init__(self, num_types: int, hidden_size: int):
        super().__init__()
        self.proj = nn.Linear(num_types, hidden_size, bias=False)
        nn.init.zeros_(self.proj.weight)

    def forward(self, hidden: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """hidden: (batch, seq_len, hidden_size); features: (batch, seq_len, num_types) 0/1 -> same as hidden."""
        return hidden * (2.0 * torch.sigmoid(self.proj(features.to(hidden.dtype))))
