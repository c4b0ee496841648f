"""``JointConfig``: the arguments every joint model's configuration shares, checked once. Each architecture's
configuration subclasses it and adds its own options; defaults come from the option sections
(:class:`nlu.models.options.JointOptions` and the architecture's own), so each is written once."""

from __future__ import annotations

from transformers import PretrainedConfig

from nlu.data.alignment import WORD_SPLIT_RULE
from nlu.models.options import JointOptions
from nlu.schema import default


def check_joint_arguments(classifier_dropout: float, intent_loss_coef: float, max_seq_length: int) -> None:
    """Raise ``ValueError`` for a dropout outside [0, 1), a negative intent loss weight, or fewer than 8
    sub-tokens per utterance."""
    if not 0.0 <= classifier_dropout < 1.0:
        raise ValueError(f"classifier_dropout must be in [0, 1), got {classifier_dropout}")
    if intent_loss_coef < 0:
        raise ValueError(f"intent_loss_coef must be >= 0, got {intent_loss_coef}")
    if max_seq_length < 8:
        raise ValueError(f"max_length must be at least 8 sub-tokens, got {max_seq_length}")


class JointConfig(PretrainedConfig):
    """Everything a joint model shares, to rebuild it without the original backbone files.

    Args:
        encoder: the backbone's own config as a dict (``AutoConfig.to_dict()``); rebuilt with
            ``AutoConfig.for_model``.
        intent_labels: intent names; index 0 is ``UNK``.
        slot_labels: BIO tags; index 0 is ``UNK``.
        use_crf: decode slots with a linear-chain CRF instead of per-token argmax.
        classifier_dropout: dropout before the heads.
        intent_loss_coef: weight of the intent loss; the slot loss has weight 1.
        max_seq_length: sub-tokens per utterance, special tokens included; longer input is truncated (the
            recipe's ``model.max_length``).
        word_split: name of the rule that splits raw text into words (see ``nlu.data.alignment``).
        lexicon_types: gazetteer types whose word features gate the token states (``nlu.modules.lexicon_gate``);
            empty for none.
        attention: a decoder LLM backbone's attention: None or ``causal`` (its own mask), ``bidirectional``
            (a padding-only mask over the utterance); see ``nlu.modules.decoder_backbone.DecoderBackbone``.
    """

    def __init__(
        self,
        encoder: dict | None = None,
        intent_labels: list[str] | None = None,
        slot_labels: list[str] | None = None,
        use_crf: bool = default(JointOptions, "use_crf"),
        classifier_dropout: float = default(JointOptions, "classifier_dropout"),
        intent_loss_coef: float = default(JointOptions, "intent_loss_coef"),
        max_seq_length: int = default(JointOptions, "max_length"),
        word_split: str = WORD_SPLIT_RULE,
        lexicon_types: list[str] | None = None,
        attention: str | None = default(JointOptions, "attention"),
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
        if attention not in (None, "causal", "bidirectional"):
            raise ValueError(f"attention must be causal or bidirectional, got {attention!r}")
        self.attention = attention
        super().__init__(**kwargs)
        self.set_label_maps()

    def set_label_maps(self) -> None:
        """``id2label``/``label2id``, the fields transformers users read, for the intents (index 0 is UNK, never
        predicted); the slot tags are ``slot_labels``. Called again whenever the intents change."""
        self.id2label = dict(enumerate(self.intent_labels))
        self.label2id = {name: i for i, name in self.id2label.items()}
