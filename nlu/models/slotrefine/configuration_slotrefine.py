"""Configuration of SlotRefine (Wu et al. 2020): JointBERT's fields plus the two-pass refiner's size and the
teacher-forcing rate of its training."""

from __future__ import annotations

from transformers import PretrainedConfig

from nlu.data.alignment import WORD_SPLIT_RULE
from nlu.models.configuration_common import check_joint_arguments


class SlotRefineConfig(PretrainedConfig):
    """Everything needed to rebuild the model without the original backbone files.

    Args:
        encoder: the backbone's own config as a dict (``AutoConfig.to_dict()``); rebuilt with
            ``AutoConfig.for_model``.
        intent_labels: intent names; index 0 is ``UNK``.
        slot_labels: BIO tags; index 0 is ``UNK``; must hold ``O``.
        use_crf: decode slots with a linear-chain CRF over the second pass instead of per-token argmax.
        classifier_dropout: dropout on the encoder states, inside the refiner and before the intent head.
        intent_loss_coef: weight of the intent loss; each pass's slot loss has weight 1.
        max_seq_length: sub-tokens per utterance, special tokens included; longer input is truncated.
        word_split: name of the rule that splits raw text into words (see ``nlu.data.alignment``).
        lexicon_types: gazetteer types whose word features gate the encoder states
            (``nlu.modules.lexicon_gate``); empty for none.
        refine_layers: Transformer layers of the refiner, shared by both passes.
        refine_heads: attention heads of the refiner; must divide the backbone's hidden size.
        teacher_forcing: probability, per training batch, that the second pass sees the gold B- tags instead
            of the first pass's predictions.
        first_pass: ``"encoder"``: pass 1 tags the encoder states and only pass 2 runs the refiner (half the
            refiner's cost); ``"refiner"``: both passes run the refiner. The default here is ``"refiner"``
            because models saved before this field existed were built that way; recipes default to
            ``"encoder"``.
    """

    model_type = "nlu-slotrefine"

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
        refine_layers: int = 1,
        refine_heads: int = 4,
        teacher_forcing: float = 0.5,
        first_pass: str = "refiner",
        **kwargs,
    ):
        self.encoder = dict(encoder or {})
        self.intent_labels = list(intent_labels or ["UNK"])
        self.slot_labels = list(slot_labels or ["UNK", "O"])
        if "O" not in self.slot_labels:
            raise ValueError(
                f"slot_labels must contain 'O' (the second pass's no-feedback tag): {slot_labels}"
            )
        self.use_crf = bool(use_crf)
        check_joint_arguments(classifier_dropout, intent_loss_coef, max_seq_length)
        if refine_layers < 1:
            raise ValueError(f"refine_layers must be >= 1, got {refine_layers}")
        if refine_heads < 1:
            raise ValueError(f"refine_heads must be >= 1, got {refine_heads}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        if first_pass not in ("encoder", "refiner"):
            raise ValueError(f"first_pass must be 'encoder' or 'refiner', got {first_pass!r}")
        self.classifier_dropout = classifier_dropout
        self.intent_loss_coef = intent_loss_coef
        self.max_seq_length = int(max_seq_length)
        self.word_split = word_split
        self.lexicon_types = list(lexicon_types or [])
        self.refine_layers = int(refine_layers)
        self.refine_heads = int(refine_heads)
        self.teacher_forcing = float(teacher_forcing)
        self.first_pass = first_pass
        super().__init__(**kwargs)
