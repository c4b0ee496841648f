"""Transformer layers that export to small ONNX graphs.

``torch.nn.TransformerEncoderLayer`` exports through ``nn.MultiheadAttention``, whose traced graph carries many
shape, transpose and mask operators; on a CPU at one utterance those operators, not the matrix products, are
most of a small layer's time. ``EncoderLayer`` computes the same function (post-norm, GELU, batch first) with
one packed QKV projection, one softmax and plain matrix products; ``AlignedDecoderLayer`` does the same for a
decoder layer whose self-attention sees only the diagonal. Both keep the torch layers' parameter names, so
checkpoints saved with either load into the other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class PackedAttention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameters (a packed query/key/value projection
    ``in_proj_weight``/``in_proj_bias`` and ``out_proj``, same names and initialisation), so either loads the
    other's checkpoint, and a small exported graph.

    forward(query, memory, bias): query (batch, q_len, hidden); memory (batch, k_len, hidden), or None for
    self-attention; bias (batch, 1, 1, k_len) additive, negative on padding (``attention_bias``) ->
    (batch, q_len, hidden). Dropout applies to the attention weights, as in ``nn.MultiheadAttention``."""

    def __init__(self, hidden: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"heads ({heads}) must divide the hidden size ({hidden})")
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden, hidden))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden))
        self.out_proj = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, len, hidden) -> (batch, heads, len, head_dim)."""
        batch, length, hidden = x.shape
        return x.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, memory: torch.Tensor | None, bias: torch.Tensor) -> torch.Tensor:
        batch, q_len, hidden = query.shape
        head_dim = hidden // self.heads
        if memory is None:  # one packed projection for all three
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            q, k, v = qkv.view(batch, q_len, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        else:
            w_q, w_kv = self.in_proj_weight.split([hidden, 2 * hidden])
            b_q, b_kv = self.in_proj_bias.split([hidden, 2 * hidden])
            q = self._split(F.linear(query, w_q, b_q))
            kv = F.linear(memory, w_kv, b_kv)
            k, v = kv.view(batch, memory.shape[1], 2, self.heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(head_dim)) + bias
        weights = self.dropout(torch.softmax(scores, dim=-1))
        context = (weights @ v).transpose(1, 2).reshape(batch, q_len, hidden)
        return self.out_proj(context)

    def attend_to_self_only(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention in which every position sees itself only (a mask that keeps just the diagonal): the
        softmax weight is 1, so the output is the projected value at the same position, computed without
        queries, keys or a softmax. x: (batch, len, hidden) -> (batch, len, hidden)."""
        hidden = x.shape[-1]
        v = F.linear(x, self.in_proj_weight[2 * hidden :], self.in_proj_bias[2 * hidden :])
        if self.training and self.dropout.p > 0:  # dropout of the single attention weight of each head
            batch, length, _ = x.shape
            keep = self.dropout(torch.ones(batch, length, self.heads, 1, dtype=x.dtype, device=x.device))
            v = (v.view(batch, length, self.heads, -1) * keep).view(batch, length, hidden)
        return self.out_proj(v)


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
        self.self_attn = PackedAttention(hidden, heads, dropout)
        self.linear1 = nn.Linear(hidden, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=eps)
        self.norm2 = nn.LayerNorm(hidden, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout_ff = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.self_attn(x, None, attention_bias)))
        feed_forward = self.linear2(self.dropout_ff(F.gelu(self.linear1(x))))
        return self.norm2(x + self.dropout2(feed_forward))


class AlignedDecoderLayer(nn.Module):
    """Post-norm decoder block whose self-attention sees only each position itself (CTRAN's aligned decoder,
    the zero-diagonal mask), then cross-attention over the encoder output and a feed-forward block: the function
    and parameter names of ``nn.TransformerDecoderLayer(hidden, heads, dim_feedforward, dropout,
    activation="gelu", batch_first=True)`` called with a mask that keeps only the diagonal.

    forward(x, memory, memory_bias): x (batch, seq_len, hidden); memory (batch, mem_len, hidden); memory_bias
    (batch, 1, 1, mem_len) additive, negative on padding -> (batch, seq_len, hidden)."""

    def __init__(
        self, hidden: int, heads: int, dim_feedforward: int, dropout: float = 0.1, eps: float = 1e-5
    ):
        super().__init__()
        self.self_attn = PackedAttention(hidden, heads, dropout)
        self.multihead_attn = PackedAttention(hidden, heads, dropout)
        self.linear1 = nn.Linear(hidden, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=eps)
        self.norm2 = nn.LayerNorm(hidden, eps=eps)
        self.norm3 = nn.LayerNorm(hidden, eps=eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.dropout_ff = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_bias: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.self_attn.attend_to_self_only(x)))
        x = self.norm2(x + self.dropout2(self.multihead_attn(x, memory, memory_bias)))
        feed_forward = self.linear2(self.dropout_ff(F.gelu(self.linear1(x))))
        return self.norm3(x + self.dropout3(feed_forward))


def attention_bias(padding: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """padding: (batch, seq_len) bool, true on padding -> (batch, 1, 1, seq_len) additive attention bias."""
    bias = torch.zeros(padding.shape, dtype=dtype, device=padding.device).masked_fill(
        padding, torch.finfo(dtype).min
    )
    return bias[:, None, None, :]
