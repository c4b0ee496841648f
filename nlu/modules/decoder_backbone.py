"""A decoder LLM read as an encoder: the base model of a causal LM (SmolLM2, Llama, Qwen, ...) giving one state
per token to the heads of a joint model, with the attention mask and position ids built here, and the token
whose state stands for the whole utterance (the last real one)."""

from __future__ import annotations

import torch
from torch import nn


def decoder_attention_mask(attention_mask: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    """The 4D mask a decoder's attention reads: (batch, seq_len) 0/1 -> (batch, 1, seq_len, seq_len) bool, true
    where query position i may attend to key position j.

    Causal: j <= i and j is a real token. Bidirectional: every real token of the utterance (a padding-only mask,
    as LLM2Vec and LS-unLLaMA use). Every position may attend to itself, so that a padding position (its state
    is never read) has no empty row, whose softmax would be NaN, whichever side the padding is on."""
    seq_len = attention_mask.shape[-1]
    keys = attention_mask.bool()[:, None, None, :]  # (batch, 1, 1, seq_len)
    position = torch.arange(seq_len, device=attention_mask.device)
    itself = position[:, None] == position[None, :]  # (seq_len, seq_len)
    allowed = keys if bidirectional else keys & (position[None, :] <= position[:, None])
    return allowed | itself


def last_token_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, seq_len) 0/1 -> (batch,): the index of each row's last real token, with padding on either side
    (the largest index whose mask is 1; 0 for a row without any)."""
    position = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (attention_mask.long() * position).argmax(-1)


class DecoderBackbone(nn.Module):
    """A decoder LLM's base model (the causal LM without its LM head) read as an encoder: one state per token.

    It takes what an encoder takes (``input_ids``, ``attention_mask``; ``token_type_ids`` are ignored) and
    returns ``last_hidden_state`` (batch, seq_len, hidden). Two things differ from calling the base model
    directly: position ids count only real tokens (``attention_mask.cumsum - 1``), so a left-padded batch gives
    the states of a right-padded one; and the attention mask is built here (:func:`decoder_attention_mask`, made
    additive so that eager and SDPA attention read it alike), causal or, with ``bidirectional``, over the whole
    utterance. Under a causal mask only the last real token
    has read the whole utterance: heads that summarise the utterance read that token
    (:func:`last_token_positions`; ``summary_token = "last"``).
    """

    summary_token = "last"

    def __init__(self, model: nn.Module, bidirectional: bool = False):
        super().__init__()
        self.model = model
        self.bidirectional = bool(bidirectional)

    @property
    def config(self):
        return self.model.config

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ):
        """input_ids, attention_mask: (batch, seq_len) -> ``BaseModelOutput`` with last_hidden_state (batch,
        seq_len, hidden)."""
        from transformers.modeling_outputs import BaseModelOutput

        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        allowed = decoder_attention_mask(attention_mask, self.bidirectional)
        # Additive (0 where allowed, the dtype's minimum elsewhere), not boolean: SDPA reads either, but eager
        # attention (what the ONNX export switches to, nlu.export.graph._eager_attention) adds the mask to the
        # scores, and a boolean one would add 1 and 0.
        dtype = self.model.get_input_embeddings().weight.dtype
        mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
            ~allowed, torch.finfo(dtype).min
        )
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False)
        return BaseModelOutput(last_hidden_state=out.last_hidden_state)


def summary_states(encoder: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, seq_len, hidden) token states -> (batch, hidden): the state that stands for the whole utterance,
    the first token's ([CLS]) for an encoder, the last real token's for a decoder LLM (:class:`DecoderBackbone`)."""
    if getattr(encoder, "summary_token", "first") != "last":
        return hidden[:, 0]
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last_token_positions(attention_mask)]
