from nlu.models.slotrefine.configuration_slotrefine import SlotRefineConfig
from nlu.models.slotrefine.modeling_slotrefine import SlotRefineForIntentSlot, build_slotrefine

__all__ = ["SlotRefineConfig", "SlotRefineForIntentSlot", "build_slotrefine"]
