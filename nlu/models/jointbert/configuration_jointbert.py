"""Configuration of JointBERT (Chen et al. 2019): an encoder, an intent head on the first token, a slot head per
token and an optional CRF over the slot tags."""

from __future__ import annotations

from transformers import PretrainedConfig

from nlu.data.alignment import WORD_SPLIT_RULE
from nlu.models.configuration_common import check_joint_arguments


class JointBertConfig(PretrainedConfig):
    """Everything needed to rebuild the model without the original backbone files.

    Args:
        encoder: the backbone's own config as a dict (``AutoConfig.to_dict()``); rebuilt with ``AutoConfig.for_model``.
        intent_labels: intent names; index 0 is ``UNK``.
        slot_labels: BIO tags; index 0 is ``UNK``.
        use_crf: decode slots with a linear-chain CRF instead of per-token argmax.
        classifier_dropout: dropout before both heads.
        intent_loss_coef: weight of the intent loss; the slot loss has weight 1.
        max_seq_length: sub-tokens per utterance, special tokens included; longer input is truncated.
        word_split: name of the rule that splits raw text into words (see ``nlu.data.alignment``).
        lexicon_types: gazetteer types whose word features gate the token states (``nlu.modules.lexicon_gate``);
            empty for none.
    """

    model_type = "nlu-jointbert"

    def __init__(
        self,
        encoder: dict | None = None,
        intent_labels: list[str] | None = None,
        slot_labels: list[str] | None = None,
        use_crf: bool = False,
        classifier_dropout: float = 0.1,
        intent_loss_coef: float = 1.0,
        max_seq_length: int = 128,
        word_split: str = WORD_SPLIT_RULE,
        lexicon_types: list[str] | None = None,
        **kwargs,
    ):
        self.encoder = dict(encoder or {})
        self.intent_labels = list(intent_labels or ["UNK"])
        self.slot_labels = list(slot_labels or ["UNK", "O"])
        self.use_crf = bool(use_crf)
        check_joint_arguments(classifier_dropout, intent_loss_coef, max_seq_length)
        self.classifier_dropout = classifier_dropout
        self.intent_loss_coef = intent_loss_coef
        self.max_seq_length = int(max_seq_length)
        self.word_split = word_split
        self.lexicon_types = list(lexicon_types or [])
        super().__init__(**kwargs)
