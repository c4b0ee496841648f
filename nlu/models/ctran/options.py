"""CTRAN's own recipe options (``model.ctran``)."""

from __future__ import annotations

from pydantic import Field

from nlu.schema import Section


class CtranOptions(Section):
    kernel_sizes: list[int] = Field([3, 5, 7], description="odd CNN window sizes, one convolution each")
    channels: int = Field(128, ge=8, description="filters per convolution")
    encoder_layers: int = Field(2, ge=1, le=12)
    decoder_layers: int = Field(1, ge=1, le=12)
    heads: int = Field(8, ge=1, description="attention heads; must divide the backbone's hidden size")
    freeze_encoder: bool = Field(False, description="use the language model as frozen word embeddings")
