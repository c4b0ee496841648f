"""SlotRefine's own recipe options (``model.slotrefine``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nlu.schema import Section


class SlotRefineOptions(Section):
    layers: int = Field(1, ge=1, le=6, description="Transformer layers of the refiner, run once per pass")
    heads: int = Field(4, ge=1, description="attention heads of the refiner; must divide the hidden size")
    teacher_forcing: float = Field(
        0.5, ge=0.0, le=1.0, description="share of training batches whose second pass sees gold B- tags"
    )
    first_pass: Literal["encoder", "refiner"] = Field(
        "encoder",
        description="encoder: pass 1 tags the encoder states, only pass 2 runs the refiner (faster); "
        "refiner: both passes run it, as in the paper",
    )
