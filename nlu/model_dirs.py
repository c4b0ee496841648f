"""Which kind of model a directory holds, decided in one place for every command and for the Python API.

Three kinds of directory parse utterances: a trained torch model (``config.json`` + ``model.safetensors``, what
``nlu train`` writes to ``RUN/best``), an exported artifact (``nlu.json``, what ``nlu export`` writes) and a
prompted LLM (``prompting.json``). A run directory stands for its best model: ``RUN`` is read as ``RUN/best``.
Anything else is refused with a message that says what the directory looks like and what to give instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nlu.errors import ModelError

logger = logging.getLogger(__name__)

ModelKind = Literal["model", "artifact", "prompt"]
# the file that marks each kind, in the order they are recognised
MARKERS: dict[ModelKind, str] = {"prompt": "prompting.json", "artifact": "nlu.json", "model": "config.json"}


@dataclass(frozen=True)
class ModelDir:
    """A directory that holds a model: ``path`` (a run directory resolved to its ``best/``) and its ``kind``."""

    path: Path
    kind: ModelKind


def _kind(folder: Path) -> ModelKind | None:
    return next((kind for kind, marker in MARKERS.items() if (folder / marker).is_file()), None)


def resolve_model_dir(
    path: str | Path, kinds: tuple[ModelKind, ...] = ("model", "artifact", "prompt")
) -> ModelDir:
    """The model a path stands for; ``kinds`` are those the caller can use (``nlu export`` takes a torch model
    only). Raises :class:`ModelError` naming what the path is and what to give instead."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such directory")
    if not path.is_dir():
        raise ModelError(f"{path}: is a file; give the directory that holds the model")
    kind = _kind(path)
    if kind is None and (path / "best").is_dir() and _kind(path / "best") is not None:
        logger.info("%s is a run directory: using its best model, %s", path, path / "best")
        path, kind = path / "best", _kind(path / "best")
    if kind is None:
        raise ModelError(_not_a_model(path))
    if kind not in kinds:
        wanted = " or ".join(_NAMES[k] for k in kinds)
        raise ModelError(f"{path}: is {_NAMES[kind]}; this needs {wanted}")
    return ModelDir(path, kind)


_NAMES: dict[ModelKind, str] = {
    "model": "a trained model directory (config.json, model.safetensors: RUN/best)",
    "artifact": "an artifact written by `nlu export` (nlu.json)",
    "prompt": "a prompted LLM written by `nlu train` (prompting.json)",
}


def _not_a_model(path: Path) -> str:
    """What a directory that holds no model looks like, and what to give instead."""
    names = {p.name for p in path.iterdir()}
    if "model.onnx" in names:
        return (
            f"{path}: has model.onnx but no nlu.json, the manifest every artifact of `nlu export` has; the artifact "
            "is incomplete or was not written by nlu: export the model again"
        )
    if "model.safetensors" in names:
        return f"{path}: has model.safetensors but no config.json; the model directory is incomplete"
    if "checkpoints" in names or "recipe.yaml" in names:
        return (
            f"{path}: is a run directory without a best model yet (no {path / 'best'}): training has not finished "
            f"its first evaluation; continue it with `nlu train RECIPE --output {path} --resume`"
        )
    return (
        f"{path}: not a model directory; give a trained model (RUN/best, with config.json), a run directory "
        "(RUN), an artifact written by `nlu export` (with nlu.json) or a prompted LLM (with prompting.json)"
    )
