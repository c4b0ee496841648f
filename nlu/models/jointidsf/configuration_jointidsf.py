"""Configuration of JointIDSF (Dao, Truong & Nguyen 2021, "Intent Detection and Slot Filling for Vietnamese"):
JointBERT+CRF whose slot head reads each token through an intent-slot attention layer fed with the soft intent
label embedding."""

from __future__ import annotations

from nlu.models.configuration_common import JointConfig
from nlu.models.jointidsf.options import JointIdsfOptions
from nlu.schema import default


class JointIdsfConfig(JointConfig):
    """JointBERT's arguments (:class:`JointConfig`) plus the intent-slot attention's.

    Args:
        use_crf: decode slots with a linear-chain CRF (the paper uses one, so it is the default here).
        classifier_dropout: dropout on the token states before both heads, and on the attention output before
            the slot classifier.
        attention_dim: size of the intent label embedding, of the projected token states and of the
            intent-slot attention output that the slot classifier reads (the paper's 200).
        detach_intent_context: stop the slot loss at the intent distribution. True (default) keeps the intent
            head trained by the intent loss alone: end to end, the CRF's larger slot loss pulls the intent
            logits towards whatever helps tagging, and on small encoders intent accuracy suffers. False trains
            end to end, as in the paper.
    """

    model_type = "nlu-jointidsf"

    def __init__(
        self,
        use_crf: bool = True,
        attention_dim: int = default(JointIdsfOptions, "attention_dim"),
        detach_intent_context: bool = default(JointIdsfOptions, "detach_intent_context"),
        **kwargs,
    ):
        if attention_dim < 1:
            raise ValueError(f"attention_dim must be at least 1, got {attention_dim}")
        self.attention_dim = int(attention_dim)
        self.detach_intent_context = bool(detach_intent_context)
        super().__init__(use_crf=use_crf, **kwargs)
