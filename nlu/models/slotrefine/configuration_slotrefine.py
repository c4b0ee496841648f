"""Configuration of SlotRefine (Wu et al. 2020): JointBERT's fields plus the two-pass refiner's size and the
teacher-forcing rate of its training."""

from __future__ import annotations

from nlu.models.configuration_common import JointConfig
from nlu.models.slotrefine.options import SlotRefineOptions
from nlu.schema import default


class SlotRefineConfig(JointConfig):
    """JointBERT's arguments (:class:`JointConfig`) plus the two-pass refiner's.

    Args:
        slot_labels: BIO tags; index 0 is ``UNK``; must hold ``O``.
        use_crf: decode slots with a linear-chain CRF over the second pass instead of per-token argmax.
        classifier_dropout: dropout on the encoder states, inside the refiner and before the intent head.
        intent_loss_coef: weight of the intent loss; each pass's slot loss has weight 1.
        layers: Transformer layers of the refiner, shared by both passes (``refine_layers`` in models saved
            before it was named as the recipe names it).
        heads: attention heads of the refiner; must divide the backbone's hidden size (``refine_heads``
            before).
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
        layers: int = default(SlotRefineOptions, "layers"),
        heads: int = default(SlotRefineOptions, "heads"),
        teacher_forcing: float = default(SlotRefineOptions, "teacher_forcing"),
        first_pass: str = "refiner",  # not the recipe's default: a saved config without the field predates it
        **kwargs,
    ):
        layers = int(kwargs.pop("refine_layers", layers))  # the names of models saved before
        heads = int(kwargs.pop("refine_heads", heads))
        super().__init__(**kwargs)
        if "O" not in self.slot_labels:
            raise ValueError(
                f"slot_labels must contain 'O' (the second pass's no-feedback tag): {self.slot_labels}"
            )
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        if heads < 1:
            raise ValueError(f"heads must be >= 1, got {heads}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        if first_pass not in ("encoder", "refiner"):
            raise ValueError(f"first_pass must be 'encoder' or 'refiner', got {first_pass!r}")
        self.layers = layers
        self.heads = heads
        self.teacher_forcing = float(teacher_forcing)
        self.first_pass = first_pass
