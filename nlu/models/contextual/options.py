"""The recipe options of the contextual slot-filling model (Veyseh, Dernoncourt & Nguyen 2020), the one place their
defaults are written: ``ContextualConfig`` reads its defaults from here, and the recipe section ``model.contextual``
validates against it. Torch-free, so that validating a recipe imports nothing heavy."""

from __future__ import annotations

from pydantic import Field

from nlu.schema import Section


class ContextualOptions(Section):
    """What this architecture adds to a joint model's shared options (backbone, CRF, dropout, ...)."""

    mi_loss_coef: float = Field(
        1.0,
        ge=0.0,
        description="weight of the representation-level loss: a discriminator tells each word's vector paired "
        "with its own context from the same vector paired with another word's context (maximises their mutual "
        "information); 0 switches it off",
    )
    context_label_loss_coef: float = Field(
        1.0,
        ge=0.0,
        description="weight of the label-level loss: each word's slot tag predicted from its context vector "
        "alone (the word itself left out); 0 switches it off",
    )
    sentence_label_loss_coef: float = Field(
        1.0,
        ge=0.0,
        description="weight of the sentence-level label loss: which slot tags occur in the utterance, predicted "
        "from the max-pooled word vectors (multi-label); 0 switches it off",
    )
    discriminator_dim: int = Field(
        200, ge=1, description="hidden width of the two-layer feed-forward discriminator"
    )
    label_head_dim: int = Field(
        200,
        ge=1,
        description="hidden width of the two-layer feed-forward heads that predict tags from context vectors",
    )
