"""SlotRefine (Wu et al. 2020): non-autoregressive two-pass tagging.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.models.registry import Architecture, lazy_attributes
from nlu.models.slotrefine.options import SlotRefineOptions

ARCHITECTURE = Architecture(
    name="slotrefine",
    config="nlu.models.slotrefine.configuration_slotrefine:SlotRefineConfig",
    model="nlu.models.slotrefine.modeling_slotrefine:SlotRefineForIntentSlot",
    options=SlotRefineOptions,
    description="non-autoregressive two-pass tagging (Wu et al. 2020)",
)

_LAZY = {
    "SlotRefineConfig": "configuration_slotrefine",
    "SlotRefineForIntentSlot": "modeling_slotrefine",
}
__all__ = ["ARCHITECTURE", "SlotRefineOptions", "SlotRefineConfig", "SlotRefineForIntentSlot"]

__getattr__ = lazy_attributes(__name__, _LAZY)
