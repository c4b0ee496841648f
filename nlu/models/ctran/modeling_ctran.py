"""CTRAN (Rafiepour & Salimi Sartakhti 2023, "CTRAN: CNN-Transformer-based Network for Natural Language
Understanding", arXiv 2303.10606), optionally with a CRF.

Shared encoder: backbone states -> parallel 'same'-padded convolutions -> window feature sequence (each
position's feature maps of every convolution, concatenated) -> linear projection to the hidden size -> stacked
Transformer encoder layers. Intent decoder: multi-head self-attention, masked mean pooling, a linear layer.
Slot decoder: the aligned Transformer decoder, whose target is the encoder output itself and whose
self-attention mask is the zero-diagonal mask (position i sees position i only), so output position i stays
aligned with input token i; then a linear layer.

The layers (``nlu.modules.transformer_layer``) compute what ``nn.TransformerEncoderLayer``,
``nn.MultiheadAttention`` and ``nn.TransformerDecoderLayer`` with that mask compute, under the same parameter
names, with smaller exported graphs; the aligned self-attention is computed as what it is, each position's
projected value.

Every mask is built from tensors at run time (no branching on tensor values), so the model exports to ONNX
with dynamic batch and sequence axes.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from nlu.models.backbones import build_encoder
from nlu.models.ctran.configuration_ctran import CtranConfig
from nlu.modules.crf import CRF
from nlu.modules.decoding import joint_output
from nlu.modules.lexicon_gate import LexiconGate
from nlu.modules.outputs import JointOutput
from nlu.modules.pooling import mean_pool
from nlu.modules.transformer_layer import AlignedDecoderLayer, EncoderLayer, PackedAttention, attention_bias


class WindowFeatures(nn.Module):
    """Parallel 1-D convolutions over the sequence (odd kernels, 'same' padding, ReLU), their feature maps
    concatenated per position: the paper's window feature sequence. Padded positions are zeroed first, so the
    states of padding never reach a real position's window."""

    def __init__(self, hidden_size: int, kernel_sizes: list[int], channels: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(hidden_size, channels, k, padding=k // 2) for k in kernel_sizes)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """hidden: (batch, seq_len, hidden_size); mask: (batch, seq_len), 1 on real tokens ->
        (batch, seq_len, channels * len(kernel_sizes))."""
        x = (hidden * mask[:, :, None].to(hidden.dtype)).transpose(1, 2)
        return torch.cat([torch.relu(conv(x)) for conv in self.convs], dim=1).transpose(1, 2)


class CtranForIntentSlot(PreTrainedModel):
    config_class = CtranConfig
    base_model_prefix = "nlu_ctran"

    def __init__(self, config: CtranConfig):
        super().__init__(config)
        # "encoder" is the pretrained backbone (the trainer's encoder learning rate and the ONNX input names
        # key on it); everything else is new and trains at the head learning rate.
        self.encoder = build_encoder(config.encoder)
        hidden = self.encoder.config.hidden_size
        dropout = config.classifier_dropout
        self.lexicon_gate = LexiconGate(len(config.lexicon_types), hidden) if config.lexicon_types else None
        self.dropout = nn.Dropout(dropout)
        self.window = WindowFeatures(hidden, config.kernel_sizes, config.channels)
        self.window_proj = nn.Linear(config.channels * len(config.kernel_sizes), hidden)
        # ModuleLists of layers rather than nn.TransformerEncoder/Decoder: no nested-tensor conversion of the
        # padded batch and no causal-mask detection to second-guess the zero-diagonal mask.
        self.context_layers = nn.ModuleList(
            EncoderLayer(hidden, config.heads, 4 * hidden, dropout) for _ in range(config.encoder_layers)
        )
        self.intent_attention = PackedAttention(hidden, config.heads, dropout)
        self.intent_classifier = nn.Linear(hidden, len(config.intent_labels))
        self.slot_layers = nn.ModuleList(
            AlignedDecoderLayer(hidden, config.heads, 4 * hidden, dropout)
            for _ in range(config.decoder_layers)
        )
        self.slot_classifier = nn.Linear(hidden, len(config.slot_labels))
        self.crf = CRF.for_labels(config.slot_labels) if config.use_crf else None
        self.post_init()
        self.train(self.training)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and module in (self.intent_classifier, self.slot_classifier):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()

    def train(self, mode: bool = True) -> CtranForIntentSlot:
        """As ``nn.Module.train``, except that with ``freeze_encoder`` the backbone stays in eval mode (word
        embeddings from a language model are read without dropout) and its parameters do not require grad.

        Freezing happens here as well as at construction because ``from_pretrained`` swaps in new parameter
        objects, which require grad again. No backbone parameter requiring grad and its inputs being integer
        ids, autograd records nothing in the backbone: the saving of ``torch.no_grad`` without a context
        manager in the exported graph."""
        super().train(mode)
        if self.config.freeze_encoder:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
        return self

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        lexicon_features: torch.Tensor | None = None,
        intent_labels: torch.Tensor | None = None,
        slot_labels: torch.Tensor | None = None,
    ) -> JointOutput:
        """input_ids, attention_mask, token_type_ids: (batch, seq_len). lexicon_features: (batch, seq_len,
        num_lexicon_types), when the config has lexicon types. intent_labels: (batch,). slot_labels:
        (batch, seq_len), the word's tag id on its first sub-token and -100 elsewhere."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        if self.lexicon_gate is not None:
            hidden = self.lexicon_gate(hidden, lexicon_features)
        hidden = self.dropout(hidden)  # (batch, seq_len, hidden)
        padding = attention_mask == 0  # (batch, seq_len) bool, true where attention must not look

        window = self.window(hidden, attention_mask)  # (batch, seq_len, channels * len(kernel_sizes))
        states = self.window_proj(window)  # (batch, seq_len, hidden)
        bias = attention_bias(padding, states.dtype)
        for layer in self.context_layers:
            states = layer(states, bias)

        attended = self.intent_attention(states, None, bias)
        # Masked mean: after the CNN and Transformer layers the first token has no special role, and the
        # paper's flattening of a fixed-length sequence would tie the head to one padded length.
        pooled = mean_pool(attended, attention_mask)  # (batch, hidden)
        intent_logits = self.intent_classifier(self.dropout(pooled))

        # Self-attention sees only the diagonal, so it needs no padding mask; cross-attention sees every real
        # token of the encoder output.
        slots = states
        for layer in self.slot_layers:
            slots = layer(slots, states, bias)
        slot_logits = self.slot_classifier(self.dropout(slots))  # (batch, seq_len, num_slot_tags)

        return joint_output(
            intent_logits, slot_logits, intent_labels, slot_labels, self.config.intent_loss_coef, self.crf
        )
