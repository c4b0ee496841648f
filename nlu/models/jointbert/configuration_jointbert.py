"""Configuration of JointBERT (Chen et al. 2019): an encoder, an intent head on the first token, a slot head per
token and an optional CRF over the slot tags."""

from __future__ import annotations

from nlu.models.configuration_common import JointConfig


class JointBertConfig(JointConfig):
    """JointBERT has no options of its own: the shared ones (see :class:`JointConfig`) are all it takes."""

    model_type = "nlu-jointbert"

    def __init__(self, **kwargs):
        # Spelled out: transformers 5 turns a config subclass without an __init__ of its own into a dataclass
        # whose generated __init__ knows only PretrainedConfig's fields, not JointConfig's.
        super().__init__(**kwargs)
