"""Building, saving, loading and describing models of any registered architecture (``nlu.models.registry``).

Importing this module registers every architecture with the transformers Auto classes, so ``load_model``
reads any model directory that ``nlu train`` wrote, and so can ``AutoModel.from_pretrained`` after
``import nlu.models.building``. Without that import, a model directory still loads with
``AutoModel.from_pretrained(folder, trust_remote_code=True)``: :func:`save_model` writes ``auto_map`` into its
``config.json``, pointing at a two-line ``modeling_nlu.py`` beside it that imports nlu's own classes (the
``nlu-toolkit`` package must be installed; nothing is downloaded).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import logging as hf_logging

from nlu.data.labels import LabelVocab
from nlu.errors import DamagedModel, ModelError, NLUError
from nlu.models.backbones import backbone_is_decoder, load_pretrained_encoder
from nlu.models.registry import architectures, get_architecture, import_string

hf_logging.disable_progress_bar()  # "Loading weights" bars on every load drown the training output
logger = logging.getLogger(__name__)

for _architecture in architectures().values():
    AutoConfig.register(_architecture.model_type, _architecture.config_class, exist_ok=True)
    AutoModel.register(_architecture.config_class, _architecture.model_class, exist_ok=True)


def build_model(
    architecture: str,
    backbone: str,
    labels: LabelVocab,
    lexicon_types: list[str] | None = None,
    max_length: int | None = None,
    tasks: Mapping[str, tuple[LabelVocab, str]] | None = None,
    **options,
) -> PreTrainedModel:
    """A model of a registered architecture on a pretrained backbone, everything after the backbone initialised
    at random. ``options``: the shared options (``use_crf``, ``classifier_dropout``, ``intent_loss_coef``,
    ``attention``; see :class:`nlu.models.options.JointOptions`) and the architecture's own, under their recipe
    names; what is not given takes the recipe's default. ``max_length`` is the configuration's
    ``max_seq_length``. ``tasks``: a multi-task model's label vocabulary and word splitting rule by task name, in
    order (``labels`` is then the first task's); its architecture must declare ``multitask``."""
    declared = get_architecture(architecture)
    if tasks and not declared.multitask:
        raise ModelError(f"architecture {architecture!r} has no multi-task heads; use jointbert")
    if backbone_is_decoder(backbone) and not declared.decoder_backbones:
        raise ModelError(
            f"architecture {architecture!r} reads an encoder's first token; the decoder LLM {backbone!r} is a "
            "backbone of: " + ", ".join(n for n, a in architectures().items() if a.decoder_backbones)
        )
    if tasks:
        options["tasks"] = [
            {"name": name, "intent_labels": vocab.intents, "slot_labels": vocab.slots, "word_split": rule}
            for name, (vocab, rule) in tasks.items()
        ]
    if declared.options is not None:  # a new model takes the recipe's defaults (a saved one, its config's)
        options = declared.options().model_dump() | options
    if max_length is not None:
        options["max_seq_length"] = max_length
    if declared.build is not None:
        return import_string(declared.build)(backbone, labels, lexicon_types=lexicon_types, **options)
    encoder = load_pretrained_encoder(backbone)
    config = declared.config_class(
        encoder=encoder.config.to_dict(),
        intent_labels=labels.intents,
        slot_labels=labels.slots,
        lexicon_types=lexicon_types,
        **options,
    )
    model = declared.model_class(config)
    model.encoder.load_state_dict(encoder.state_dict())
    return model


AUTO_MODULE = "modeling_nlu"  # the file auto_map points at, written beside the weights


def save_model(model: PreTrainedModel, folder: str | Path) -> None:
    """``save_pretrained`` (safetensors), with what transformers users expect in ``config.json``: ``id2label``
    and ``label2id`` for the intents, and ``auto_map`` to ``modeling_nlu.py``, written beside it, so that
    ``AutoModel.from_pretrained(folder, trust_remote_code=True)`` needs no ``import nlu`` first."""
    folder = Path(folder)
    declared = get_architecture(model.config.model_type)
    config_module, config_class = declared.config.split(":")
    model_module, model_class = declared.model.split(":")
    model.config.set_label_maps()
    model.config.auto_map = {
        "AutoConfig": f"{AUTO_MODULE}.{config_class}",
        "AutoModel": f"{AUTO_MODULE}.{model_class}",
    }
    # A class loaded once with trust_remote_code is marked for copying its source into every save: not ours.
    type(model.config)._auto_class = None
    type(model)._auto_class = None
    model.save_pretrained(folder, safe_serialization=True)
    (folder / f"{AUTO_MODULE}.py").write_text(
        f'''"""transformers runs this file for AutoModel.from_pretrained(this folder, trust_remote_code=True):
it imports the classes of the installed nlu-toolkit (pip install 'nlu-toolkit[train]'), so no code is copied."""

from {config_module} import {config_class}
from {model_module} import {model_class}

__all__ = ["{config_class}", "{model_class}"]
''',
        encoding="utf-8",
    )


def select_task(model: PreTrainedModel, task: str | None) -> PreTrainedModel:
    """The model a parser runs: a single-task model itself (``task`` None), or one task of a multi-task model
    (``model.for_task``); a missing, unknown or superfluous ``task`` raises :class:`ModelError`."""
    names = list(getattr(model.config, "task_names", None) or [])
    if not names:
        if task is not None:
            raise ModelError(f"--task {task}: this model has one task; leave --task out")
        return model
    if task is None:
        raise ModelError(
            f"this is a multi-task model with heads for {', '.join(names)}: choose one with --task NAME"
        )
    if task not in names:
        raise ModelError(f"--task {task}: the model's tasks are {', '.join(names)}")
    return model.for_task(task)


def model_input_names(model: PreTrainedModel) -> list[str]:
    """The inputs ``model.forward`` takes besides labels, in the order the ONNX graph takes them."""
    names = ["input_ids", "attention_mask"]
    if getattr(model.encoder.config, "type_vocab_size", 0) > 0:
        names.append("token_type_ids")
    if getattr(model, "uses_word_mask", False):
        names.append("word_mask")
    if getattr(model.config, "lexicon_types", None):
        names.append("lexicon_features")
    return names


def load_model(model_dir: str | Path) -> PreTrainedModel:
    """Any model directory written by ``save_pretrained`` of a registered architecture."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir}: not a model directory (no config.json)")
    if not (model_dir / "model.safetensors").is_file():
        raise DamagedModel(f"{model_dir}: model.safetensors is missing; the directory is incomplete")
    try:
        model = AutoModel.from_pretrained(str(model_dir))
    except SafetensorError as err:
        raise DamagedModel(
            f"{model_dir / 'model.safetensors'}: the weights file is damaged (truncated or overwritten: {err}); "
            "copy it again from where it came from, or train the model again"
        ) from None
    except (OSError, ValueError, KeyError) as err:
        raise DamagedModel(f"{model_dir}: could not load the model: {err}") from None
    return model


def load_gazetteer(model_dir: str | Path, model: PreTrainedModel):
    """The phrase lists a model with lexicon features was trained with (``lexicon.json`` beside its weights),
    or None for a model without them."""
    if not getattr(model.config, "lexicon_types", None):
        return None
    from nlu.data.lexicon import Gazetteer

    try:
        return Gazetteer.load(Path(model_dir))
    except NLUError as err:
        raise DamagedModel(str(err)) from None


def load_tokenizer(model_dir: str | Path, model: PreTrainedModel | None = None):
    """The fast tokenizer saved beside a model (``tokenizer.json``), checked against the model's vocabulary.

    Without ``tokenizer.json`` transformers falls back to a tokenizer built from ``tokenizer_config.json``
    alone, which has no vocabulary: every word becomes ``[UNK]`` and every prediction is wrong. That, a
    tokenizer whose vocabulary does not fit the model's embeddings, or a damaged file, raises
    :class:`ModelError`."""
    from transformers import AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "tokenizer.json").is_file():
        raise DamagedModel(
            f"{model_dir}: tokenizer.json is missing, so the model's vocabulary is unknown and it cannot be used "
            "faithfully; copy tokenizer.json back from the run's best/ folder or the backbone, or train again"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError, TypeError) as err:
        raise DamagedModel(f"{model_dir}: the tokenizer files are damaged: {err}") from None
    encoder = getattr(getattr(model, "config", None), "encoder", None) or {}
    vocab_size = encoder.get("vocab_size") if isinstance(encoder, dict) else None
    if not getattr(tokenizer, "is_fast", False) or (
        vocab_size and not vocab_size / 2 <= len(tokenizer) <= vocab_size
    ):
        raise DamagedModel(
            f"{model_dir}: the tokenizer ({len(tokenizer)} tokens) does not match the model's vocabulary "
            f"({vocab_size} embeddings); tokenizer.json belongs to another model"
        )
    return tokenizer


def apply_label_file(
    model: PreTrainedModel,
    tokenizer,
    path: str | Path,
    unseen_intent_bonus: float | None = None,
    unseen_slot_bonus: float | None = None,
) -> None:
    """Give a zero-shot model a new label set (intents and slot types with descriptions, slot types with example
    values where the file gives some) from a YAML file; each bonus given replaces the model's bonus for intents
    or slot types unseen in training."""
    if not hasattr(model, "set_labels"):
        raise ModelError(
            f"--labels: the {model.config.model_type} architecture has a fixed label set; only the zeroshot "
            "architecture and its question-answering form (zeroshot_qa) take new intents and slot types at "
            "prediction time"
        )
    from nlu.data.label_files import read_label_file

    labels = read_label_file(path)
    try:
        model.set_labels(
            labels.intents,
            labels.slots,
            tokenizer=tokenizer,
            unseen_intent_bonus=unseen_intent_bonus,
            unseen_slot_bonus=unseen_slot_bonus,
            slot_examples=labels.slot_examples,
        )
    except ValueError as err:
        raise ModelError(f"{path}: {err}") from None
