"""The recipe schema: a YAML file -> a validated :class:`Recipe`, with every problem reported at once.

Each error names the file, the dotted key, what is wrong and what to write instead, e.g.
``recipes/atis/x.yaml: training.learning_rate: expected a number, got 'fast'``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nlu.errors import RecipeError


def _accepts_number_not_bool(annotation: Any) -> bool:
    """Whether a field's type takes int or float but not bool (``int | None``, ``list[int]`` do too)."""
    found: set[type] = set()
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type):
            found.add(current)
        stack.extend(get_args(current))
    return bool(found & {int, float}) and bool not in found


class _Section(BaseModel):
    """A recipe section: unknown keys are errors, and so are booleans where a number belongs (pydantic would
    read ``epochs: true`` as 1)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _accepts_number_not_bool(field.annotation):
            items = value if isinstance(value, list) else [value]
            if any(isinstance(item, bool) for item in items):
                raise ValueError("expected a number, not true/false")
        return value


class CodeSwitchSection(_Section):
    """Code-switching augmentation of the train split (nlu.data.augment.code_switch)."""

    dictionaries: str = Field(
        "dictionaries",
        description="folder of MUSE dictionaries <source>-<lang>.txt: a path, or a folder under $NLU_DATA_DIR",
    )
    languages: list[str] = Field(description="target languages and/or family names (romance, germanic, ...)")
    source_language: str = "en"
    probability: float = Field(0.5, ge=0.0, le=1.0, description="chance that each chunk is translated")
    copies: int = Field(1, ge=1, le=20, description="augmented copies per utterance, besides the original")
    seed: int | None = Field(None, description="default: training.seed")


class AugmentSection(_Section):
    code_switch: CodeSwitchSection | None = None


class AuxiliaryTaskSection(_Section):
    """A token-tagging data set trained beside the main task on the same encoder (nlu.training.auxiliary)."""

    name: str = Field(description="a short name for logs and the auxiliary head")
    dataset: str | None = Field(
        None, description="a data set name or folder (its tags are used, not intents)"
    )
    file: str | None = Field(
        None, description="instead of dataset: one file, e.g. an NER file in CoNLL format"
    )
    format: str | None = Field(
        None, description="the file's format (conll_ner, conll, jsonl, ...); default: guessed"
    )
    split: str = "train"
    weight: float = Field(0.5, gt=0.0, description="the auxiliary loss's weight beside the main loss")

    @model_validator(mode="after")
    def _one_source(self) -> AuxiliaryTaskSection:
        if (self.dataset is None) == (self.file is None):
            raise ValueError("an auxiliary task needs either dataset or file")
        return self


class DataSection(_Section):
    dataset: str | None = Field(
        None,
        description="a data set name with a data card (atis, snips, xsid:de, massive:fr-FR) or a folder path",
    )
    files: dict[str, str] | None = Field(
        None, description="instead of dataset: one file per split, e.g. {train: nlu.yml, dev: dev.yml}"
    )
    format: str | None = Field(
        None,
        description="the files' format (jsonl, conll, massive, rasa, ...); default: guessed from each file",
    )
    hf_config: str | None = Field(None, description="configuration name of a Hugging Face hub dataset")
    columns: dict[str, str] | None = Field(
        None, description="map tokens/tags/intent to a HF dataset's columns"
    )
    train_split: str = "train"
    dev_split: str | None = "dev"
    test_split: str | None = "test"
    intent_map: dict[str, str] | None = Field(
        None, description="rename intents in every split before training, e.g. {GetWeather: weather/find}"
    )
    train_sample: int | None = Field(
        None,
        ge=1,
        description="train on a random sample of this many training utterances (drawn with training.seed)",
    )
    augment: AugmentSection | None = Field(None, description="transforms of the train split (code_switch)")
    auxiliary: list[AuxiliaryTaskSection] | None = Field(
        None, description="token-tagging tasks trained on the same encoder (see training.auxiliary_schedule)"
    )

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        from nlu.data.formats import ALIASES, FORMATS

        if value is not None and value not in FORMATS and value not in ALIASES:
            close = difflib.get_close_matches(value, list(FORMATS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown format{hint} Known: {', '.join(FORMATS)}")
        return value

    def source(self):
        """The section as a :class:`nlu.data.registry.DataSource` (a name, a folder, or one file per split);
        raises :class:`nlu.errors.DataError` when it does not resolve."""
        from nlu.data.registry import from_files, resolve

        source = (
            from_files(self.files, format=self.format)
            if self.files
            else resolve(self.dataset, format=self.format)
        )
        source.hf_config, source.columns = self.hf_config, self.columns
        return source

    @model_validator(mode="after")
    def _one_source(self) -> DataSection:
        if (self.dataset is None) == (self.files is None):
            raise ValueError("give either data.dataset (a name or folder) or data.files (one file per split)")
        if self.files is not None and self.train_split not in self.files:
            raise ValueError(f"data.files has no {self.train_split!r} entry (the training split)")
        return self


class LexiconSection(_Section):
    """Gazetteer features (nlu.modules.lexicon_gate): phrase lists per slot type, from files or from train."""

    files: dict[str, str] | None = Field(None, description="slot type -> file with one phrase a line")
    from_train: list[str] | dict[str, list[str]] | None = Field(
        None,
        description="slot types whose values in the train split form the lists (never dev/test); or a map "
        "from lexicon type to slot-type patterns, e.g. {city: ['*city_name']}",
    )

    @model_validator(mode="after")
    def _one_source(self) -> LexiconSection:
        if (self.files is None) == (self.from_train is None):
            raise ValueError("give either model.lexicon.files or model.lexicon.from_train")
        return self


class JointIdsfSection(_Section):
    attention_dim: int = Field(200, ge=8, description="size of the soft intent label embedding")
    detach_intent_context: bool = Field(
        True,
        description="train the intent head by the intent loss alone (false: end to end, as in the paper)",
    )


class SlotRefineSection(_Section):
    layers: int = Field(1, ge=1, le=6, description="Transformer layers of the refiner, run once per pass")
    heads: int = Field(4, ge=1, description="attention heads of the refiner; must divide the hidden size")
    teacher_forcing: float = Field(
        0.5, ge=0.0, le=1.0, description="share of training batches whose second pass sees gold B- tags"
    )
    first_pass: Literal["encoder", "refiner"] = Field(
        "encoder",
        description="encoder: pass 1 tags the encoder states, only pass 2 runs the refiner (faster); "
        "refiner: both passes run it, as in the paper",
    )


class CtranSection(_Section):
    kernel_sizes: list[int] = Field([3, 5, 7], description="odd CNN window sizes, one convolution each")
    channels: int = Field(128, ge=8, description="filters per convolution")
    encoder_layers: int = Field(2, ge=1, le=12)
    decoder_layers: int = Field(1, ge=1, le=12)
    heads: int = Field(8, ge=1, description="attention heads; must divide the backbone's hidden size")
    freeze_encoder: bool = Field(False, description="use the language model as frozen word embeddings")


class ZeroShotSection(_Section):
    embed_dim: int = Field(256, ge=1, description="size of the shared utterance/label embedding space")
    label_max_length: int = Field(32, ge=3, description="sub-tokens of a label's name and description")
    label_file: str | None = Field(
        None,
        description="YAML {intents: {name: description}, slots: {name: description}} for the training labels",
    )
    # ZeroShotConfig's defaults (a test checks); not imported, to keep transformers out of recipe validation
    unseen_intent_bonus: float = Field(
        0.0, ge=0.0, le=2.0, description="cosine added at prediction time to intents that training never saw"
    )
    unseen_slot_bonus: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="cosine added at prediction time to slot types that training never saw",
    )
    intent_scoring: Literal["auto", "head", "encoder"] = Field(
        "auto",
        description="score intents with the trained heads (head), in the encoder's own space (encoder), or "
        "encoder when the label set has intents training never saw (auto)",
    )


class PromptingBackendSection(_Section):
    type: Literal["packaged", "transformers", "openai"] = Field(
        "packaged", description="packaged (SmolLM2 GGUF), transformers (a folder or hub id), openai (HTTP)"
    )
    name: str = Field("smollm2", description="packaged: which packaged model")
    model: str | None = Field(
        None, description="transformers: folder or hub id; openai: the served model's name"
    )
    gguf_file: str | None = Field(None, description="transformers: a GGUF file inside the model folder")
    base_url: str | None = Field(None, description="openai: the server, e.g. http://localhost:8000")
    api: Literal["chat", "completions"] = "chat"
    cache_dir: str | None = Field(
        None, description="openai: a disk cache of replies, keyed by the full request"
    )

    @model_validator(mode="after")
    def _complete(self) -> PromptingBackendSection:
        if self.type == "transformers" and not self.model:
            raise ValueError(
                "model.prompting.backend.model: required for type transformers (a folder or hub id)"
            )
        if self.type == "openai" and not (self.model and self.base_url):
            raise ValueError("model.prompting.backend: type openai needs base_url and model")
        return self


class LoraSection(_Section):
    """LoRA fine-tuning of a local LLM on a few examples per intent (nlu.prompting.lora)."""

    examples_per_intent: int = Field(10, ge=1)
    rank: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    epochs: int = Field(3, ge=1)
    learning_rate: float = Field(3e-4, gt=0.0)


class PromptingSection(_Section):
    """An LLM prompted ILLUMINER-style (nlu.prompting): no training unless LoRA is asked for."""

    backend: PromptingBackendSection = PromptingBackendSection()
    labels: str = Field(
        description="label file with descriptions, or the name of one that ships with nlu: atis, massive, snips, xsid"
    )
    shots: int = Field(
        0, ge=0, le=32, description="demonstrations retrieved from the train split per utterance"
    )
    slots_by_intent: bool = Field(
        True, description="list only the slot types seen with the predicted intent in the slot prompt"
    )
    calibrate: bool = Field(
        True,
        description="local backends: score each intent against its score for the content-free utterance N/A "
        "(Zhao et al. 2021), which removes a small model's bias towards some options",
    )
    lora: LoraSection | None = Field(None, description="fine-tune LoRA adapters first (local backends only)")

    @model_validator(mode="after")
    def _lora_is_local(self) -> PromptingSection:
        if self.lora is not None and self.backend.type == "openai":
            raise ValueError("model.prompting.lora: LoRA needs a local backend (packaged or transformers)")
        return self


class ModelSection(_Section):
    architecture: Literal["jointbert", "jointidsf", "slotrefine", "ctran", "zeroshot", "prompting"] = (
        "jointbert"
    )
    backbone: str = Field("minilm", description="'minilm' (packaged), a local folder or a hub id")
    use_crf: bool = False
    classifier_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    intent_loss_coef: float = Field(1.0, ge=0.0)
    max_length: int = Field(128, ge=8, le=4096)
    freeze_embeddings: bool = Field(
        False,
        description="keep the encoder's word embeddings fixed (a 250k-word multilingual vocabulary trains slowly)",
    )
    lexicon: LexiconSection | None = None
    jointidsf: JointIdsfSection | None = None
    slotrefine: SlotRefineSection | None = None
    ctran: CtranSection | None = None
    zeroshot: ZeroShotSection | None = None
    prompting: PromptingSection | None = None

    @model_validator(mode="after")
    def _options_match_architecture(self) -> ModelSection:
        if self.architecture == "prompting" and self.prompting is None:
            raise ValueError(
                "model.prompting: required with architecture: prompting (at least its labels file)"
            )
        for name in ("jointidsf", "slotrefine", "ctran", "zeroshot", "prompting"):
            if getattr(self, name) is not None and self.architecture != name:
                raise ValueError(f"model.{name} options apply only with architecture: {name}")
        if self.architecture == "zeroshot" and self.use_crf:
            raise ValueError(
                "model.use_crf: the zero-shot model has no CRF (its transitions could not cover unseen tags)"
            )
        return self

    def architecture_options(self) -> dict:
        """The keyword arguments of the architecture's own section (its defaults when the recipe has none)."""
        sections = {
            "jointidsf": JointIdsfSection,
            "slotrefine": SlotRefineSection,
            "ctran": CtranSection,
            "zeroshot": ZeroShotSection,
        }
        if self.architecture not in sections:
            return {}
        options = (getattr(self, self.architecture) or sections[self.architecture]()).model_dump()
        if self.architecture == "zeroshot":
            from nlu.models.zeroshot import load_label_file

            label_file = options.pop("label_file")
            options["descriptions"] = load_label_file(label_file) if label_file else None
        return options


class TrainingSection(_Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(
        32, ge=1, description="per process: with N processes an optimizer step sees N x batch_size utterances"
    )
    learning_rate: float = Field(5e-5, gt=0.0)
    head_learning_rate: float | None = Field(
        None, gt=0.0, description="for the heads and CRF; default: learning_rate"
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


class Recipe(_Section):
    description: str | None = None
    data: DataSection
    model: ModelSection = ModelSection()
    training: TrainingSection = TrainingSection()
    output_dir: str = Field("runs/default", description="run directory, relative to the working directory")

    @model_validator(mode="after")
    def _splits_differ(self) -> Recipe:
        if self.data.dev_split is not None and self.data.dev_split == self.data.train_split:
            raise ValueError(
                "data.dev_split must differ from data.train_split (best-model selection needs held-out data)"
            )
        return self


def _expected(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    return error["msg"].lower().removeprefix("value error, ")


def _suggest(loc: tuple, data: dict, schema: type[BaseModel] | None = None) -> str:
    """'did you mean ...' for an unknown key, from the known keys of the same section."""
    model: type[BaseModel] = schema or Recipe
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if (
            field is None
            or not isinstance(field.annotation, type)
            or not issubclass(field.annotation, BaseModel)
        ):
            return ""
        model = field.annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    known = ", ".join(model.model_fields)
    return f"; did you mean '{close[0]}'?" if close else f"; known keys here: {known}"


def _format_errors(
    source: str, err: ValidationError, data: dict, schema: type[BaseModel] | None = None
) -> list[str]:
    problems = []
    for error in err.errors():
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) or "(top level)"
        message = _expected(error)
        if error["type"] == "extra_forbidden":
            message += _suggest(loc, data, schema)
        elif error["type"] != "missing" and "input" in error:
            message += f", got {error['input']!r}"
        problems.append(f"{source}: {key}: {message}")
    return problems


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


class DuplicateKey(yaml.YAMLError):
    """A mapping that names the same key twice (YAML would silently keep the last)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping: a second ``data:`` block would
    otherwise silently replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if first != key_node.start_mark.line + 1:
                raise DuplicateKey(
                    f"line {key_node.start_mark.line + 1}: the key {key!r} is written twice in one mapping (also "
                    f"on line {first}); YAML would keep only the last one. Merge the two into one"
                )
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str):
    """``yaml.safe_load`` that raises :class:`DuplicateKey` for a key written twice in one mapping."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml_file(
    path: Path, what: str, expected: str, error: Callable[[list[str]], Exception] = RecipeError
) -> dict:
    """The YAML mapping in ``path``; a missing file, bad YAML, a key written twice, non-UTF-8 bytes or a
    non-mapping raise ``error`` (a one-problem list) saying which, e.g. ``x.yaml: not valid YAML: ...``. An empty
    file is an empty mapping."""
    if not path.is_file():
        raise error([f"{path}: no such {what} file"])
    try:
        data = load_yaml_text(path.read_text(encoding="utf-8"))
    except DuplicateKey as err:
        raise error([f"{path}: {err}"]) from None
    except yaml.YAMLError as err:
        raise error([f"{path}: not valid YAML: {err}"]) from None
    except UnicodeDecodeError:
        raise error([f"{path}: not UTF-8 text"]) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise error([f"{path}: expected a mapping with {expected}"])
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe; raise :class:`RecipeError` listing every problem."""
    path = Path(path)
    data = read_yaml_file(path, "recipe", "data/model/training sections")
    data = apply_overrides(data, overrides or [])
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        problems = _format_errors(str(path), err, data)
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
    try:
        source = data.source()
        if not has_split(source, data.train_split):
            problems.append(
                f"{where}: data.train_split: {source.describe()} has no {data.train_split!r} split"
            )
    except DataError as err:
        problems.append(f"{where}: {err}" if data.files else f"{where}: data.dataset: {err}")
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
    if m.zeroshot and m.zeroshot.label_file:
        label_files["model.zeroshot.label_file"] = m.zeroshot.label_file
    if m.prompting:
        label_files["model.prompting.labels"] = m.prompting.labels
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
