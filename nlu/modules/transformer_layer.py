"""A Transformer encoder layer that exports to a small ONNX graph.

``torch.nn.TransformerEncoderLayer`` exports through ``nn.MultiheadAttention``, whose traced graph carries many
shape, transpose and mask operators; on a CPU at one utterance those operators, not the matrix products, are
most of a small layer's time. ``EncoderLayer`` computes the same function (post-norm, GELU, batch first) with
one packed QKV projection, one softmax and plain matrix products, and keeps ``nn.TransformerEncoderLayer``'s
parameter names, so checkpoints saved with either load into the other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class _PackedAttention(nn.Module):
    """The parameters of ``nn.MultiheadAttention`` (packed input projection, output projection), same names."""

    def __init__(self, hidden: int):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden, hidden))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden))
        self.out_proj = nn.Linear(hidden, hidden)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)


class EncoderLayer(nn.Module):
    """Post-norm self-attention + feed-forward block, as ``nn.TransformerEncoderLayer(hidden, heads,
    dim_feedforward, dropout, activation="gelu", batch_first=True)``.

    forward(x, attention_bias): x (batch, seq_len, hidden); attention_bias (batch, 1, 1, seq_len), 0 on real
    tokens and a large negative number on padding (``attention_bias`` builds it) -> (batch, seq_len, hidden).
    """

    def __init__(
        self, hidden: int, heads: int, dim_feedforward: int, dropout: float = 0.1, eps: float = 1e-5
    ):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"heads ({heads}) must divide the hidden size ({hidden})")
        self.heads = heads
        self.self_attn = _PackedAttention(hidden)
        self.linear1 = nn.Linear(hidden, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=eps)
        self.norm2 = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)  # on attention weights, as nn.MultiheadAttention
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout_ff = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor) -> torch.Tensor:
        batch, seq_len, hidden = x.shape
        head_dim = hidden // self.heads
        qkv = F.linear(x, self.self_attn.in_proj_weight, self.self_attn.in_proj_bias)
        q, k, v = qkv.view(batch, seq_len, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(head_dim)) + attention_bias
        weights = self.dropout(torch.softmax(scores, dim=-1))
        context = (weights @ v).transpose(1, 2).reshape(batch, seq_len, hidden)
        x = self.norm1(x + self.dropout1(self.self_attn.out_proj(context)))
        feed_forward = self.linear2(self.dropout_ff(F.gelu(self.linear1(x))))
        return self.norm2(x + self.dropout2(feed_forward))


def attention_bias(padding: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """padding: (batch, seq_len) bool, true on padding -> (batch, 1, 1, seq_len) additive attention bias."""
    bias = torch.zeros(padding.shape, dtype=dtype, device=padding.device).masked_fill(
        padding, torch.finfo(dtype).min
    )
    return bias[:, None, None, :]
