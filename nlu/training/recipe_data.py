"""The ``data:`` section of a recipe: the data set or files, the splits, the columns, sampling, augmentation
(code-switching, typed-text noise), auxiliary tagging tasks and several data sets for one multi-task model.
Part of the recipe schema (:mod:`nlu.training.recipe`, which re-exports these classes)."""

from __future__ import annotations

import difflib

from pydantic import Field, field_validator, model_validator

from nlu.schema import Section


class CodeSwitchSection(Section):
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


class NoiseSection(Section):
    """Perturbed copies of the training utterances, typed the way people type (nlu.data.augment.noise): each
    family is applied to a copy with its probability; labels stay aligned, inserted words are O."""

    typos: float = Field(0.0, ge=0.0, le=1.0, description="keyboard slips in content words and slot values")
    casing: float = Field(0.0, ge=0.0, le=1.0, description="Title Case, ALL CAPS or a capital first letter")
    punctuation: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="quotes around names and titles, commas, ?/!/... at the end, attached",
    )
    contractions: float = Field(0.0, ge=0.0, le=1.0, description="I'd, what's, Jenna's as typed")
    fillers: float = Field(0.0, ge=0.0, le=1.0, description="um, like, please between slot values")
    long: float = Field(
        0.0, ge=0.0, le=1.0, description="a polite preamble or a closing clause without slots"
    )
    copies: int = Field(1, ge=1, le=10, description="perturbed copies per utterance, besides the original")
    seed: int | None = Field(None, description="default: training.seed")

    def rates(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump(exclude={"copies", "seed"}).items() if v > 0}


class AugmentSection(Section):
    code_switch: CodeSwitchSection | None = None
    noise: NoiseSection | None = None


class AuxiliaryTaskSection(Section):
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


class TaskDataSection(Section):
    """One data set of a multi-task model (``data.tasks``): its own intent head, slot head and CRF on the encoder
    all tasks share (nlu.training.multitask)."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="the task's name: its heads, `--task NAME` of predict/evaluate/export, report/NAME",
    )
    dataset: str | None = Field(None, description="a data set name with a data card, or a folder path")
    files: dict[str, str] | None = Field(None, description="instead of dataset: one file per split")
    format: str | None = Field(None, description="the files' format; default: guessed from each file")
    train_split: str = "train"
    dev_split: str | None = "dev"
    test_split: str | None = "test"
    train_sample: int | None = Field(
        None, ge=1, description="train on a random sample of this many of the task's training utterances"
    )

    @model_validator(mode="after")
    def _one_source(self) -> TaskDataSection:
        if (self.dataset is None) == (self.files is None):
            raise ValueError(f"task {self.name!r}: give either dataset (a name or folder) or files")
        if self.files is not None and self.train_split not in self.files:
            raise ValueError(
                f"task {self.name!r}: files has no {self.train_split!r} entry (the training split)"
            )
        if self.dev_split is not None and self.dev_split == self.train_split:
            raise ValueError(f"task {self.name!r}: dev_split must differ from train_split")
        return self

    def source(self):
        """The task's data as a :class:`nlu.data.registry.DataSource`."""
        from nlu.data.registry import from_files, resolve

        return (
            from_files(self.files, format=self.format)
            if self.files
            else resolve(self.dataset, format=self.format)
        )


# data.* keys a multi-task recipe gives per task, or not at all
_SINGLE_TASK_DATA_KEYS = ("columns", "intent_map", "train_sample", "augment", "auxiliary")


class DataSection(Section):
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
    columns: dict[str, str] | None = Field(
        None, description="map tokens/tags/intent to the columns of a HF dataset folder (save_to_disk)"
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
    augment: AugmentSection | None = Field(
        None, description="transforms of the train split: code_switch, noise (typed-text copies)"
    )
    auxiliary: list[AuxiliaryTaskSection] | None = Field(
        None, description="token-tagging tasks trained on the same encoder (see training.auxiliary_schedule)"
    )
    tasks: list[TaskDataSection] | None = Field(
        None,
        min_length=2,
        description="instead of dataset: several data sets in one model, one intent and slot head each on a shared "
        "encoder (see training.task_schedule)",
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
        source.columns = self.columns
        return source

    @model_validator(mode="after")
    def _one_source(self) -> DataSection:
        if self.tasks is not None:
            problems = [
                f"data.{key}: not with data.tasks" for key in ("dataset", "files") if getattr(self, key)
            ]
            problems += [
                f"data.{key}: not combined with data.tasks yet; train one data set, or leave it out"
                for key in _SINGLE_TASK_DATA_KEYS
                if getattr(self, key) is not None
            ]
            names = [task.name for task in self.tasks]
            if len(set(names)) != len(names):
                problems.append(f"data.tasks: task names must differ, got {', '.join(names)}")
            if problems:
                raise ValueError("; ".join(problems))
            return self
        if (self.dataset is None) == (self.files is None):
            raise ValueError("give either data.dataset (a name or folder) or data.files (one file per split)")
        if self.files is not None and self.train_split not in self.files:
            raise ValueError(f"data.files has no {self.train_split!r} entry (the training split)")
        return self
