"""Contextual slot filling (Veyseh, Dernoncourt & Nguyen 2020): JointBERT+CRF whose training also makes each word's
vector consistent with its context's (mutual information) and makes the context predict the word's tag.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.models.contextual.options import ContextualOptions
from nlu.models.registry import Architecture, lazy_attributes

ARCHITECTURE = Architecture(
    name="contextual",
    config="nlu.models.contextual.configuration_contextual:ContextualConfig",
    model="nlu.models.contextual.modeling_contextual:ContextualForIntentSlot",
    options=ContextualOptions,
    defaults={"use_crf": True},  # the paper tags with a CRF
    description="JointBERT+CRF trained with context objectives (Veyseh et al. 2020)",
)

_LAZY = {"ContextualConfig": "configuration_contextual", "ContextualForIntentSlot": "modeling_contextual"}
__all__ = ["ARCHITECTURE", "ContextualConfig", "ContextualForIntentSlot", "ContextualOptions"]

__getattr__ = lazy_attributes(__name__, _LAZY)
