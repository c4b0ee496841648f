"""Recipes for generators: the same YAML habits as parser recipes, told apart by a top-level ``task`` key.

task: kb_describe
data: {dataset: e2e}          # $NLU_DATA_DIR/e2e/{train,dev,test}.jsonl, or files: {train: ..., dev: ...}
model: {hidden_size: 256}
training: {epochs: 10}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from nlu.data.registry import data_root
from nlu.errors import RecipeError
from nlu.schema import Section, format_errors, read_yaml_file
from nlu.training.recipe import apply_overrides

GENERATION_TASKS = ("kb_describe", "ntrd")


class GenerationData(Section):
    dataset: str | None = Field(None, description="a folder under $NLU_DATA_DIR with <split>.jsonl files")
    files: dict[str, str] | None = Field(
        None, description="split name -> JSON-lines file of record/text pairs"
    )
    train_split: str = "train"
    dev_split: str | None = "dev"
    train_sample: int | None = Field(None, ge=1, description="train on this many pairs, drawn with the seed")
    dev_sample: int | None = Field(
        None, ge=1, description="score this many dev records (replies for ntrd) each epoch (all when null)"
    )
    dev_fraction: float = Field(
        0.1, gt=0.0, lt=1.0, description="with dev_split null: the share of train dialogues held out (ntrd)"
    )
    catalogue: str | None = Field(
        None,
        description="ntrd: the movie catalogue CSV (movieId,movieName), a path or under the data set folder",
    )

    @model_validator(mode="after")
    def _one_source(self) -> GenerationData:
        if (self.dataset is None) == (self.files is None):
            raise ValueError("give exactly one of data.dataset (a folder name) or data.files (split: file)")
        return self


class KBDescribeModel(Section):
    word_embedding_size: int = Field(128, ge=1)
    slot_embedding_size: int = Field(64, ge=1)
    position_embedding_size: int = Field(16, ge=1)
    max_position: int = Field(10, ge=1)
    hidden_size: int = Field(256, ge=2)
    attention_heads: int = Field(4, ge=1)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    min_word_count: int = Field(
        2, ge=1, description="text words seen fewer times are <unk> (record words are copied)"
    )
    max_output_length: int = Field(60, ge=1)
    beam_size: int = Field(4, ge=1)
    beam_length_penalty: float = 1.0
    repeated_ngram_block: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _heads_divide(self) -> KBDescribeModel:
        if self.hidden_size % 2 or self.hidden_size % self.attention_heads:
            raise ValueError(
                f"model.hidden_size ({self.hidden_size}) must be even and divisible by model.attention_heads "
                f"({self.attention_heads}), e.g. hidden_size: 256 with attention_heads: 4"
            )
        return self


class NTRDModel(Section):
    hidden_size: int = Field(256, ge=1)
    attention_heads: int = Field(4, ge=1)
    encoder_layers: int = Field(2, ge=1)
    decoder_layers: int = Field(2, ge=1)
    feedforward_size: int = Field(512, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    min_word_count: int = Field(2, ge=1)
    max_context_length: int = Field(256, ge=1, description="context words kept (the last ones)")
    max_reply_length: int = Field(40, ge=2)
    title_length: int = Field(8, ge=1, description="title words per movie read by the item selector")

    @model_validator(mode="after")
    def _heads_divide(self) -> NTRDModel:
        if self.hidden_size % self.attention_heads:
            raise ValueError(
                f"model.hidden_size ({self.hidden_size}) must be divisible by model.attention_heads "
                f"({self.attention_heads}), e.g. hidden_size: 256 with attention_heads: 4"
            )
        return self


class GenerationTraining(Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    warmup_ratio: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of the steps over which the rate rises linearly from 0, then stays",
    )
    max_grad_norm: float = Field(5.0, gt=0.0)
    seed: int = 42
    metric: Literal["bleu", "loss"] = Field("bleu", description="what picks the best epoch on dev")
    early_stopping_patience: int | None = Field(None, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    max_steps: int | None = Field(None, ge=1)
    num_threads: int | None = Field(None, ge=1)


class KBDescribeRecipe(Section):
    task: Literal["kb_describe"]
    description: str | None = None
    data: GenerationData
    model: KBDescribeModel = KBDescribeModel()
    training: GenerationTraining = GenerationTraining()
    output_dir: str = "runs/kb_describe"


class NTRDRecipe(Section):
    task: Literal["ntrd"]
    description: str | None = None
    data: GenerationData
    model: NTRDModel = NTRDModel()
    training: GenerationTraining = GenerationTraining()
    output_dir: str = "runs/ntrd"


GenerationRecipe = KBDescribeRecipe | NTRDRecipe
SCHEMAS: dict[str, type[BaseModel]] = {"kb_describe": KBDescribeRecipe, "ntrd": NTRDRecipe}


def recipe_task(path: str | Path) -> str | None:
    """The recipe's ``task`` if it names a generator, else ``None`` (a parser recipe). Never raises: a file that
    cannot be read is left to the loader that reports it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    task = data.get("task") if isinstance(data, dict) else None
    return task if task in GENERATION_TASKS else None


def load_generation_recipe(path: str | Path, overrides: list[str] | None = None) -> GenerationRecipe:
    path = Path(path)
    data = read_yaml_file(path, "recipe", "task/data/model/training sections")
    data = apply_overrides(data, overrides or [])
    schema = SCHEMAS.get(data.get("task"))
    if schema is None:
        raise RecipeError(
            [f"{path}: task: expected one of {', '.join(GENERATION_TASKS)}, got {data.get('task')!r}"]
        )
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        raise RecipeError(format_errors(str(path), err, schema)) from None


def dump_generation_recipe(recipe: GenerationRecipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)


def _card(dataset: str | None) -> dict:
    """The data card of a generation data set (``kind: generation``), or ``{}``."""
    from nlu.data.registry import read_card
    from nlu.errors import DataError

    if dataset is None or "/" in dataset:
        return {}
    try:
        card = read_card(dataset)
    except DataError:
        return {}
    return card if card.get("kind") == "generation" else {}


def catalogue_file(data) -> Path:
    """The movie catalogue: ``data.catalogue`` (a path, or relative to the data set's folder), else the card's."""
    given = data.catalogue or _card(data.dataset).get("catalogue")
    if given is None:
        raise RecipeError(
            ["data.catalogue: required for task ntrd, e.g. catalogue: original/movies_with_mentions.csv"]
        )
    path = Path(given)
    if not path.is_absolute() and data.dataset is not None and not path.is_file():
        path = data_root() / data.dataset / path
    if not path.is_file():
        raise RecipeError([f"data.catalogue: {path} does not exist"])
    return path


def split_file(data, split: str) -> Path:
    """The file of ``split``: from ``data.files``, or found under ``$NLU_DATA_DIR`` as the data set's card lists
    (its normalized copy first, then the native files), or ``<dataset>/<split>.jsonl``."""
    if data.files is not None:
        if split not in data.files:
            raise RecipeError(
                [f"data.files: no {split!r} file; give one, e.g. files: {{{split}: path.jsonl}}"]
            )
        return Path(data.files[split])
    card = _card(data.dataset)
    patterns = card.get("files") or [f"{data.dataset}/{{split}}.jsonl"]
    native = (card.get("native_splits") or {}).get(split, split)
    root, tried = data_root(), []
    for pattern in patterns:
        relative = pattern.format(split=split, native_split=native)
        for path in sorted(root.glob(relative)) if "*" in relative else [root / relative]:
            if path.is_file():
                return path
        tried.append(str(root / relative))
    hint = f"`nlu data download {data.dataset}`, or " if card.get("download") else ""
    raise RecipeError(
        [f"data.dataset: no {split!r} split of {data.dataset}; tried {', '.join(tried)}. Get it with {hint}set "
         "NLU_DATA_DIR to the folder that holds it"]
    )  # fmt: skip


def data_problems(recipe: GenerationRecipe, where: str | Path) -> list[str]:
    """What ``nlu validate`` finds wrong with the files a valid generator recipe names (nothing is read)."""
    problems: list[str] = []
    data = recipe.data
    for split in (data.train_split, data.dev_split):
        if split is None:
            continue
        try:
            path = split_file(data, split)
            if not path.is_file():
                problems.append(f"{where}: data.files.{split}: {path}: no such file")
        except RecipeError as err:
            problems.extend(f"{where}: {problem}" for problem in err.problems)
    if recipe.task == "ntrd":
        try:
            catalogue_file(data)
        except RecipeError as err:
            problems.extend(f"{where}: {problem}" for problem in err.problems)
    return problems
