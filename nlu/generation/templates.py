"""A deterministic response-template engine for bots: a parse (intent + slots) -> a reply.

A YAML file declares, per intent, reply templates with ``{slot}`` placeholders, filled from the parse, and
``{record:field}`` placeholders, filled from a record looked up by a slot value in a table of JSON lines::

    default: "Sorry, I did not get that."
    choose: cycle                  # random (seeded) | cycle (in turn, per intent) | first
    escape: html                   # none | html | xml | markdown: how slot and record values are escaped
    tables:
      restaurants: {file: restaurants.jsonl, key: name}   # relative to this file
    intents:
      BookRestaurant:
        templates:
          - "Booking {restaurant_name} for {party_size_number}."
          - "A table for {party_size_number} at {restaurant_name}, coming up."
        ask:                       # a missing slot -> a question for it
          restaurant_name: "Which restaurant would you like?"
        fallback: "Which restaurant, and for how many?"
      FindRestaurant:
        lookup: {table: restaurants, by: restaurant_name}
        templates: ["{restaurant_name} serves {record:food} food near {record:near}."]

A template is used only when every placeholder it names has a value; among those, ``choose`` picks one. When
none is complete, the engine asks for the first missing slot that has an ``ask`` entry, else uses the intent's
``fallback``, else the file's ``default``. A value is inserted once, escaped, and never read as a template, so a
value such as ``{x}`` or ``<b>`` is shown as typed. ``{{`` and ``}}`` write literal braces. Several values for one
slot are joined as "a, b and c" (``conjunction``).

The file is validated like a recipe: every problem is reported at once with its dotted key and the fix.
"""

from __future__ import annotations

import difflib
import html
import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nlu.errors import TemplateError
from nlu.prediction import Prediction

RECORD_PREFIX = "record:"
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[^\s{}:|]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableSection(_Section):
    file: str = Field(description="a JSON-lines file of records, relative to the template file")
    key: str = Field(description="the record field that a slot value is matched against (case-insensitively)")


class LookupSection(_Section):
    table: str
    by: str = Field(description="the slot whose value selects the record")


class IntentSection(_Section):
    templates: list[str] = Field(min_length=1)
    ask: dict[str, str] = Field(
        default_factory=dict, description="slot -> the question asked when it is missing"
    )
    fallback: str | None = None
    lookup: LookupSection | None = None


class TemplateFile(_Section):
    default: str = "Sorry, I did not understand that."
    choose: Literal["random", "cycle", "first"] = "random"
    seed: int = 0
    escape: Literal["none", "html", "xml", "markdown"] = "none"
    conjunction: str = "and"
    tables: dict[str, TableSection] = Field(default_factory=dict)
    intents: dict[str, IntentSection] = Field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholder names, alternating (``parts[0]`` is text)."""

    source: str
    parts: tuple[str, ...]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return self.parts[1::2]

    @classmethod
    def parse(cls, source: str) -> Template:
        """Raise ValueError naming the first malformed brace or placeholder."""
        parts, text, pos = [], [], 0
        for match in _TOKEN.finditer(source):
            text.append(source[pos : match.start()])
            token = match.group(0)
            if token in ("{{", "}}"):
                text.append(token[0])
            elif match.group(1) is None:
                raise ValueError(
                    f"unmatched {token!r} at character {match.start()}; write {token * 2} for a literal brace"
                )
            else:
                name = match.group(1).strip()
                bare = name.removeprefix(RECORD_PREFIX)
                if not bare or not _NAME.match(bare):
                    raise ValueError(
                        f"placeholder {{{match.group(1)}}} at character {match.start()}: expected {{slot}} "
                        f"or {{{RECORD_PREFIX}field}}"
                    )
                parts.extend(["".join(text), name])
                text = []
            pos = match.end()
        text.append(source[pos:])
        parts.append("".join(text))
        return cls(source, tuple(parts))

    def missing(self, values: Mapping[str, str]) -> list[str]:
        return [name for name in self.placeholders if not values.get(name)]

    def fill(self, values: Mapping[str, str]) -> str:
        """Values must already be escaped; each is inserted as it is, never re-read as a template."""
        return "".join(part if i % 2 == 0 else values[part] for i, part in enumerate(self.parts))


@dataclass
class Response:
    """A rendered reply. ``source`` says where the text came from: ``template``, ``ask``, ``fallback`` or
    ``default``; ``template_index`` is the template's position under its intent (``None`` otherwise)."""

    text: str
    intent: str | None
    source: Literal["template", "ask", "fallback", "default"]
    template_index: int | None = None
    missing: list[str] = field(default_factory=list)
    record: dict | None = None

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "source": self.source,
            "template_index": self.template_index,
            "missing": self.missing,
            "record": self.record,
        }


def escape_value(value: str, mode: str) -> str:
    if mode == "html":
        return html.escape(value, quote=True)
    if mode == "xml":
        return html.escape(value, quote=False).replace('"', "&quot;")
    if mode == "markdown":
        return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", value)
    return value


def join_values(values: list[str], conjunction: str) -> str:
    if len(values) <= 1:
        return "".join(values)
    return f"{', '.join(values[:-1])} {conjunction} {values[-1]}"


def slots_of(parse: Prediction | Mapping) -> tuple[str | None, dict[str, list[str]]]:
    """(intent, {slot: [values in text order, without repeats]}) from a Prediction or its JSON form
    (``{"intent": {"name": ...} | "name", "entities": [{"entity", "value"}, ...]}``) or a plain
    ``{"intent": ..., "slots": {slot: value | [values]}}``."""
    if isinstance(parse, Prediction):
        intent, pairs = parse.intent, [(e.entity, e.value) for e in parse.entities]
    else:
        raw_intent = parse.get("intent")
        intent = raw_intent.get("name") if isinstance(raw_intent, Mapping) else raw_intent
        if "slots" in parse:
            pairs = []
            for name, value in (parse.get("slots") or {}).items():
                pairs.extend((name, v) for v in (value if isinstance(value, list) else [value]))
        else:
            pairs = [(e["entity"], e["value"]) for e in parse.get("entities") or []]
    slots: dict[str, list[str]] = {}
    for name, value in pairs:
        value = str(value).strip()
        if value and value not in slots.setdefault(name, []):
            slots[name].append(value)
    return intent, slots


class TemplateSet:
    """Response templates for every intent, loaded from YAML; :meth:`render` turns a parse into a reply."""

    def __init__(self, spec: TemplateFile, tables: dict[str, dict[str, dict]], source: str = "<templates>"):
        self.spec = spec
        self.source = source
        self.tables = tables  # table name -> lower-cased key -> record
        self.templates = {
            intent: [Template.parse(t) for t in section.templates] for intent, section in spec.intents.items()
        }
        self._rng = random.Random(spec.seed)
        self._turn: dict[str, int] = {}

    # ----------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_yaml(cls, path: str | Path) -> TemplateSet:
        from nlu.schema import read_yaml_file

        path = Path(path)
        data = read_yaml_file(path, "template", "intents (and default, tables, ...)", TemplateError)
        return cls.from_dict(data, source=str(path), base_dir=path.parent)

    @classmethod
    def from_dict(
        cls, data: object, source: str = "<templates>", base_dir: Path | None = None
    ) -> TemplateSet:
        if not isinstance(data, dict):
            raise TemplateError([f"{source}: expected a mapping with intents (and default, tables, ...)"])
        try:
            spec = TemplateFile.model_validate(data)
        except ValidationError as err:
            raise TemplateError(_pydantic_problems(source, err)) from None
        problems = _check_spec(spec, source)
        tables: dict[str, dict[str, dict]] = {}
        for name, table in spec.tables.items():
            try:
                tables[name] = _read_table(Path(base_dir or ".") / table.file, table.key)
            except TemplateError as err:
                problems.extend(f"{source}: tables.{name}: {p}" for p in err.problems)
        if problems:
            raise TemplateError(problems)
        return cls(spec, tables, source)

    def check_labels(self, intents: Iterable[str], slot_types: Iterable[str]) -> list[str]:
        """Problems with this file against a model's label set: intents and slot placeholders it never
        predicts (each with a did-you-mean). Empty when everything matches."""
        intents, slot_types = set(intents), set(slot_types)
        problems = []
        for intent, section in self.spec.intents.items():
            if intent not in intents:
                problems.append(
                    f"{self.source}: intents.{intent}: the model has no such intent{_close(intent, intents)}"
                )
            named = [
                p for t in self.templates[intent] for p in t.placeholders if not p.startswith(RECORD_PREFIX)
            ]
            named += list(section.ask) + ([section.lookup.by] if section.lookup else [])
            for slot in dict.fromkeys(named):
                if slot not in slot_types:
                    problems.append(
                        f"{self.source}: intents.{intent}: {{{slot}}}: the model has no such slot type"
                        f"{_close(slot, slot_types)}"
                    )
        return problems

    # ----------------------------------------------------------------------------------------------- render
    def render(self, parse: Prediction | Mapping, record: Mapping | None = None) -> Response:
        """The reply to one parse. ``record`` overrides the intent's table lookup (e.g. a record the bot fetched
        itself); its fields fill ``{record:field}`` placeholders."""
        intent, slots = slots_of(parse)
        section = self.spec.intents.get(intent) if intent is not None else None
        if section is None:
            return Response(self._fill_free(self.spec.default), intent, "default")
        if record is None and section.lookup is not None:
            wanted = slots.get(section.lookup.by, [])
            table = self.tables.get(section.lookup.table, {})
            record = next((table[v.casefold()] for v in wanted if v.casefold() in table), None)
        values = self._values(slots, record)
        templates = self.templates[intent]
        complete = [i for i, t in enumerate(templates) if not t.missing(values)]
        if complete:
            index = self._choose(intent, complete)
            return Response(templates[index].fill(values), intent, "template", index, record=_plain(record))
        missing = min((t.missing(values) for t in templates), key=len)  # the template closest to complete
        for slot in missing:
            if slot in section.ask:
                return Response(self._fill_free(section.ask[slot], values), intent, "ask", missing=missing)
        if section.fallback is not None:
            fallback = Template.parse(section.fallback)
            if not fallback.missing(values):
                return Response(fallback.fill(values), intent, "fallback", missing=missing)
        return Response(self._fill_free(self.spec.default), intent, "default", missing=missing)

    def _values(self, slots: dict[str, list[str]], record: Mapping | None) -> dict[str, str]:
        esc, conj = self.spec.escape, self.spec.conjunction
        values = {name: escape_value(join_values(vals, conj), esc) for name, vals in slots.items()}
        for key, value in (record or {}).items():
            items = value if isinstance(value, list) else [value]
            text = join_values([str(v) for v in items if v is not None and str(v) != ""], conj)
            values[RECORD_PREFIX + str(key)] = escape_value(text, esc)
        return values

    def _fill_free(self, text: str, values: Mapping[str, str] | None = None) -> str:
        """A question or default reply: the placeholders that have values are filled, the others left empty."""
        values = values or {}
        template = Template.parse(text)
        return template.fill({p: values.get(p, "") for p in template.placeholders})

    def _choose(self, intent: str, candidates: list[int]) -> int:
        if self.spec.choose == "first":
            return candidates[0]
        if self.spec.choose == "cycle":
            turn = self._turn.get(intent, 0)
            self._turn[intent] = turn + 1
            return candidates[turn % len(candidates)]
        return self._rng.choice(candidates)


def _plain(record: Mapping | None) -> dict | None:
    return dict(record) if record is not None else None


def _close(name: str, known: set[str]) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{match[0]}'?" if match else ""


_SECTIONS: dict[str, type[BaseModel]] = {"tables": TableSection, "intents": IntentSection}


def _section_at(loc: tuple) -> type[BaseModel]:
    """The schema class that holds the last key of ``loc``: a top-level key, a table's, an intent's or a lookup's."""
    if len(loc) == 1:
        return TemplateFile
    if len(loc) == 4 and loc[2] == "lookup":
        return LookupSection
    return _SECTIONS.get(str(loc[0]), TemplateFile)


def _pydantic_problems(source: str, err: ValidationError) -> list[str]:
    problems = []
    for error in err.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            known = list(_section_at(loc).model_fields)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            problems.append(f"{source}: {key}: unknown key; {hint}")
        elif error["type"] == "missing":
            problems.append(f"{source}: {key}: required key is missing")
        else:
            problems.append(f"{source}: {key}: {error['msg'].lower()}, got {error.get('input')!r}")
    return problems


def _check_spec(spec: TemplateFile, source: str) -> list[str]:
    problems = []

    def parse(text: str, key: str) -> Template | None:
        try:
            return Template.parse(text)
        except ValueError as err:
            problems.append(f"{source}: {key}: {err}")
            return None

    parse(spec.default, "default")
    for intent, section in spec.intents.items():
        key = f"intents.{intent}"
        if section.lookup is not None and section.lookup.table not in spec.tables:
            known = ", ".join(spec.tables) or "none declared"
            problems.append(
                f"{source}: {key}.lookup.table: no table {section.lookup.table!r} under tables (known: {known})"
            )
        texts = [(f"{key}.templates.{i}", t) for i, t in enumerate(section.templates)]
        texts += [(f"{key}.ask.{slot}", t) for slot, t in section.ask.items()]
        texts += [(f"{key}.fallback", section.fallback)] if section.fallback is not None else []
        for where, text in texts:
            template = parse(text, where)
            if template is None:
                continue
            if section.lookup is None and any(p.startswith(RECORD_PREFIX) for p in template.placeholders):
                problems.append(
                    f"{source}: {where}: {{{RECORD_PREFIX}...}} needs a record; add "
                    f"`lookup: {{table: NAME, by: SLOT}}` to {key}"
                )
    return problems


def _read_table(path: Path, key: str) -> dict[str, dict]:
    if not path.is_file():
        raise TemplateError([f"{path}: no such file"])
    table: dict[str, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise TemplateError([f"{path}: not UTF-8 text"]) from None
    problems = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{path}:{number}: not valid JSON ({err.msg})")
            continue
        if not isinstance(record, dict) or not str(record.get(key, "")).strip():
            problems.append(f"{path}:{number}: expected a JSON object with a non-empty {key!r} field")
            continue
        table.setdefault(str(record[key]).strip().casefold(), record)
    if problems:
        raise TemplateError(problems)
    return table
