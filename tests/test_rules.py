"""nlu.rules: Rasa's button payloads, entity synonyms, the regex extractor and the fallback intent, on their own and
in every kind of parser (the torch model, the ONNX artifact, a prompted LLM)."""

from __future__ import annotations

import json
import shutil

import pytest

from nlu.prediction import Entity, Prediction, intent_id
from nlu.rules import (
    FALLBACK_INTENT,
    ParseRules,
    RegexEntities,
    Synonyms,
    parse_payload,
)


def test_a_payload_is_its_intent_at_confidence_one_with_its_entities():
    """`/greet` went to the model (play_music 0.82)."""
    greet = parse_payload("/greet")
    assert (greet.intent, greet.intent_confidence, greet.ranking, greet.entities) == (
        "greet",
        1.0,
        [("greet", 1.0)],
        [],
    )
    text = '  /inform{"city": "berlin", "count": [2, 3]}'
    inform = parse_payload(text)
    assert inform.intent == "inform" and inform.text == text
    start, end = text.index("{"), len(text)  # Rasa's start/end: the JSON object's span
    assert [(e.entity, e.value, e.start, e.end, e.confidence, e.extractor) for e in inform.entities] == [
        ("city", "berlin", start, end, 1.0, "RegexMessageHandler"),
        ("count", 2, start, end, 1.0, "RegexMessageHandler"),
        ("count", 3, start, end, 1.0, "RegexMessageHandler"),
    ]
    assert parse_payload("/affirm@0.4").intent_confidence == 0.4
    assert parse_payload("/affirm@7").intent_confidence == 1.0  # clipped, as Rasa does
    assert parse_payload('/inform{"city": berlin}').entities == []  # not JSON: no entities, as Rasa continues
    deep = "/greet{" + '"a":' + "[" * 20000 + "]" * 20000 + "}"  # deeper than Python's JSON reader goes
    assert parse_payload(deep).intent == "greet" and parse_payload(deep).entities == []


@pytest.mark.parametrize("text", ["play some jazz", "", "/", "/ what is this", "a/b"])
def test_text_that_is_not_a_payload(text):
    assert parse_payload(text) is None


def _entity(name, value, start, end, confidence=0.9):
    return Entity(name, value, start, end, confidence)


def test_synonyms_map_values_case_insensitively_and_keep_the_span():
    synonyms = Synonyms.from_pairs([("NYC", "New York"), ("the big apple", "New York"), ("Paris", "Paris")])
    assert synonyms.table == {
        "nyc": "New York",
        "the big apple": "New York",
    }  # a value is not its own synonym
    mapped, kept = synonyms.apply([_entity("city", "nyc", 8, 11), _entity("city", "Boston", 15, 21)])
    assert (mapped.value, mapped.start, mapped.end, mapped.processors) == (
        "New York",
        8,
        11,
        ["EntitySynonymMapper"],
    )
    assert (kept.value, kept.processors) == ("Boston", [])
    assert mapped.to_dict()["processors"] == ["EntitySynonymMapper"] and "processors" not in kept.to_dict()


def test_regexes_add_entities_the_model_missed_and_the_model_wins_on_overlap():
    regexes = RegexEntities((("zipcode", r"\b\d{5}\b"), ("number", r"\d+")))
    text = "deliver to 10115 or 99 at 12345"
    model = [_entity("room", "12345", 26, 31)]  # the model's entity overlaps the third match
    found = regexes.add(text, model)
    assert [(e.entity, e.value, e.extractor) for e in found] == [
        ("zipcode", "10115", "RegexEntityExtractor"),
        ("number", "99", "RegexEntityExtractor"),  # the earlier pattern took 10115 first
        ("room", "12345", "nlu-toolkit"),
    ]


def test_a_bad_regex_names_itself():
    from nlu.errors import DataError

    with pytest.raises(DataError, match="regex 'zipcode'.*not a valid regular expression"):
        RegexEntities((("zipcode", r"(\d{5}"),))


def _prediction(ranking, text="hello"):
    return Prediction(text, ranking[0][0], ranking[0][1], ranking=list(ranking), tokens=[text], tags=["O"])


def test_fallback_below_the_threshold_or_between_close_intents():
    """A bot could not tell "I don't know": "hello" was play_music at 0.82."""
    rules = ParseRules(fallback_threshold=0.9, ambiguity_threshold=0.1)
    low = rules.after_model(_prediction([("play_music", 0.82), ("get_weather", 0.1)]))
    assert (low.intent, low.intent_confidence) == (FALLBACK_INTENT, 0.9)
    assert low.ranking == [
        (FALLBACK_INTENT, 0.9),
        ("play_music", 0.82),
        ("get_weather", 0.1),
    ]  # kept, as Rasa
    close = ParseRules(ambiguity_threshold=0.1).after_model(_prediction([("a", 0.5), ("b", 0.45)]))
    assert (close.intent, close.intent_confidence) == (
        FALLBACK_INTENT,
        0.5,
    )  # no threshold: the top confidence
    sure = rules.after_model(_prediction([("a", 0.95), ("b", 0.01)]))
    assert sure.intent == "a"
    assert ParseRules().after_model(_prediction([("a", 0.2), ("b", 0.19)])).intent == "a"  # off by default
    empty = Prediction("", None, 0.0)
    assert rules.after_model(empty) is empty
    with pytest.raises(ValueError, match="fallback_threshold"):
        ParseRules(fallback_threshold=1.5)


def test_rules_parse_payloads_without_the_model_and_the_rest_with_it():
    calls = []

    def model(items):
        calls.append([text for text, _, _ in items])
        return [_prediction([("play_music", 0.5), ("x", 0.4)], text) for text, _, _ in items]

    rules = ParseRules(fallback_threshold=0.6)
    items = [("/greet", ["/greet"], [(0, 6)]), ("hello", ["hello"], [(0, 5)])]
    greet, hello = rules.parse(items, model)
    assert calls == [["hello"]]
    assert (greet.intent, greet.intent_confidence) == ("greet", 1.0)  # a payload never falls back
    assert hello.intent == FALLBACK_INTENT
    assert [p.intent for p in rules.parse(items, model, payloads=False)] == [FALLBACK_INTENT] * 2


def test_prediction_is_rasas_parse_result():
    """Rasa reads intent.name of every result (null intent crashed it), entities' confidence_entity, extractor."""
    empty = Prediction("  ", None, 0.0).to_dict()
    assert empty == {
        "text": "  ",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
    }
    entity = Entity("city", "New York", 8, 11, 0.5, role="destination", group="1")
    out = Prediction("fly to nyc", "book", 0.75, ranking=[("book", 0.75)], entities=[entity]).to_dict()
    assert out["intent"] == {"id": intent_id("book"), "name": "book", "confidence": 0.75}
    assert out["intent_ranking"] == [out["intent"]]
    assert out["entities"] == [
        {
            "entity": "city",
            "start": 8,
            "end": 11,
            "confidence_entity": 0.5,
            "value": "New York",
            "extractor": "nlu-toolkit",
            "role": "destination",
            "group": "1",
        }
    ]
    assert intent_id("book") == intent_id("book") < 2**53  # stable, and exact as a JavaScript number


def test_a_role_and_group_in_the_slot_type_become_fields_of_the_entity():
    from nlu.prediction import assemble_prediction

    labels = ["UNK", "O", "B-city#destination@2", "I-city#destination@2", "B-fromloc.city_name"]
    p = assemble_prediction(
        "to new york from st. louis",
        ["to", "new", "york", "from", "st.", "louis"],
        [(0, 2), (3, 6), (7, 11), (12, 16), (17, 20), (21, 26)],
        [None, 0, 1, 2, 3, 4, 5, None],
        [0.0, 1.0],
        [1, 2, 3, 1, 4, 1],
        [1.0] * 6,
        ["UNK", "book"],
        labels,
    )
    assert [(e.entity, e.role, e.group, e.value) for e in p.entities] == [
        ("city", "destination", "2", "new york"),
        ("fromloc.city_name", None, None, "st."),  # a dot is part of a name (ATIS)
    ]
    assert p.tags[1] == "B-city#destination@2"  # the word-level view keeps the model's label


# --- the rules travel with every kind of model ------------------------------------------------------------


def test_synonyms_and_regexes_apply_in_the_artifact_and_the_torch_model(
    parser, tiny_mixed_model_dir, tmp_path
):
    import re

    from nlu.inference import TorchParser
    from nlu.runtime import OnnxParser

    text = next(t for t in _TEXTS if parser.parse(t).entities)
    found = parser.parse(text)
    first = found.entities[0]
    free = next(
        w
        for w, (s, e) in zip(found.tokens, _offsets(text), strict=True)
        if not any(s < x.end and x.start < e for x in found.entities)
    )
    rules = ParseRules.from_training_data(
        [(first.value.upper(), "CANONICAL")], [("thing", rf"\b{re.escape(free)}\b")]
    )
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_mixed_model_dir(True), model_dir)
    assert rules.save(model_dir) == ["synonyms.json", "regexes.json"]
    for loaded in (TorchParser.load(model_dir), OnnxParser.load(_exported(model_dir, tmp_path))):
        prediction = loaded.parse(text)
        mapped = next(e for e in prediction.entities if e.start == first.start)
        assert (mapped.value, mapped.processors, mapped.end) == (
            "CANONICAL",
            ["EntitySynonymMapper"],
            first.end,
        )
        assert [
            (e.entity, e.value) for e in prediction.entities if e.extractor == "RegexEntityExtractor"
        ] == [("thing", free)]


def _offsets(text):
    from nlu.data.alignment import split_words

    return [(s, e) for _, s, e in split_words(text)]


_TEXTS = ["turn on the lights in the kitchen", "play hey jude by the beatles", "set an alarm for 7 am"]


def _exported(model_dir, tmp_path):
    from nlu.export import export_model
    from nlu.runtime.manifest import sha256_file

    out = tmp_path / "artifact"
    export_model(model_dir, out)
    manifest = json.loads((out / "nlu.json").read_text())
    assert manifest["synonyms_file"] == "synonyms.json" and manifest["regexes_file"] == "regexes.json"
    assert manifest["files"]["synonyms.json"] == sha256_file(out / "synonyms.json")
    return out


def test_a_changed_synonym_table_is_refused(artifact_dir, tmp_path):
    from nlu.errors import DamagedArtifact
    from nlu.runtime import OnnxParser
    from nlu.runtime.manifest import sha256_file

    copy = tmp_path / "artifact"
    shutil.copytree(artifact_dir, copy)
    ParseRules.from_training_data([("kitchen", "KITCHEN")], []).save(copy)
    manifest = json.loads((copy / "nlu.json").read_text())
    assert "synonyms.json" not in manifest["files"]
    assert OnnxParser.load(copy).rules.synonyms.table == {}  # a file the manifest does not name is not read
    manifest["synonyms_file"] = "synonyms.json"
    (copy / "nlu.json").write_text(json.dumps(manifest))
    with pytest.raises(DamagedArtifact, match="not listed under 'files'"):
        OnnxParser.load(copy)
    manifest["files"]["synonyms.json"] = sha256_file(copy / "synonyms.json")
    (copy / "nlu.json").write_text(json.dumps(manifest))
    assert OnnxParser.load(copy).parse("turn on the kitchen").text  # listed and hashed: read
    (copy / "synonyms.json").write_text('{"synonyms": {"kitchen": "BATHROOM"}}')
    with pytest.raises(DamagedArtifact, match="SHA-256"):
        OnnxParser.load(copy)


def test_synonyms_apply_in_a_prompted_llm(tmp_path):
    from nlu.data.example import Example
    from nlu.prompting.model_dir import load_prompt_parser, write_prompt_model

    class Backend:
        def score(self, prompt, options):
            return [0.0] * len(options)

        def complete(self, prompts, *, max_tokens=64, stop=None, system=None):
            from nlu.prompting.backends import Completion

            return [Completion(text="city: nyc") for _ in prompts]

    pool = [Example("p", ["fly", "to", "nyc"], ["O", "O", "B-city"], "book")]
    write_prompt_model(tmp_path, {"type": "openai"}, {"book": "book a flight"}, {"city": "a city"}, 0, pool)
    ParseRules.from_training_data([("NYC", "New York")], []).save(tmp_path)
    parser = load_prompt_parser(tmp_path, backend=Backend())
    (entity,) = parser.parse("fly to nyc").entities
    assert (entity.entity, entity.value, entity.processors) == ("city", "New York", ["EntitySynonymMapper"])
    assert parser.parse("/book").intent_confidence == 1.0
