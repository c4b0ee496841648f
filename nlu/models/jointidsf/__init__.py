"""JointIDSF (Dao et al. 2021): JointBERT+CRF with intent-slot attention.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.models.jointidsf.options import JointIdsfOptions
from nlu.models.registry import Architecture, lazy_attributes

ARCHITECTURE = Architecture(
    name="jointidsf",
    config="nlu.models.jointidsf.configuration_jointidsf:JointIdsfConfig",
    model="nlu.models.jointidsf.modeling_jointidsf:JointIdsfForIntentSlot",
    options=JointIdsfOptions,
    defaults={"use_crf": True},  # the paper decodes with a CRF
    description="JointBERT+CRF with intent-slot attention (Dao et al. 2021)",
)

_LAZY = {
    "JointIdsfConfig": "configuration_jointidsf",
    "JointIdsfForIntentSlot": "modeling_jointidsf",
}
__all__ = ["ARCHITECTURE", "JointIdsfOptions", "JointIdsfConfig", "JointIdsfForIntentSlot"]

__getattr__ = lazy_attributes(__name__, _LAZY)
