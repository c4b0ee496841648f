"""Rasa NLU training data, Rasa 3.x YAML (``nlu.yml``)::

    version: "3.1"
    nlu:
    - intent: book_flight
      examples: |
        - fly from [Boston](city) to [New York]{"entity": "city", "role": "destination"}
        - book a flight to [NYC](city:New York)
    - synonym: New York
      examples: |
        - NYC

Every ``- `` line of an intent's ``examples`` block is one :class:`Example` (the list form, ``- text: ...`` with
optional ``metadata``, is read too). The entity markup ``[text](entity)``, ``[text](entity:value)`` and
``[text]{"entity": ..., "role": ..., "group": ..., "value": ...}`` is removed; the outside text and each entity's
text are split into words separately by the toolkit's word rule (:func:`nlu.data.alignment.split_words`, the
rule the runtime applies at inference), so entity boundaries are word boundaries. Entity words are tagged
``B-``/``I-<slot type>``, where the slot type carries the entity's role and group
(:func:`nlu.data.bio.join_slot_type`: ``city#destination``, ``name@1``): "from Boston" and "to New York" are
different labels, as they are in Rasa, and every prediction splits them back into ``entity``, ``role`` and
``group``. Retrieval intents (``faq/ask_name``) are kept whole.

What the tags cannot hold is kept in the example's ``meta``, so that converting to JSON lines and back loses
nothing (only examples that need them get these keys):

- ``rasa_entities``: an entity's ``value`` (and any other key of its JSON form) as ``{"start", "end",
  "entity", "value"}`` (word indices, end exclusive);
- ``rasa_metadata``: the example's ``metadata``;
- ``rasa_text``: the example line as written, when writing it back from words would change it (the spacing
  of ``please.``, the short form ``(city:New York)``);
- ``rasa_file``, on the first example of the file: its ``version``, the ``synonym``, ``lookup`` and ``regex``
  sections and each intent's own keys (``metadata``) in file order (``items``), and any other top-level key
  (``other``).

:func:`training_extras` reads the synonyms, lookup tables and regexes back from the examples for training.
Errors name the file and the line of the example inside the YAML file (for an ``examples: |`` block: the line
after the ``|`` plus the example's line offset inside the block; a quoted or folded value names its first line;
YAML syntax errors name the line of the YAML mark). Intent names are plain labels; ids are
``<file stem>-<index>`` (0-based).

:func:`write` gives one ``- intent:`` item per intent (first-appearance order, or the order of the file the
examples came from, sections in their places; examples are grouped by intent), each example as it was written
(``rasa_text``) when its words and labels are unchanged, else its tokens joined with single spaces and each
slot span as ``[words](slot_type)``, or the JSON form where it has a role, group or value. A dotted slot type
(ATIS ``fromloc.city_name``) is written as it is. Intents whose examples carry ``rasa_metadata`` use the list
form (``- text: |`` + ``metadata:``). Tokens holding ``[`` or ``]`` cannot be written unambiguously and are
refused, not escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nlu.data.example import Example
from nlu.data.rasa_markup import _markup, _parse_markup, _rebuilt, _scalar
from nlu.data.readers import ReadStats, check_example, finish, read_text
from nlu.errors import DataError

SECTIONS = ("synonym", "lookup", "regex")  # the items that hold no intent examples
_YAML_BREAKS = re.compile("[\n\u2028\u2029]")  # line breaks a literal block keeps (\r\n, \r, \x85 become \n)


def read(path: str | Path, *, split: str | None = None, lang: str = "en") -> list[Example]:
    """Read every intent example of ``path`` (``split`` is accepted for the common reader signature and ignored)."""
    path = Path(path)
    data, root = _load(path)
    if not isinstance(data, dict) or "nlu" not in data:
        raise DataError(
            f"{path}: no top-level `nlu:` section; a Rasa NLU file starts with `nlu:` and its items"
        )
    nlu, nlu_node = data["nlu"], _child(root, "nlu")
    if not isinstance(nlu, list):
        raise DataError(f"{_where(path, nlu_node)}: `nlu:` must be a list of `- intent:` items")
    item_nodes = nlu_node.value if isinstance(nlu_node, yaml.SequenceNode) else []
    stats = ReadStats()
    examples: list[Example] = []
    items: list[dict] = []  # the file's items in order: sections whole, intents by name and their own keys
    for i, item in enumerate(nlu):
        item_node = item_nodes[i] if i < len(item_nodes) else None
        if not isinstance(item, dict):
            raise DataError(
                f"{_where(path, item_node)}: an `nlu:` item must be a mapping such as `- intent: greet`"
            )
        if "intent" not in item:
            if not any(k in item for k in SECTIONS):
                keys = ", ".join(map(str, item)) or "none"
                raise DataError(
                    f"{_where(path, item_node)}: item has no `intent`, `synonym`, `lookup` or `regex` key "
                    f"(keys: {keys}); fix the key or remove the item"
                )
            items.append(item)
            continue
        intent = item["intent"]
        if intent is None or isinstance(intent, (bool, dict, list)):
            raise DataError(f"{_where(path, item_node)}: intent {intent!r} is not a name; quote it")
        items.append({k: v for k, v in item.items() if k != "examples"} | {"intent": str(intent)})
        for text, lineno, metadata in _examples_of(path, item, item_node):
            where = f"{path}:{lineno}"
            tokens, tags, entities = _parse_markup(text, where)
            meta: dict = {}
            if entities:
                meta["rasa_entities"] = entities
            if metadata is not None:
                meta["rasa_metadata"] = metadata
            if _rebuilt(tokens, tags, entities) != text:
                meta["rasa_text"] = text
            example = Example(f"{path.stem}-{len(examples)}", tokens, tags, str(intent), lang, meta)
            examples.append(check_example(example, where, stats))
    if examples:
        file_info: dict = {"version": str(data.get("version", "3.1")), "items": items}
        other = {str(k): v for k, v in data.items() if k not in ("version", "nlu")}
        if other:
            file_info["other"] = other
        examples[0].meta["rasa_file"] = file_info
    return finish(path, examples, stats)


@dataclass
class TrainingExtras:
    """What a Rasa file holds besides its examples, as training uses it: entity synonyms as ``(text, canonical
    value)`` pairs (the ``synonym:`` sections and every annotation with a ``value``), lookup tables (name ->
    phrases) and regexes (``(name, pattern)`` pairs, in file order)."""

    synonyms: list[tuple[str, str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: list[tuple[str, str]] = field(default_factory=list)


def training_extras(examples: list[Example]) -> TrainingExtras:
    """The synonyms, lookup tables and regexes of the Rasa files the examples were read from (their
    ``meta``: ``rasa_file`` and ``rasa_entities``), from any format that kept the meta (JSON lines converted
    from Rasa YAML keep it). Raises :class:`DataError` for a section whose examples are not a list of lines."""
    extras = TrainingExtras()
    for info in _file_infos(examples):
        for item in info.get("items", []):
            kind = next((k for k in SECTIONS if k in item), None)
            if kind is None:
                continue
            name, lines = str(item[kind]), _section_lines(item, kind)
            if kind == "synonym":
                extras.synonyms.extend((line, name) for line in lines)
            elif kind == "lookup":
                extras.lookups.setdefault(name, []).extend(lines)
            else:
                extras.regexes.extend((name, line) for line in lines)
    for ex in examples:
        for entry in ex.meta.get("rasa_entities", []):
            if isinstance(entry, dict) and "value" in entry and isinstance(entry.get("start"), int):
                extras.synonyms.append(
                    (" ".join(ex.tokens[entry["start"] : entry["end"]]), str(entry["value"]))
                )
    return extras


def _file_infos(examples: list[Example]) -> list[dict]:
    """The distinct ``rasa_file`` records of the examples, in order (one per file read)."""
    found: list[dict] = []
    for ex in examples:
        info = ex.meta.get("rasa_file")
        if isinstance(info, dict) and info not in found:
            found.append(info)
    return found


def _section_lines(item: dict, kind: str) -> list[str]:
    examples = item.get("examples")
    if isinstance(examples, str):
        lines = [line.strip() for line in _YAML_BREAKS.split(examples) if line.strip()]
        if all(line.startswith("-") for line in lines):
            return [line[1:].strip() for line in lines]
    elif isinstance(examples, list) and all(isinstance(e, str) for e in examples):
        return [e.strip() for e in examples]
    raise DataError(
        f"the {kind} {item.get(kind)!r}: its examples must be `- ` lines in an `examples: |` block"
    )


def write(examples: list[Example], path: str | Path) -> None:
    """Write ``examples`` as a Rasa 3.x NLU file; raises :class:`DataError` (naming the example) on what Rasa
    markup cannot hold unambiguously. Examples read from a Rasa file bring its sections, intent keys, version
    and other top-level keys back, in the file's order (``meta["rasa_file"]``)."""
    by_intent: dict[str, list[tuple[str, object]]] = {}
    for ex in examples:
        if not ex.intent or not ex.intent.strip():
            raise DataError(f"example {ex.id}: no intent; every Rasa example belongs to an intent")
        by_intent.setdefault(ex.intent, []).append((_markup(ex), ex.meta.get("rasa_metadata")))
    infos = _file_infos(examples)
    version = str(infos[0].get("version", "3.1")) if infos else "3.1"
    lines = [f"version: {json.dumps(version)}", "", "nlu:"]
    written: set[str] = set()
    for item in [item for info in infos for item in info.get("items", [])]:
        intent = item.get("intent")
        if intent is None:
            lines += _dump([item])
        elif intent in by_intent and intent not in written:
            lines += _intent_lines(intent, by_intent[intent], item)
            written.add(intent)
    for intent, items in by_intent.items():
        if intent not in written:
            lines += _intent_lines(intent, items, {})
    other = {k: v for info in infos for k, v in (info.get("other") or {}).items()}
    if other:
        lines += ["", *_dump(other)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _intent_lines(intent: str, items: list[tuple[str, object]], item: dict) -> list[str]:
    """One ``- intent:`` item: its own keys (``metadata``), then its examples."""
    lines = [f"- intent: {_scalar(intent)}"]
    own = {k: v for k, v in item.items() if k not in ("intent", "examples")}
    if own:
        lines += [f"  {line}" for line in _dump(own)]
    if all(metadata is None for _, metadata in items):
        lines.append("  examples: |")
        lines.extend(f"    - {text}" for text, _ in items)
        return lines
    lines.append("  examples:")  # the list form: the only one that carries per-example metadata
    for text, metadata in items:
        try:
            plain = yaml.safe_load(f"text: {text}") == {"text": text}  # `- text: hi` reads back as written
        except yaml.YAMLError:
            plain = False
        lines += [f"  - text: {text}"] if plain else ["  - text: |", f"      {text}"]
        if metadata is not None:
            lines += [f"    {line}" for line in _dump({"metadata": metadata})]
    return lines


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal ``|`` blocks, as Rasa files write their sections' examples."""


_BlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _dump(value: object) -> list[str]:
    """``value`` as YAML lines (a section, an intent's keys, top-level keys), literal blocks for multi-line
    strings where YAML allows them (else quoted)."""
    text = yaml.dump(value, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=10**9)
    return text.splitlines()


# --- reading --------------------------------------------------------------------------------------------------


def _load(path: Path) -> tuple[object, yaml.Node | None]:
    """What ``yaml.safe_load`` returns, plus the node tree it was built from (for line numbers)."""
    loader = yaml.SafeLoader(read_text(path))
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise DataError(
            f"{path}{line}: not valid YAML ({problem}); check the indentation and quoting"
        ) from None
    finally:
        loader.dispose()


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node (the last one, as the loader keeps the last)."""
    found = None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                found = value_node
    return found


def _where(path: Path, node: yaml.Node | None) -> str:
    return f"{path}:{node.start_mark.line + 1}" if node is not None else str(path)


def _line(node: yaml.Node | None, default: int) -> int:
    """1-based line where a scalar's text starts: the line after the ``|`` header for a literal block."""
    if node is None:
        return default
    return node.start_mark.line + (2 if getattr(node, "style", None) == "|" else 1)


def _examples_of(path: Path, item: dict, item_node: yaml.Node | None) -> Iterator[tuple[str, int, object]]:
    """``(text, line, metadata)`` for each example of an intent item, in file order."""
    examples, node = item.get("examples"), _child(item_node, "examples")
    item_line = _line(item_node, 0)
    if isinstance(examples, str):
        # A literal block keeps every line break, so the n-th line of the value is n lines below its first line.
        # Any other style (quoted, folded) has no such mapping: its errors name the line where the value starts.
        literal = node is not None and node.style == "|"
        first = _line(node, item_line)
        for offset, line in enumerate(_YAML_BREAKS.split(examples)):
            lineno = first + offset if literal else first
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                raise DataError(
                    f"{path}:{lineno}: example line {stripped!r} does not start with '- ' (Rasa would skip "
                    "it with a warning); start it with '- ' or remove it"
                )
            yield stripped[1:].strip(), lineno, None
    elif isinstance(examples, list) and examples:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else []
        for i, entry in enumerate(examples):
            entry_node = nodes[i] if i < len(nodes) else None
            entry_line = _line(entry_node, item_line)
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                lineno = _line(_child(entry_node, "text"), entry_line)
                yield entry["text"].strip(), lineno, entry.get("metadata")
            elif isinstance(entry, str):
                yield entry.strip(), entry_line, None
            else:
                raise DataError(
                    f"{path}:{entry_line}: each item of a list of examples needs a `text:` string"
                )
    else:
        raise DataError(
            f"{path}:{_line(node, item_line)}: intent {item['intent']!r} has no examples; "
            "give them as `examples: |` and one `- ` line each"
        )
