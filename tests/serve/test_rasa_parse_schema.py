"""`nlu serve` as Rasa 3's external NLU server: every `/model/parse` answer validates against the parse-result
schema written down below from Rasa's documentation, for an empty text, a button payload, an entity synonym, an
entity role and the fallback intent.

The schema, from Rasa 3's documentation (no JSON schema of the parse result ships with Rasa; this one follows
what the pages show a parse result holds):

- HTTP API, ``POST /model/parse`` (https://rasa.com/docs/rasa/pages/http-api): the answer is an object with
  ``text``, ``intent``, ``entities``, ``intent_ranking`` and, with a ResponseSelector, ``response_selector``.
- Components, DIETClassifier output (https://rasa.com/docs/rasa/components): ``intent`` is
  ``{"id", "name", "confidence"}``, ``intent_ranking`` a list of the same; each entity has ``entity``,
  ``value``, ``start``, ``end``, ``confidence_entity`` and ``extractor``; ``role`` and ``group`` when the
  training data has them (https://rasa.com/docs/rasa/nlu-training-data, "Entities Roles and Groups"); an
  entity a processor changed lists it in ``processors`` (EntitySynonymMapper, same page, "Synonyms").
- A message without text is parsed to ``{"name": null, "confidence": 0.0}`` (Rasa's message processor reads
  ``parse_data["intent"]["name"]`` of every result); FallbackClassifier (Components page) predicts
  ``nlu_fallback`` with the threshold as its confidence, ahead of the original ranking.
- Button payloads ``/intent{"entity": "value"}`` (https://rasa.com/docs/rasa/responses, "Buttons"): that intent
  at confidence 1.0 with those entities, as Rasa's RegexMessageHandler unpacks them.
"""

from __future__ import annotations

import copy

import httpx
import pytest

from nlu.rules import ParseRules
from nlu.serve import create_app

INTENT = {
    "type": "object",
    "required": ["name", "confidence"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "confidence": {"type": "number", "minimum": 0.0, "maximum": 1.0},
    },
}
ENTITY = {
    "type": "object",
    "required": ["entity", "value", "start", "end", "confidence_entity", "extractor"],
    "properties": {
        "entity": {"type": "string"},
        "value": {},  # text, or for a payload any JSON value
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 0},
        "confidence_entity": {"type": "number", "minimum": 0.0, "maximum": 1.0},
        "extractor": {"type": "string"},
        "role": {"type": "string"},
        "group": {"type": "string"},
        "processors": {"type": "array", "items": {"type": "string"}},
    },
}
PARSE_RESULT = {
    "type": "object",
    "required": ["text", "intent", "entities", "intent_ranking"],
    "properties": {
        "text": {"type": "string"},
        "intent": INTENT,
        "entities": {"type": "array", "items": ENTITY},
        "intent_ranking": {"type": "array", "items": INTENT},
        "response_selector": {"type": "object"},
        "message_id": {"type": ["string", "integer"]},
    },
}
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "null": type(None),
}


def schema_errors(value, schema: dict, where: str = "$") -> list[str]:
    """What of a JSON schema (the keywords used above: type, required, properties, items, minimum, maximum)
    ``value`` breaks; extra keys are allowed, as Rasa ignores them. jsonschema is not a dependency."""
    errors = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        ok = any(
            isinstance(value, _TYPES[k]) and not (isinstance(value, bool) and k != "boolean") for k in kinds
        )
        if not ok:
            return [f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if isinstance(value, dict):
        errors += [f"{where}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errors += schema_errors(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    return errors


def test_the_checker_catches_what_main_answered():
    """The answers of main before this change, checked: they fail the schema."""
    before = {
        "text": "",
        "intent": None,
        "intent_ranking": [],
        "entities": [{"entity": "city", "value": "paris", "start": 0, "end": 5, "confidence": 0.9}],
    }
    assert schema_errors(before, PARSE_RESULT) == [
        "$.intent: expected object, got NoneType",
        "$.entities[0]: missing 'confidence_entity'",
        "$.entities[0]: missing 'extractor'",
    ]


TEXT = "turn on the lights in the kitchen"


@pytest.fixture(scope="module")
def rasa_url(parser, start_server):
    """The tiny artifact's parser as a model trained on Rasa data would be: its slot types carry a role
    (``device#target``), its training data a synonym for the first entity it finds in TEXT, and a fallback."""
    rasa = copy.copy(parser)
    rasa.slot_labels = [t if t in ("UNK", "O") else f"{t}#target" for t in parser.slot_labels]
    first = parser.parse(TEXT).entities[0]
    rasa.rules = ParseRules.from_training_data([(first.value, "CANONICAL")], [])
    app = create_app(parser=rasa, fallback_threshold=0.99)
    with start_server(app) as base:
        yield base


def _parse(url: str, text: str) -> dict:
    response = httpx.post(f"{url}/model/parse", json={"text": text}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert schema_errors(body, PARSE_RESULT) == []
    # what Rasa's message processor does with every answer
    assert body.get("intent", {}).get("name") is None or isinstance(body["intent"]["name"], str)
    return body


def test_empty_text(rasa_url):
    assert _parse(rasa_url, "  ") == {
        "text": "  ",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
    }


def test_payload(rasa_url):
    body = _parse(rasa_url, '/inform{"city": "berlin"}')
    assert body["intent"]["name"] == "inform" and body["intent"]["confidence"] == 1.0
    assert body["intent_ranking"] == [body["intent"]]
    assert body["entities"] == [
        {
            "entity": "city",
            "start": 7,
            "end": 25,
            "confidence_entity": 1.0,
            "value": "berlin",
            "extractor": "RegexMessageHandler",
        }
    ]


def test_synonym_role_and_fallback(rasa_url, parser):
    body = _parse(rasa_url, TEXT)
    plain = parser.parse(TEXT)
    first = body["entities"][0]
    assert first["value"] == "CANONICAL" and first["processors"] == ["EntitySynonymMapper"]
    assert TEXT[first["start"] : first["end"]] == plain.entities[0].value  # the span stays the text's
    assert all(e["role"] == "target" and "#" not in e["entity"] for e in body["entities"])
    assert [e["entity"] for e in body["entities"]] == [e.entity for e in plain.entities]
    # the tiny model is never 99% sure: the fallback, ahead of the model's own ranking
    assert body["intent"]["name"] == "nlu_fallback" and body["intent"]["confidence"] == 0.99
    assert [r["name"] for r in body["intent_ranking"]] == ["nlu_fallback", *(n for n, _ in plain.ranking)]
    version = httpx.get(f"{rasa_url}/version", timeout=30).json()
    assert "device" in version["entities"] and not any("#" in e for e in version["entities"])
