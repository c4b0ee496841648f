"""The model options every joint architecture shares, as recipes write them under ``model:``. Their defaults
live here alone: the recipe schema, the generic builder and the configuration classes read them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nlu.schema import Section


class JointOptions(Section):
    use_crf: bool = Field(False, description="decode slots with a BIO-constrained linear-chain CRF")
    classifier_dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout before the heads")
    intent_loss_coef: float = Field(1.0, ge=0.0, description="weight of the intent loss; the slot loss has 1")
    attention: Literal["causal", "bidirectional"] | None = Field(
        None,
        description="decoder LLM backbones (smollm2): causal, the LM's own mask (the default), or bidirectional, "
        "every token attends to the whole utterance (LLM2Vec, LS-unLLaMA); encoders always attend both ways",
    )
    max_length: int = Field(
        128, ge=8, le=4096, description="sub-tokens per utterance, special tokens included; longer is cut"
    )
