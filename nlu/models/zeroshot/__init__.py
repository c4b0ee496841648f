"""The zero-shot joint model (Gangadharaiah & Narayanaswamy 2022): labels scored by their names and
descriptions, so the label set can change after training.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.data.label_files import humanize, label_text, load_label_file
from nlu.models.registry import Architecture, lazy_attributes
from nlu.models.zeroshot.options import ZeroShotOptions

ARCHITECTURE = Architecture(
    name="zeroshot",
    config="nlu.models.zeroshot.configuration_zeroshot:ZeroShotConfig",
    model="nlu.models.zeroshot.modeling_zeroshot:ZeroShotForIntentSlot",
    options=ZeroShotOptions,
    fixed={
        "use_crf": (False, "the zero-shot model has no CRF (its transitions could not cover unseen tags)")
    },
    build="nlu.models.zeroshot.modeling_zeroshot:build_zeroshot",  # label texts, tokenised with the backbone
    description="labels scored by their names and descriptions (Gangadharaiah & Narayanaswamy 2022)",
)

_LAZY = {
    "ZeroShotConfig": "configuration_zeroshot",
    "ZeroShotForIntentSlot": "modeling_zeroshot",
    "build_zeroshot": "modeling_zeroshot",
}
__all__ = [
    "ARCHITECTURE",
    "ZeroShotOptions",
    "ZeroShotConfig",
    "ZeroShotForIntentSlot",
    "build_zeroshot",
    "humanize",
    "label_text",
    "load_label_file",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
