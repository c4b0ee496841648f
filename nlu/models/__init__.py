"""The architecture registry: a recipe's ``model.architecture`` -> a builder of plain arguments.

Importing this module registers every architecture with the transformers Auto classes, so ``load_model`` reads
any model directory that ``nlu train`` wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import logging as hf_logging

from nlu.data.labels import LabelVocab
from nlu.errors import ModelError
from nlu.models.backbones import resolve_backbone
from nlu.models.jointbert import JointBertConfig, JointBertForIntentSlot

AutoConfig.register(JointBertConfig.model_type, JointBertConfig, exist_ok=True)
AutoModel.register(JointBertConfig, JointBertForIntentSlot, exist_ok=True)
hf_logging.disable_progress_bar()  # "Loading weights" bars on every load drown the training output

logger = logging.getLogger(__name__)


def _load_encoder(backbone: str):
    path = resolve_backbone(backbone)
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler weights of BERT checkpoints are expected, not news
    try:
        try:
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)
    except OSError as err:
        raise ModelError(f"could not load backbone {backbone!r} ({path}): {err}") from None
    finally:
        hf_logging.set_verbosity(level)


def build_jointbert(
    backbone: str,
    labels: LabelVocab,
    use_crf: bool = False,
    classifier_dropout: float = 0.1,
    intent_loss_coef: float = 1.0,
    max_length: int = 128,
) -> JointBertForIntentSlot:
    encoder = _load_encoder(backbone)
    config = JointBertConfig(
        encoder=encoder.config.to_dict(),
        intent_labels=labels.intents,
        slot_labels=labels.slots,
        use_crf=use_crf,
        classifier_dropout=classifier_dropout,
        intent_loss_coef=intent_loss_coef,
        max_seq_length=max_length,
    )
    model = JointBertForIntentSlot(config)
    model.encoder.load_state_dict(encoder.state_dict())
    return model


ARCHITECTURES: dict[str, Callable[..., PreTrainedModel]] = {
    "jointbert": build_jointbert,
}


def build_model(architecture: str, **kwargs) -> PreTrainedModel:
    if architecture not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[architecture](**kwargs)


def load_model(model_dir: str | Path) -> PreTrainedModel:
    """Any model directory written by ``save_pretrained`` of a registered architecture."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir}: not a model directory (no config.json)")
    if not (model_dir / "model.safetensors").is_file():
        raise ModelError(f"{model_dir}: model.safetensors is missing; the directory is incomplete")
    try:
        return AutoModel.from_pretrained(str(model_dir))
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{model_dir}: could not load the model: {err}") from None
