"""The recipe schema: a YAML file -> a validated :class:`Recipe`, with every problem reported at once.

Each error names the file, the dotted key, what is wrong and what to write instead, e.g.
``recipes/atis/x.yaml: training.learning_rate: expected a number, got 'fast'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from nlu.errors import RecipeError
from nlu.models.options import JointOptions
from nlu.models.registry import architectures
from nlu.prompting.options import PromptingSection
from nlu.schema import Section, default, format_errors, read_yaml_file
from nlu.training.recipe_data import (
    AugmentSection as AugmentSection,  # the data section's classes, re-exported
)
from nlu.training.recipe_data import AuxiliaryTaskSection as AuxiliaryTaskSection
from nlu.training.recipe_data import CodeSwitchSection as CodeSwitchSection
from nlu.training.recipe_data import DataSection
from nlu.training.recipe_data import NoiseSection as NoiseSection
from nlu.training.recipe_data import TaskDataSection as TaskDataSection


class LexiconSection(Section):
    """Gazetteer features (nlu.modules.lexicon_gate): phrase lists per slot type, from files, from train, or the
    lookup tables of Rasa training data."""

    files: dict[str, str] | None = Field(None, description="slot type -> file with one phrase a line")
    from_train: list[str] | dict[str, list[str]] | None = Field(
        None,
        description="slot types whose values in the train split form the lists (never dev/test); or a map "
        "from lexicon type to slot-type patterns, e.g. {city: ['*city_name']}",
    )
    lookup_tables: bool = Field(
        False, description="the lookup tables of Rasa training data (`- lookup: city`), one type per table"
    )

    @model_validator(mode="after")
    def _one_source(self) -> LexiconSection:
        if [self.files is not None, self.from_train is not None, self.lookup_tables].count(True) != 1:
            raise ValueError(
                "give one of model.lexicon.files, model.lexicon.from_train or model.lexicon.lookup_tables: true"
            )
        return self


class _ModelBase(JointOptions):
    """``model:``: the architecture, its backbone, the options every architecture shares
    (:class:`nlu.models.options.JointOptions`) and, under its own name, each architecture's own
    (``model.slotrefine: {layers: 2}``). The fields per architecture are added from the registry below."""

    architecture: str = "jointbert"
    backbone: str = Field("minilm", description="'minilm' (packaged), a local folder or a hub id")
    use_crf: bool | None = Field(
        None,
        description="decode slots with a BIO-constrained CRF; default: the architecture's (mostly false)",
    )
    freeze_embeddings: bool = Field(
        False,
        description="keep the encoder's word embeddings fixed (a 250k-word multilingual vocabulary trains slowly)",
    )
    lexicon: LexiconSection | None = None
    prompting: PromptingSection | None = None
    init_from: str | None = Field(
        None,
        description="a trained model (RUN/best) of this architecture, backbone and data whose weights start this "
        "one (with encoder_layers: a smaller student of it; see nlu.models.shrinking)",
    )
    encoder_layers: int | list[int] | None = Field(
        None,
        description="keep only this many encoder layers (evenly spaced, the top one kept) or these (0-based): a "
        "faster model, best started from a trained one (init_from) and distilled from it",
    )

    @field_validator("encoder_layers")
    @classmethod
    def _some_layers(cls, value: int | list[int] | None) -> int | list[int] | None:
        if value is None:
            return value
        if isinstance(value, int) and value < 1 or isinstance(value, list) and not value:
            raise ValueError("keep at least one layer: a count from 1, or a list of 0-based layer numbers")
        if isinstance(value, list) and (value != sorted(set(value)) or min(value) < 0):
            raise ValueError(f"{value}: the layers to keep, 0-based, increasing, each once")
        return value

    @model_validator(mode="after")
    def _fit_the_architecture(self) -> _ModelBase:
        sections = [*architectures(), "prompting"]
        for name in sections:
            if getattr(self, name, None) is not None and self.architecture != name:
                raise ValueError(f"model.{name} options apply only with architecture: {name}")
        if self.architecture == "prompting":
            if self.prompting is None:
                raise ValueError(
                    "model.prompting: required with architecture: prompting (at least its labels file)"
                )
            self.use_crf = bool(self.use_crf)
            return self
        declared = architectures()[self.architecture]
        if not declared.decoder_backbones:
            from nlu.models.backbones import backbone_is_decoder

            if self.attention is not None:
                raise ValueError(
                    f"model.attention: applies to decoder LLM backbones, which {self.architecture} does not take"
                )
            if backbone_is_decoder(self.backbone):
                raise ValueError(
                    f"model.backbone: {self.backbone!r} is a decoder LLM; its heads are "
                    + ", ".join(n for n, a in architectures().items() if a.decoder_backbones)
                    + f"'s, not {self.architecture}'s"
                )
        if self.use_crf is None:
            self.use_crf = declared.defaults.get("use_crf", default(JointOptions, "use_crf"))
        for key, (value, why) in declared.fixed.items():
            if getattr(self, key) is not None and getattr(self, key) != value:
                raise ValueError(f"model.{key}: {why}")
            setattr(self, key, value)
        return self

    def architecture_options(self) -> dict:
        """The options the builder takes (``nlu.models.build_model``): the shared ones and the architecture's
        own section (its defaults when the recipe has none)."""
        shared = {name: getattr(self, name) for name in JointOptions.model_fields}
        declared = architectures()[self.architecture]
        if declared.options is None:
            return shared
        return shared | (getattr(self, self.architecture) or declared.options()).model_dump()


def _model_section() -> type[_ModelBase]:
    """``ModelSection``: the architecture names and an options section for each architecture that has options,
    both read from the registry, so that a new architecture needs no line here."""
    declared = architectures()
    names = (*declared, "prompting")
    fields: dict[str, Any] = {"architecture": (Literal[names], "jointbert")}
    for name, architecture in declared.items():
        if architecture.options is not None:
            fields[name] = (
                architecture.options | None,
                Field(None, description=f"{name} options: {architecture.description}"),
            )
    return create_model("ModelSection", __base__=_ModelBase, **fields)


ModelSection = _model_section()


class DistillationSection(Section):
    """Learn from a teacher's soft labels besides the gold ones (nlu.training.distill)."""

    teachers: list[str] = Field(
        min_length=1,
        description="trained model directories (RUN/best) on the same training split; several are an ensemble",
    )
    temperature: float = Field(
        2.0, gt=0.0, description="softens the teacher's and the student's intent logits"
    )
    weight: float = Field(1.0, ge=0.0, description="the distillation loss's weight beside the gold loss")


class TrainingSection(Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(
        32, ge=1, description="per process: with N processes an optimizer step sees N x batch_size utterances"
    )
    learning_rate: float = Field(5e-5, gt=0.0)
    head_learning_rate: float | None = Field(
        None, gt=0.0, description="for the heads and CRF; default: learning_rate"
    )
    layer_lr_decay: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="layer-wise learning-rate decay: encoder layer k of L learns at learning_rate x decay^(L + 1 "
        "- k), the embeddings at decay^(L + 1) (Clark et al. 2020); 1.0 = off",
    )
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_ratio: float = Field(0.1, ge=0.0, le=1.0)
    max_grad_norm: float = Field(1.0, gt=0.0)
    seed: int = 42
    metric: Literal["exact_match", "slot_f1", "intent_accuracy", "loss"] = "exact_match"
    early_stopping_patience: int | None = Field(
        None, ge=1, description="epochs without improvement; null = off"
    )
    checkpoint_every: int = Field(500, ge=1, description="optimizer steps between resumable checkpoints")
    keep_checkpoints: int = Field(2, ge=1)
    max_steps: int | None = Field(
        None,
        ge=1,
        description="stop after this many batches over all processes (smoke tests): the optimizer steps of one "
        "process; N processes take max_steps / N steps each",
    )
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads; default: torch's choice")
    auxiliary_schedule: Literal["joint", "intermediate"] = Field(
        "joint",
        description="joint: auxiliary losses added at every step; intermediate: auxiliary tasks first",
    )
    auxiliary_epochs: int = Field(1, ge=1, description="epochs of the intermediate schedule's first stage")
    distillation: DistillationSection | None = Field(
        None, description="a teacher's soft labels for the training utterances (knowledge distillation)"
    )
    task_schedule: Literal["mixed", "alternate"] = Field(
        "mixed",
        description="data.tasks: each batch holds one task; mixed shuffles all tasks' batches together (each task "
        "as often as its share of the data), alternate takes one batch of each task in turn",
    )


class Recipe(Section):
    description: str | None = None
    data: DataSection
    model: ModelSection = ModelSection()
    training: TrainingSection = TrainingSection()
    output_dir: str = Field("runs/default", description="run directory, relative to the working directory")

    @model_validator(mode="after")
    def _multitask(self) -> Recipe:
        if not self.data.tasks:
            return self
        problems = []
        architecture = self.model.architecture
        if architecture == "prompting" or not architectures()[architecture].multitask:
            names = ", ".join(n for n, a in architectures().items() if a.multitask)
            problems.append(f"data.tasks: architecture {architecture} has no multi-task heads; use {names}")
        if self.model.lexicon is not None:
            problems.append("model.lexicon: not combined with data.tasks yet")
        if self.training.distillation is not None:
            problems.append("training.distillation: not combined with data.tasks yet")
        for key in ("init_from", "encoder_layers"):
            if getattr(self.model, key) is not None:
                problems.append(f"model.{key}: not combined with data.tasks yet")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _splits_differ(self) -> Recipe:
        if self.data.dev_split is not None and self.data.dev_split == self.data.train_split:
            raise ValueError(
                "data.dev_split must differ from data.train_split (best-model selection needs held-out data)"
            )
        return self


def parse_override(text: str) -> tuple[list[str], Any]:
    """``training.epochs=3`` -> (["training", "epochs"], 3). The value is read as YAML (numbers, booleans, null)."""
    if "=" not in text:
        raise RecipeError([f"--set {text}: expected dotted.key=value, e.g. --set training.epochs=3"])
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        raise RecipeError(
            [f"--set {text}: the value {value!r} is not valid YAML; quote it, e.g. --set '{key}=\"{value}\"'"]
        ) from None
    return key.strip().split("."), parsed


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        path, value = parse_override(item)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError([f"--set {item}: {part} is not a section"])
        node[path[-1]] = value
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe; raise :class:`RecipeError` listing every problem."""
    path = Path(path)
    data = read_yaml_file(path, "recipe", "data/model/training sections")
    data = apply_overrides(data, overrides or [])
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        problems = format_errors(str(path), err, Recipe)
        section = data.get("data")
        if isinstance(section, dict) and "dataset" not in section and "files" not in section:
            # The one-source check runs only on an otherwise valid section; say it anyway, with the rest.
            missing = (
                f"{path}: data.dataset: required key is missing (or give data.files: one file per split)"
            )
            if not any("data.dataset" in p for p in problems):
                problems.append(missing)
        raise RecipeError(problems) from None


def data_problems(recipe: Recipe, where: str | Path) -> list[str]:
    """What ``nlu validate`` finds wrong with the data a valid recipe names, without reading or downloading it:
    a data set name or folder that does not resolve, a missing train split, files the recipe lists that do not
    exist (auxiliary data, gazetteers, label files, dictionaries)."""
    from nlu.data.registry import data_root, has_split, label_file, resolve
    from nlu.errors import DataError

    problems: list[str] = []
    data = recipe.data
    sections = (
        [(f"data.tasks[{i}].", task) for i, task in enumerate(data.tasks)]
        if data.tasks
        else [("data.", data)]
    )
    for prefix, section in sections:
        try:
            source = section.source()
            if not has_split(source, section.train_split):
                problems.append(
                    f"{where}: {prefix}train_split: {source.describe()} has no {section.train_split!r} split"
                )
        except DataError as err:
            problems.append(f"{where}: {err}" if section.files else f"{where}: {prefix}dataset: {err}")
    for i, task in enumerate(data.auxiliary or []):
        try:
            if task.file:
                _require_file(task.file)
            else:
                resolve(task.dataset, format=task.format)
        except DataError as err:
            problems.append(f"{where}: data.auxiliary[{i}]: {err}")
    switch = data.augment.code_switch if data.augment else None
    dictionaries = switch and switch.dictionaries
    if dictionaries and not (
        Path(dictionaries).expanduser().is_dir() or (data_root() / dictionaries).is_dir()
    ):
        problems.append(
            f"{where}: data.augment.code_switch.dictionaries: no folder {dictionaries} (nor under {data_root()})"
        )
    m = recipe.model
    files = {f"model.lexicon.files.{k}": v for k, v in ((m.lexicon.files or {}) if m.lexicon else {}).items()}
    label_files = {}  # a path, or the name of a label file that ships with nlu
    own = getattr(m, m.architecture, None)  # the architecture's options section (zeroshot, zeroshot_qa)
    if getattr(own, "label_file", None):
        label_files[f"model.{m.architecture}.label_file"] = own.label_file
    if m.prompting:
        label_files["model.prompting.labels"] = m.prompting.labels
    if m.init_from and not (Path(m.init_from).expanduser() / "config.json").is_file():
        problems.append(
            f"{where}: model.init_from: {m.init_from}: no trained model there; train it first (its run's best/)"
        )
    distillation = recipe.training.distillation
    for i, teacher in enumerate(distillation.teachers if distillation else []):
        if not (Path(teacher).expanduser() / "config.json").is_file():
            problems.append(
                f"{where}: training.distillation.teachers[{i}]: {teacher}: no trained model there; train the "
                "teacher first (its run's best/ directory)"
            )
    for name, file in [*files.items(), *label_files.items()]:
        try:
            _require_file(str(label_file(file)) if name in label_files else file)
        except DataError as err:
            problems.append(f"{where}: {name}: {err}")
    return problems


def _require_file(path: str) -> None:
    from nlu.errors import DataError

    if not Path(path).expanduser().is_file():
        raise DataError(f"{path}: no such file")


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)


def check_recipe(path: str | Path, overrides: list[str] | None = None) -> list[str]:
    """Every problem of a recipe file, parser's or generator's (``task`` key), as ``nlu validate`` reports them:
    the schema's, then the data's (:func:`data_problems`); an empty list when it is ready to train."""
    from nlu.generation import recipe as generation

    generator = generation.recipe_task(path) is not None
    try:
        if generator:
            return generation.data_problems(generation.load_generation_recipe(path, overrides), path)
        return data_problems(load_recipe(path, overrides), path)
    except RecipeError as err:
        return err.problems
