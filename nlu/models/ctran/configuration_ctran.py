"""Configuration of CTRAN (Rafiepour & Salimi Sartakhti 2023, "CTRAN: CNN-Transformer-based Network for
Natural Language Understanding"): a pretrained encoder, parallel convolutions rearranged as a window feature
sequence, stacked Transformer encoder layers, a self-attention intent decoder and an aligned Transformer slot
decoder."""

from __future__ import annotations

from nlu.models.configuration_common import JointConfig
from nlu.models.ctran.options import CtranOptions
from nlu.schema import default


class CtranConfig(JointConfig):
    """JointBERT's arguments (:class:`JointConfig`) plus CTRAN's.

    Args:
        classifier_dropout: dropout on the backbone states, inside the Transformer layers and before both
            heads.
        kernel_sizes: one 1-D convolution over the sequence per (odd) window size, run in parallel.
        channels: filters per convolution; the window feature of a position has
            ``channels * len(kernel_sizes)`` values.
        encoder_layers: Transformer encoder layers after the window feature sequence.
        decoder_layers: aligned Transformer decoder layers of the slot decoder.
        heads: attention heads of every attention layer; must divide the backbone's hidden size.
        freeze_encoder: the paper's "language model as word embeddings": the backbone is not trained and stays
            in eval mode (dropout off) even under ``model.train()``.
    """

    model_type = "nlu-ctran"

    def __init__(
        self,
        kernel_sizes: list[int] | tuple[int, ...] = tuple(default(CtranOptions, "kernel_sizes")),
        channels: int = default(CtranOptions, "channels"),
        encoder_layers: int = default(CtranOptions, "encoder_layers"),
        decoder_layers: int = default(CtranOptions, "decoder_layers"),
        heads: int = default(CtranOptions, "heads"),
        freeze_encoder: bool = default(CtranOptions, "freeze_encoder"),
        **kwargs,
    ):
        super().__init__(**kwargs)
        kernel_sizes = list(kernel_sizes)
        if not kernel_sizes or any(int(k) != k or k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(
                f"kernel_sizes must be odd positive integers (odd, so 'same' padding keeps the length), "
                f"got {kernel_sizes}"
            )
        sizes = {"channels": channels, "encoder_layers": encoder_layers, "decoder_layers": decoder_layers}
        for name, value in {**sizes, "heads": heads}.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        hidden = self.encoder.get("hidden_size")
        if hidden is not None and hidden % heads != 0:
            raise ValueError(
                f"heads must divide the backbone's hidden size {hidden}, got heads={heads}; "
                f"try one of {[h for h in range(1, 17) if hidden % h == 0]}"
            )
        self.kernel_sizes = [int(k) for k in kernel_sizes]
        self.channels = int(channels)
        self.encoder_layers = int(encoder_layers)
        self.decoder_layers = int(decoder_layers)
        self.heads = int(heads)
        self.freeze_encoder = bool(freeze_encoder)
