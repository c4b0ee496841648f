"""Checks every joint model's configuration applies to the arguments they all share."""

from __future__ import annotations


def check_joint_arguments(classifier_dropout: float, intent_loss_coef: float, max_seq_length: int) -> None:
    """Raise ``ValueError`` for a dropout outside [0, 1), a negative intent loss weight, or fewer than 8
    sub-tokens per utterance."""
    if not 0.0 <= classifier_dropout < 1.0:
        raise ValueError(f"classifier_dropout must be in [0, 1), got {classifier_dropout}")
    if intent_loss_coef < 0:
        raise ValueError(f"intent_loss_coef must be >= 0, got {intent_loss_coef}")
    if max_seq_length < 8:
        raise ValueError(f"max_length must be at least 8 sub-tokens, got {max_seq_length}")
