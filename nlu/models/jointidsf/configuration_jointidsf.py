"""Configuration of JointIDSF (Dao, Truong & Nguyen 2021, "Intent Detection and Slot Filling for Vietnamese"):
JointBERT+CRF whose slot head reads each token through an intent-slot attention layer fed with the soft intent
label embedding."""

from __future__ import annotations

from transformers import PretrainedConfig

from nlu.data.alignment import WORD_SPLIT_RULE
from nlu.models.configuration_common import check_joint_arguments


class JointIdsfConfig(PretrainedConfig):
    """Everything needed to rebuild the model without the original backbone files.

    Args:
        encoder: the backbone's own config as a dict (``AutoConfig.to_dict()``); rebuilt with ``AutoConfig.for_model``.
        intent_labels: intent names; index 0 is ``UNK``.
        slot_labels: BIO tags; index 0 is ``UNK``.
        use_crf: decode slots with a linear-chain CRF instead of per-token argmax (the paper uses one).
        classifier_dropout: dropout on the token states before both heads, and on the attention output before
            the slot classifier.
        intent_loss_coef: weight of the intent loss; the slot loss has weight 1.
        max_seq_length: sub-tokens per utterance, special tokens included; longer input is truncated.
        word_split: name of the rule that splits raw text into words (see ``nlu.data.alignment``).
        lexicon_types: gazetteer types whose word features gate the token states (``nlu.modules.lexicon_gate``);
            empty for none.
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
        encoder: dict | None = None,
        intent_labels: list[str] | None = None,
        slot_labels: list[str] | None = None,
        use_crf: bool = True,
        classifier_dropout: float = 0.1,
        intent_loss_coef: float = 1.0,
        max_seq_length: int = 128,
        word_split: str = WORD_SPLIT_RULE,
        lexicon_types: list[str] | None = None,
        attention_dim: int = 200,
        detach_intent_context: bool = True,
        **kwargs,
    ):
        self.encoder = dict(encoder or {})
        self.intent_labels = list(intent_labels or ["UNK"])
        self.slot_labels = list(slot_labels or ["UNK", "O"])
        self.use_crf = bool(use_crf)
        check_joint_arguments(classifier_dropout, intent_loss_coef, max_seq_length)
        if attention_dim < 1:
            raise ValueError(f"attention_dim must be at least 1, got {attention_dim}")
        self.classifier_dropout = classifier_dropout
        self.intent_loss_coef = intent_loss_coef
        self.max_seq_length = int(max_seq_length)
        self.word_split = word_split
        self.lexicon_types = list(lexicon_types or [])
        self.attention_dim = int(attention_dim)
        self.detach_intent_context = bool(detach_intent_context)
        super().__init__(**kwargs)
