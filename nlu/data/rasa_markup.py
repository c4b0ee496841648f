"""Rasa's inline entity markup, both ways: ``[Berlin]{"entity": "city", "role": "destination"}`` and
``[NYC](city:New York)`` parsed into words, BIO tags and the entities' extra fields, and an example written back
as markup (its original line where the words and labels are unchanged). Used by :mod:`nlu.data.rasa_yaml`."""

from __future__ import annotations

import json
import re

import yaml

from nlu.data.alignment import split_words
from nlu.data.bio import GROUP_MARK, ROLE_MARK, is_valid_tag, join_slot_type, spans, split_slot_type
from nlu.data.example import Example
from nlu.errors import DataError

_ENTITY_KEYS = ("role", "group", "value")  # in the order Rasa's docs write them
_BREAKS_OUT = re.compile("[\r\n\x85\u2028\u2029]")  # what YAML would read as a line break when written
_NON_PRINTABLE = re.compile("[^\x09\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PLAIN_SCALAR = re.compile(r"[A-Za-z0-9_][\w/#.+-]*")
_JSON = json.JSONDecoder()


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
        extra = {k: v for k, v in spec.items() if k not in ("entity", "role", "group")}
        if extra:  # the tag holds entity, role and group; the rest is kept beside it
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
    """The slot type of an annotation: its entity with its role and group (``city#destination@1``)."""
    names = {key: spec.get(key) for key in ("entity", "role", "group")}
    if isinstance(names["group"], int) and not isinstance(names["group"], bool):
        names["group"] = str(names["group"])  # {"group": 1}: Rasa reads a number as its text too
    for key, value in names.items():
        if value is None and key != "entity":
            continue
        if (
            not isinstance(value, str)
            or not value
            or any(c.isspace() or c in (ROLE_MARK, GROUP_MARK) for c in value)
        ):
            raise DataError(
                f"{where}: {key} {value!r} in {text!r} must be a non-empty name without spaces, "
                f"'{ROLE_MARK}' or '{GROUP_MARK}'"
            )
    return join_slot_type(names["entity"], names["role"], names["group"])


# --- writing --------------------------------------------------------------------------------------------------


def _markup(ex: Example) -> str:
    """The example's line: as it was written (``rasa_text``) when that still reads as the same words, labels and
    values, else built from the words."""
    entities = [e for e in ex.meta.get("rasa_entities", []) if isinstance(e, dict)]
    original = ex.meta.get("rasa_text")
    if isinstance(original, str):
        try:
            if _parse_markup(original, f"example {ex.id}") == (ex.tokens, ex.tags, entities):
                return original
        except DataError:
            pass  # edited into something else: written from the words below
    _check_writable(ex)
    return _markup_of(ex.tokens, ex.tags, entities, ex.id)


def _check_writable(ex: Example) -> None:
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


def _rebuilt(tokens: list[str], tags: list[str], entities: list[dict]) -> str | None:
    """The line :func:`write` would build from the words, or None where it could not write one."""
    try:
        return _markup_of(tokens, tags, entities)
    except DataError:
        return None


def _markup_of(tokens: list[str], tags: list[str], entities: list[dict], example_id: str = "") -> str:
    """Words joined with single spaces, each slot span as ``[words](slot type)`` or the JSON form."""
    recorded = {(e.get("start"), e.get("end")): e for e in entities}
    parts: list[str] = []
    position = 0
    for kind, first, last in spans(list(tags)):
        parts += tokens[position:first]
        parts.append(
            f"[{' '.join(tokens[first:last])}]{_annotation(kind, recorded.get((first, last)), example_id)}"
        )
        position = last
    return " ".join(parts + tokens[position:])


def _annotation(kind: str, entry: dict | None, example_id: str) -> str:
    if re.search(r"[\[\](){}\s]", kind):
        raise DataError(f"example {example_id}: slot type {kind!r} cannot be written in Rasa entity markup")
    entity, role, group = split_slot_type(kind)
    spec: dict = {"entity": entity}
    if role is not None:
        spec["role"] = role
    if group is not None:
        spec["group"] = group
    if entry is not None and entry.get("entity") == entity:
        spec |= {k: v for k, v in entry.items() if k not in ("start", "end", "entity", "role", "group")}
    if len(spec) > 1:
        text = json.dumps(spec, ensure_ascii=False, default=str)
        if _NON_PRINTABLE.search(text) or _BREAKS_OUT.search(text):
            text = json.dumps(spec, default=str)  # \uXXXX keeps the line whole
        if "}" in text[1:-1]:
            raise DataError(f"example {example_id}: entity {text} holds '}}', which Rasa cannot read")
        return text
    if ":" in kind:  # (a:b) would read as entity a with value b
        return json.dumps({"entity": kind}, ensure_ascii=False)
    return f"({kind})"


def _scalar(name: str) -> str:
    """``name`` as a YAML scalar: plain where YAML reads it back as the same string, else double-quoted."""
    if _PLAIN_SCALAR.fullmatch(name) and yaml.safe_load(name) == name:
        return name
    return yaml.safe_dump(name, default_style='"', width=10**9, allow_unicode=True).strip()
