"""The architecture registry: each architecture declares itself once, in its own folder, as an
:class:`Architecture`; this module lists the folders. The recipe schema (``model.architecture`` and each
architecture's options section), the builder, the loader and the exporter all read this one list.

Adding an architecture is its folder (configuration, modeling, options and an ``ARCHITECTURE`` in its
``__init__.py``) plus one name in ``FOLDERS``. Torch-free: declarations name their classes as import strings,
imported only when a model is built, loaded or exported.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nlu.errors import ModelError
from nlu.export.onnx_config import OnnxConfig
from nlu.schema import Section

# The architecture folders under nlu/models/, one line each.
FOLDERS = (
    "jointbert",
    "jointidsf",
    "slotrefine",
    "ctran",
    "zeroshot",
    "contextual",
    "zeroshot_qa",
)


def import_string(path: str) -> Any:
    """``"package.module:name"`` -> the object."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Architecture:
    """What the rest of the toolkit needs to know about one architecture.

    name: what a recipe writes as ``model.architecture``; config, model: the ``PretrainedConfig`` and
    ``PreTrainedModel`` classes as ``"module:Class"``; options: the pydantic section of its own recipe options
    (``model.<name>``), whose fields are keyword arguments of its configuration under the same names;
    defaults: shared options (:class:`nlu.models.options.JointOptions`) whose default differs for it; fixed:
    shared options it cannot change, with the value it needs and why; build: a builder ``"module:function"``
    for an architecture that needs more than the generic one (:func:`nlu.models.building.build_model`); onnx:
    how it exports (None: it does not); decoder_backbones: whether its heads read a decoder LLM's states (the
    utterance's summary from its last token, ``nlu.modules.decoder_backbone.summary_states``); multitask: whether one
    model can hold heads for several data sets (``data.tasks``; the model's ``for_task(name)`` gives one task's
    single-task model).
    """

    name: str
    config: str
    model: str
    options: type[Section] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    fixed: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    build: str | None = None
    onnx: OnnxConfig | None = field(default_factory=OnnxConfig)
    description: str = ""
    decoder_backbones: bool = False
    multitask: bool = False

    @property
    def config_class(self) -> type:
        return import_string(self.config)

    @property
    def model_class(self) -> type:
        return import_string(self.model)

    @property
    def model_type(self) -> str:
        """The ``model_type`` its configuration writes to config.json: ``nlu-<name>``."""
        return f"nlu-{self.name}"


@functools.cache
def architectures() -> dict[str, Architecture]:
    """Every registered architecture by name, in ``FOLDERS`` order."""
    found = {}
    for folder in FOLDERS:
        declared = importlib.import_module(f"nlu.models.{folder}").ARCHITECTURE
        found[declared.name] = declared
    return found


def get_architecture(name: str) -> Architecture:
    """The architecture a recipe or a saved config names (``jointbert`` or ``nlu-jointbert``)."""
    registered = architectures()
    key = name.removeprefix("nlu-")
    if key not in registered:
        raise ModelError(f"unknown architecture {name!r}; known: {', '.join(registered)}")
    return registered[key]


def lazy_attributes(package: str, modules: Mapping[str, str]):
    """A module-level ``__getattr__`` (PEP 562) for an architecture folder: each name in ``modules`` is imported
    from ``package.<module>`` when first used, so that importing the folder's declaration loads no torch."""

    def __getattr__(name: str) -> Any:
        if name in modules:
            return getattr(importlib.import_module(f"{package}.{modules[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
