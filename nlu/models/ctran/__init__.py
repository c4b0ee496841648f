"""CTRAN (Rafiepour & Salimi Sartakhti 2023): CNN window features + Transformer, aligned slot decoder.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.models.ctran.options import CtranOptions
from nlu.models.registry import Architecture, lazy_attributes

ARCHITECTURE = Architecture(
    name="ctran",
    config="nlu.models.ctran.configuration_ctran:CtranConfig",
    model="nlu.models.ctran.modeling_ctran:CtranForIntentSlot",
    options=CtranOptions,
    description="CNN window features + Transformer, aligned slot decoder (Rafiepour et al. 2023)",
)

_LAZY = {
    "CtranConfig": "configuration_ctran",
    "CtranForIntentSlot": "modeling_ctran",
}
__all__ = ["ARCHITECTURE", "CtranOptions", "CtranConfig", "CtranForIntentSlot"]

__getattr__ = lazy_attributes(__name__, _LAZY)
