"""Configuration of the contextual slot-filling model (Veyseh, Dernoncourt & Nguyen 2020, "Improving Slot Filling
by Utilizing Contextual Information"): JointBERT+CRF trained with context objectives besides its own losses."""

from __future__ import annotations

from pydantic import ValidationError

from nlu.models.configuration_common import JointConfig
from nlu.models.contextual.options import ContextualOptions
from nlu.schema import default


class ContextualConfig(JointConfig):
    """JointBERT's arguments (:class:`JointConfig`) plus the context objectives'.

    Args:
        use_crf: decode slots with a linear-chain CRF (the paper tags with one, so it is the default here).
        classifier_dropout: dropout on the token states before every head.
        mi_loss_coef, context_label_loss_coef, sentence_label_loss_coef, discriminator_dim, label_head_dim:
            see :class:`nlu.models.contextual.options.ContextualOptions`, which holds their defaults and bounds.
    """

    model_type = "nlu-contextual"

    def __init__(
        self,
        use_crf: bool = True,
        mi_loss_coef: float = default(ContextualOptions, "mi_loss_coef"),
        context_label_loss_coef: float = default(ContextualOptions, "context_label_loss_coef"),
        sentence_label_loss_coef: float = default(ContextualOptions, "sentence_label_loss_coef"),
        discriminator_dim: int = default(ContextualOptions, "discriminator_dim"),
        label_head_dim: int = default(ContextualOptions, "label_head_dim"),
        **kwargs,
    ):
        try:
            options = ContextualOptions(
                mi_loss_coef=mi_loss_coef,
                context_label_loss_coef=context_label_loss_coef,
                sentence_label_loss_coef=sentence_label_loss_coef,
                discriminator_dim=discriminator_dim,
                label_head_dim=label_head_dim,
            )
        except ValidationError as err:  # every problem in one message, each with its argument
            problems = [f"{e['loc'][0]}: {e['msg']}, got {e['input']!r}" for e in err.errors()]
            raise ValueError("; ".join(problems)) from None
        self.mi_loss_coef = options.mi_loss_coef
        self.context_label_loss_coef = options.context_label_loss_coef
        self.sentence_label_loss_coef = options.sentence_label_loss_coef
        self.discriminator_dim = options.discriminator_dim
        self.label_head_dim = options.label_head_dim
        super().__init__(use_crf=use_crf, **kwargs)
