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
``B-``/``I-<entity>``; an entity with a role is the slot type ``<entity>.<role>`` (``city.destination``), so
that "from Boston" and "to New York" are different slots, as they are in Rasa. What the tags cannot hold (a
role, group or value) is kept in ``meta["rasa_entities"]`` as ``{"start", "end", "entity", "role", "group",
"value"}`` (word indices, end exclusive), and an example's ``metadata`` in ``meta["rasa_metadata"]``; only
examples that have them get these keys. Retrieval intents (``faq/ask_name``) are kept whole.

``synonym``, ``lookup`` and ``regex`` sections hold no examples: they are skipped and counted in one warning.
Errors name the file and the line of the example inside the YAML file (for an ``examples: |`` block: the line
after the ``|`` plus the example's line offset inside the block; a quoted or folded value names its first line;
YAML syntax errors name the line of the YAML mark). Intent names are plain labels; ids are
``<file stem>-<index>`` (0-based).

:func:`write` gives one ``- intent:`` item per intent (first-appearance order; examples are grouped by intent),
tokens joined with single spaces in a literal ``|`` block, each slot span as ``[words](slot_type)``. A span whose
``meta["rasa_entities"]`` entry records a role, group or value is written back as the JSON form, so a Rasa file
read and written keeps them; a dotted slot type without such an entry (ATIS ``fromloc.city_name``) is written
as it is. Intents whose examples carry ``rasa_metadata`` use the list form (``- text: |`` + ``metadata:``).
Tokens holding ``[`` or ``]`` cannot be written unambiguously and are refused, not escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from nlu.data.alignment import split_words
from nlu.data.bio import is_valid_tag, spans
from nlu.data.example import Example
from nlu.data.readers import ReadStats, check_example, finish, read_text
from nlu.errors import DataError

SKIPPED_SECTIONS = ("synonym", "lookup", "regex")
_ENTITY_KEYS = ("role", "group", "value")  # what a BIO tag cannot hold, in the order Rasa's docs write it
_YAML_BREAKS = re.compile("[\n\u2028\u2029]")  # line breaks a literal block keeps (\r\n, \r, \x85 become \n)
_BREAKS_OUT = re.compile("[\r\n\x85\u2028\u2029]")  # what YAML would read as a line break when written
_NON_PRINTABLE = re.compile("[^\x09\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLAIN_SCALAR = re.compile(r"[A-Za-z0-9_][\w/#.+-]*")
_JSON = json.JSONDecoder()


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
    skipped: dict[str, int] = {}
    for i, item in enumerate(nlu):
        item_node = item_nodes[i] if i < len(item_nodes) else None
        if not isinstance(item, dict):
            raise DataError(
                f"{_where(path, item_node)}: an `nlu:` item must be a mapping such as `- intent: greet`"
            )
        if "intent" not in item:
            kind = next((k for k in SKIPPED_SECTIONS if k in item), None)
            if kind is None:
                keys = ", ".join(map(str, item)) or "none"
                raise DataError(
                    f"{_where(path, item_node)}: item has no `intent`, `synonym`, `lookup` or `regex` key "
                    f"(keys: {keys}); fix the key or remove the item"
                )
            skipped[kind] = skipped.get(kind, 0) + 1
            continue
        intent = item["intent"]
        if intent is None or isinstance(intent, (bool, dict, list)):
            raise DataError(f"{_where(path, item_node)}: intent {intent!r} is not a name; quote it")
        for text, lineno, metadata in _examples_of(path, item, item_node):
            where = f"{path}:{lineno}"
            tokens, tags, entities = _parse_markup(text, where)
            meta = {}
            if entities:
                meta["rasa_entities"] = entities
            if metadata is not None:
                meta["rasa_metadata"] = metadata
            example = Example(f"{path.stem}-{len(examples)}", tokens, tags, str(intent), lang, meta)
            examples.append(check_example(example, where, stats))
    if skipped:
        detail = ", ".join(f"{n} {kind}" for kind, n in skipped.items())
        stats.notes.append(
            f"{path}: skipped {sum(skipped.values())} section(s) that hold no intent examples ({detail}); "
            "synonyms, lookup tables and regexes are not used by this toolkit"
        )
    other = [str(k) for k in data if k not in ("version", "nlu")]
    if other:
        stats.notes.append(f"{path}: ignored top-level key(s) {', '.join(other)} (not NLU examples)")
    return finish(path, examples, stats)


def write(examples: list[Example], path: str | Path) -> None:
    """Write ``examples`` as a Rasa 3.x NLU file; raises :class:`DataError` (naming the example) on what Rasa
    markup cannot hold unambiguously."""
    by_intent: dict[str, list[tuple[str, object]]] = {}
    for ex in examples:
        if not ex.intent or not ex.intent.strip():
            raise DataError(f"example {ex.id}: no intent; every Rasa example belongs to an intent")
        by_intent.setdefault(ex.intent, []).append((_markup(ex), ex.meta.get("rasa_metadata")))
    lines = ['version: "3.1"', "", "nlu:"]
    for intent, items in by_intent.items():
        lines.append(f"- intent: {_scalar(intent)}")
        if all(metadata is None for _, metadata in items):
            lines.append("  examples: |")
            lines.extend(f"    - {text}" for text, _ in items)
            continue
        lines.append("  examples:")  # the list form: the only one that carries per-example metadata
        for text, metadata in items:
            lines += ["  - text: |", f"      {text}"]
            if metadata is not None:
                dumped = yaml.safe_dump({"metadata": metadata}, allow_unicode=True, sort_keys=False)
                lines += [f"    {line}" for line in dumped.splitlines()]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


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


def _parse_markup(text: str, where: str) -> tuple[list[str], list[str], list[dict]]:
    """Words, BIO tags and the role/group/value entries of one annotated example."""
    tokens: list[str] = []
    tags: list[str] = []
    entities: list[dict] = []
    if not text:
        raise DataError(f"{where}: empty example ('-' with no text); write the utterance or remove the line")
    start = i = 0  # start: beginning of the outside text not yet split into words
    while i < len(text):
        if text[i] == "]":
            raise DataError(f"{where}: unbalanced ']' at character {i + 1} of {text!r}; pair it with '['")
        if text[i] != "[":
            i += 1
            continue
        close, nested = text.find("]", i + 1), text.find("[", i + 1)
        if close < 0 or 0 <= nested < close:
            raise DataError(f"{where}: unbalanced '[' at character {i + 1} of {text!r}; close it with ']'")
        words = [w for w, _, _ in split_words(text[i + 1 : close])]
        if not words:
            raise DataError(f"{where}: empty entity text '[]' in {text!r}")
        tokens += [w for w, _, _ in split_words(text[start:i])]
        tags += ["O"] * (len(tokens) - len(tags))
        spec, i = _annotation_at(text, close + 1, where)
        slot = _slot_type(spec, text, where)
        extra = {k: v for k, v in spec.items() if k != "entity"}
        if extra:
            ordered = sorted(
                extra, key=lambda k: _ENTITY_KEYS.index(k) if k in _ENTITY_KEYS else len(_ENTITY_KEYS)
            )
            entry = {"start": len(tokens), "end": len(tokens) + len(words), "entity": spec["entity"]}
            entities.append(entry | {k: extra[k] for k in ordered})
        tokens += words
        tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(words) - 1)
        start = i
    tokens += [w for w, _, _ in split_words(text[start:])]
    tags += ["O"] * (len(tokens) - len(tags))
    if not tokens:
        raise DataError(f"{where}: example {text!r} holds no words; write the utterance or remove the line")
    return tokens, tags, entities


def _annotation_at(text: str, j: int, where: str) -> tuple[dict, int]:
    """The ``(entity[:value])`` or ``{json}`` right after ``[...]`` at ``j``, and the position after it."""
    label = text[: j - 1].rpartition("[")[2]
    if text[j : j + 1] == "(":
        end = text.find(")", j)
        if end < 0:
            raise DataError(f"{where}: '(' after [{label}] is not closed by ')' in {text!r}")
        entity, colon, value = text[j + 1 : end].partition(":")
        return (
            {"entity": entity.strip(), "value": value.strip()} if colon else {"entity": entity.strip()}
        ), end + 1
    if text[j : j + 1] == "{":
        try:
            spec, end = _JSON.raw_decode(text, j)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{where}: the annotation after [{label}] is not valid JSON ({err.msg} at character {err.pos + 1} "
                f'of {text!r}); write it like {{"entity": "city", "role": "destination"}}'
            ) from None
        if not isinstance(spec, dict) or "entity" not in spec:
            raise DataError(f'{where}: the annotation after [{label}] has no "entity" key in {text!r}')
        return spec, end
    raise DataError(
        f'{where}: [{label}] must be followed by (entity) or {{"entity": ...}} in {text!r}; '
        "annotate the text or drop the brackets (Rasa has no escape for a literal '[')"
    )


def _slot_type(spec: dict, text: str, where: str) -> str:
    entity, role = spec["entity"], spec.get("role")
    for name, value in (("entity", entity), ("role", role)):
        if value is None and name == "role":
            continue
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise DataError(f"{where}: {name} {value!r} in {text!r} must be a non-empty name without spaces")
    return f"{entity}.{role}" if role else entity


# --- writing --------------------------------------------------------------------------------------------------


def _markup(ex: Example) -> str:
    if len(ex.tokens) != len(ex.tags):
        raise DataError(f"example {ex.id}: {len(ex.tokens)} tokens but {len(ex.tags)} tags")
    for tok in ex.tokens:
        if not tok or any(c.isspace() for c in tok) or _NON_PRINTABLE.search(tok):
            raise DataError(
                f"example {ex.id}: token {tok!r} is empty or holds white space or control characters"
            )
        if "[" in tok or "]" in tok:
            raise DataError(
                f"example {ex.id}: token {tok!r} holds '[' or ']', which Rasa reads as entity markup; "
                "Rasa has no escape for it, so rewrite or drop the token before exporting"
            )
    bad = [t for t in ex.tags if not is_valid_tag(t)]
    if bad:
        raise DataError(f"example {ex.id}: tag {bad[0]!r} is not BIO")
    recorded = {
        (e.get("start"), e.get("end")): e for e in ex.meta.get("rasa_entities", []) if isinstance(e, dict)
    }
    parts: list[str] = []
    position = 0
    for kind, first, last in spans(list(ex.tags)):
        parts += ex.tokens[position:first]
        parts.append(
            f"[{' '.join(ex.tokens[first:last])}]{_annotation(kind, recorded.get((first, last)), ex.id)}"
        )
        position = last
    return " ".join(parts + ex.tokens[position:])


def _annotation(kind: str, entry: dict | None, example_id: str) -> str:
    if re.search(r"[\[\](){}\s]", kind):
        raise DataError(f"example {example_id}: slot type {kind!r} cannot be written in Rasa entity markup")
    if entry is not None:
        extra = {k: v for k, v in entry.items() if k not in ("start", "end", "entity")}
        entity = entry.get("entity")
        if extra and (f"{entity}.{extra['role']}" if extra.get("role") else entity) == kind:
            spec = json.dumps({"entity": entity, **extra}, ensure_ascii=False, default=str)
            if _NON_PRINTABLE.search(spec) or _BREAKS_OUT.search(spec):
                spec = json.dumps({"entity": entity, **extra}, default=str)  # \uXXXX keeps the line whole
            if "}" in spec[1:-1]:
                raise DataError(f"example {example_id}: entity {spec} holds '}}', which Rasa cannot read")
            return spec
    if ":" in kind:  # (a:b) would read as entity a with value b
        return json.dumps({"entity": kind}, ensure_ascii=False)
    return f"({kind})"


def _scalar(name: str) -> str:
    """``name`` as a YAML scalar: plain where YAML reads it back as the same string, else double-quoted."""
    if _PLAIN_SCALAR.fullmatch(name) and yaml.safe_load(name) == name:
        return name
    return yaml.safe_dump(name, default_style='"', width=10**9, allow_unicode=True).strip()
