"""JointBERT (Chen et al. 2019): an encoder, an intent head on the first token (the last for a decoder LLM
backbone), a slot head per word and an optional CRF; one such pair of heads per data set in a multi-task model.

The folder declares the architecture once (``ARCHITECTURE``, read by ``nlu.models.registry``); the model
classes are imported when first used, so that the declaration stays torch-free.
"""

from __future__ import annotations

from nlu.models.registry import Architecture, lazy_attributes

ARCHITECTURE = Architecture(
    name="jointbert",
    config="nlu.models.jointbert.configuration_jointbert:JointBertConfig",
    model="nlu.models.jointbert.modeling_jointbert:JointBertForIntentSlot",
    description="JointBERT (Chen et al. 2019): intent on the first token, a tag per word, use_crf adds a CRF",
    decoder_backbones=True,
    multitask=True,
)

_LAZY = {
    "JointBertConfig": "configuration_jointbert",
    "JointBertForIntentSlot": "modeling_jointbert",
}
__all__ = ["ARCHITECTURE", "JointBertConfig", "JointBertForIntentSlot"]

__getattr__ = lazy_attributes(__name__, _LAZY)
