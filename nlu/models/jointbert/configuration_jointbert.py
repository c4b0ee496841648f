"""Configuration of JointBERT (Chen et al. 2019): an encoder, an intent head on the first token, a slot head per
token and an optional CRF over the slot tags; a multi-task model has one such set of heads per data set."""

from __future__ import annotations

import re

from nlu.models.configuration_common import JointConfig

TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_tasks(tasks: list[dict]) -> list[dict]:
    """Each task as ``{"name", "intent_labels", "slot_labels"}`` (and ``word_split``, the rule its raw text is
    split by, when given), with unique names usable in file names; raise ``ValueError`` otherwise."""
    checked, seen = [], set()
    for task in tasks:
        name = str(task.get("name", ""))
        if not TASK_NAME.match(name) or name in seen:
            raise ValueError(f"task names must be unique words (letters, digits, _ . -), got {name!r}")
        seen.add(name)
        intents, slots = list(task.get("intent_labels") or []), list(task.get("slot_labels") or [])
        if not intents or not slots:
            raise ValueError(f"task {name!r}: intent_labels and slot_labels are required")
        entry = {"name": name, "intent_labels": intents, "slot_labels": slots}
        if task.get("word_split"):
            entry["word_split"] = str(task["word_split"])
        checked.append(entry)
    return checked


class JointBertConfig(JointConfig):
    """JointBERT's own argument: ``tasks``, for a multi-task model, one ``{"name", "intent_labels",
    "slot_labels", "word_split"}`` per data set (their heads share the encoder); None for a single-task model,
    whose labels are ``intent_labels`` and ``slot_labels`` (see :class:`JointConfig` for the rest)."""

    model_type = "nlu-jointbert"

    def __init__(self, tasks: list[dict] | None = None, **kwargs):
        # Spelled out: transformers 5 turns a config subclass without an __init__ of its own into a dataclass
        # whose generated __init__ knows only PretrainedConfig's fields, not JointConfig's.
        self.tasks = check_tasks(tasks) if tasks else None
        super().__init__(**kwargs)

    @property
    def task_names(self) -> list[str]:
        """The data sets of a multi-task model, in order (a batch's ``task_ids`` index this list); [] for one."""
        return [task["name"] for task in self.tasks or []]
