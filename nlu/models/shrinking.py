"""A smaller model from a trained one: its weights as the starting point, and only some of its encoder layers.

A 3-layer student that starts from every other layer of a trained 6-layer model, with its trained heads and CRF,
and is then distilled from that model (``training.distillation``), keeps most of its accuracy at about half its
encoder cost (Sanh et al. 2019, DistilBERT, initialise the student from every other teacher layer). The recipe
keys are ``model.init_from`` and ``model.encoder_layers``; the training task calls :func:`start_from`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from torch import nn
from transformers import PreTrainedModel

from nlu.errors import ModelError, RecipeError

logger = logging.getLogger(__name__)


def spaced_layers(total: int, keep: int) -> list[int]:
    """``keep`` of ``total`` layers, evenly spaced and ending with the top one (the layer the trained heads
    read): 3 of 6 -> [1, 3, 5]; 2 of 6 -> [2, 5]."""
    if not 1 <= keep <= total:
        raise ModelError(f"cannot keep {keep} of {total} encoder layers; keep between 1 and {total}")
    return [(i + 1) * total // keep - 1 for i in range(keep)]


def layer_stack(model: PreTrainedModel) -> nn.ModuleList:
    """The encoder's list of transformer layers (BERT, MiniLM, MPNet, XLM-R: ``encoder.encoder.layer``)."""
    stack = getattr(getattr(model.encoder, "encoder", None), "layer", None)
    if not isinstance(stack, nn.ModuleList):
        raise ModelError(
            f"model.encoder_layers: the {type(model.encoder).__name__} backbone has no encoder.layer stack; "
            "encoder_layers applies to BERT-like encoders"
        )
    return stack


def keep_encoder_layers(model: PreTrainedModel, layers: Sequence[int]) -> None:
    """Drop every encoder layer but ``layers`` (0-based, increasing), in place; the configuration says so, so
    the saved model loads with that many layers."""
    stack = layer_stack(model)
    total = len(stack)
    if not layers or list(layers) != sorted(set(layers)) or not all(0 <= i < total for i in layers):
        raise ModelError(
            f"model.encoder_layers: {list(layers)} is not an increasing list of layers of this {total}-layer encoder"
        )
    model.encoder.encoder.layer = nn.ModuleList(stack[i] for i in layers)
    model.encoder.config.num_hidden_layers = len(layers)
    model.config.encoder["num_hidden_layers"] = len(layers)


def _check_compatible(trained: PreTrainedModel, model: PreTrainedModel, init_from: Path) -> None:
    """The trained model must have this model's labels, gazetteer types and encoder depth."""
    for key in ("intent_labels", "slot_labels", "lexicon_types"):
        if list(getattr(trained.config, key, []) or []) != list(getattr(model.config, key, []) or []):
            raise ModelError(
                f"model.init_from: {init_from} was trained with other {key.replace('_', ' ')} than this recipe "
                "gives; start from a model trained on the same data and gazetteers"
            )
    depth = trained.config.encoder.get("num_hidden_layers")
    if depth != model.config.encoder.get("num_hidden_layers"):
        raise ModelError(
            f"model.init_from: {init_from} has {depth} encoder layers, not the backbone's "
            f"{model.config.encoder.get('num_hidden_layers')}: start a student from a full-depth model"
        )


def start_from(
    model: PreTrainedModel,
    init_from: str | Path | None,
    encoder_layers: int | Sequence[int] | None,
) -> list[int] | None:
    """Load ``init_from``'s weights into ``model`` (the same architecture, backbone and labels), then keep
    ``encoder_layers`` (a count, spaced by :func:`spaced_layers`, or a list). Returns the layers kept."""
    from nlu.models.building import load_model

    if init_from is not None:
        init_from = Path(init_from).expanduser()
        if not (init_from / "config.json").is_file():
            raise RecipeError(
                [f"model.init_from: {init_from}: no trained model there; train it first (its run's best/)"]
            )
        trained = load_model(init_from)
        _check_compatible(trained, model, init_from)
        missing, unexpected = model.load_state_dict(trained.state_dict(), strict=False)
        if missing or unexpected:
            raise ModelError(
                f"model.init_from: {init_from} is not a model of this architecture and backbone "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        logger.info("starting from the weights of %s", init_from)
    if encoder_layers is None:
        return None
    total = len(layer_stack(model))
    layers = spaced_layers(total, encoder_layers) if isinstance(encoder_layers, int) else list(encoder_layers)
    keep_encoder_layers(model, layers)
    logger.info("kept encoder layers %s of %d", layers, total)
    return layers
