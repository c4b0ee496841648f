"""The zero-shot model's own recipe options (``model.zeroshot``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nlu.schema import Section


class ZeroShotOptions(Section):
    embed_dim: int = Field(256, ge=1, description="size of the shared utterance/label embedding space")
    label_max_length: int = Field(32, ge=3, description="sub-tokens of a label's name and description")
    label_file: str | None = Field(
        None,
        description="YAML {intents: {name: description}, slots: {name: description}} for the training labels",
    )
    # Cosines added to the scores of labels training never saw; 0 (off) by default, chosen on dev sets
    # (docs/zeroshot.md), never on test data.
    unseen_intent_bonus: float = Field(
        0.0, ge=0.0, le=2.0, description="cosine added at prediction time to intents that training never saw"
    )
    unseen_slot_bonus: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="cosine added at prediction time to slot types that training never saw",
    )
    intent_scoring: Literal["auto", "head", "encoder"] = Field(
        "auto",
        description="score intents with the trained heads (head), in the encoder's own space (encoder), or "
        "encoder when the label set has intents training never saw (auto)",
    )
