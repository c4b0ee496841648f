"""The base of every section of a recipe and of an architecture's options: pydantic, with unknown keys and
booleans where numbers belong refused, so that every problem is reported before any work starts.

Torch-free, so that ``nlu validate`` and the registry of architectures load no model code.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

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


class Section(BaseModel):
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


def default(section: type[BaseModel], name: str) -> Any:
    """The default a section declares for one of its fields: configuration classes read their defaults here,
    so that each is written once."""
    return section.model_fields[name].get_default(call_default_factory=True)


def _expected(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":  # our own validators' messages, written as they should be read
        return error["msg"].removeprefix("Value error, ")
    return error["msg"][:1].lower() + error["msg"][1:]


def _suggest(loc: tuple, schema: type[BaseModel]) -> str:
    """'did you mean ...' for an unknown key, from the known keys of the same section."""
    model: type[BaseModel] = schema
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


def format_errors(source: str, err: ValidationError, schema: type[BaseModel]) -> list[str]:
    """One line per problem of a validation error: ``file: dotted.key: what is wrong[, got X]``, with a
    'did you mean' for an unknown key."""
    problems = []
    for error in err.errors():
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) or "(top level)"
        message = _expected(error)
        if error["type"] == "extra_forbidden":
            message += _suggest(loc, schema)
        elif error["type"] != "missing" and "input" in error and not isinstance(error["input"], dict):
            message += f", got {error['input']!r}"  # a value; not a whole section
        if message.startswith(f"{key}."):  # a section's validator that names the key itself
            problems.append(f"{source}: {message}")
        else:
            problems.append(f"{source}: {key}: {message}")
    return problems


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
