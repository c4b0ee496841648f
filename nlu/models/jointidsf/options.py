"""JointIDSF's own recipe options (``model.jointidsf``)."""

from __future__ import annotations

from pydantic import Field

from nlu.schema import Section


class JointIdsfOptions(Section):
    attention_dim: int = Field(200, ge=8, description="size of the soft intent label embedding")
    detach_intent_context: bool = Field(
        True,
        description="train the intent head by the intent loss alone (false: end to end, as in the paper)",
    )
