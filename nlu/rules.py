"""What every parser does around its model, deterministically, in the order Rasa's pipeline does it:

1. **Button payloads** (Rasa's ``RegexMessageHandler``): a text ``/intent``, ``/intent{"entity": "value"}`` or
   ``/intent@0.7{...}`` never reaches the model; it is that intent, at confidence 1.0 (or the one given), with
   those entities (their ``start``/``end`` are the span of the JSON object, as in Rasa). The intent name is
   taken as written, whether or not the model knows it (there is no domain here to check it against); a name
   with white space in it is not a payload and goes to the model.
2. **The model** (``predict``): intent, ranking and the entities it tagged.
3. **Regexes** (a deterministic extractor, as Rasa's ``RegexEntityExtractor``): each pattern of the training
   data's ``regex:`` sections, named after an entity type, is searched in the text (case-insensitive); a match
   becomes an entity of that type with confidence 1.0 unless it overlaps an entity the model found: **the model
   wins on overlap**, and an earlier pattern wins over a later one.
4. **Synonyms** (Rasa's ``EntitySynonymMapper``): an entity whose value, lower-cased, is a synonym of the
   training data (a ``synonym:`` section, or an annotation ``[NYC](city:New York)``) gets the canonical
   ``value``; ``start``/``end`` still give the span in the text, and ``processors`` says
   ``EntitySynonymMapper``.
5. **Fallback** (Rasa's ``FallbackClassifier``, opt-in): below ``fallback_threshold`` intent confidence, or when
   the top two intents are closer than ``ambiguity_threshold``, the intent becomes ``nlu_fallback`` with the
   threshold as its confidence, put first in a ranking that otherwise stays the model's. Empty text (no intent)
   and payloads never fall back.

The synonym table and the patterns travel with the model (``synonyms.json``, ``regexes.json`` beside its weights)
and into its exported artifact (listed in ``nlu.json`` with their SHA-256). Torch-free: the runtime uses it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from nlu.errors import DamagedModel, DataError
from nlu.prediction import Entity, Prediction

logger = logging.getLogger(__name__)

SYNONYMS_FILE = "synonyms.json"
REGEXES_FILE = "regexes.json"
FALLBACK_INTENT = "nlu_fallback"  # Rasa's name, so that rules and stories written for Rasa match it
PAYLOAD_EXTRACTOR = "RegexMessageHandler"
REGEX_EXTRACTOR = "RegexEntityExtractor"
SYNONYM_PROCESSOR = "EntitySynonymMapper"

# Rasa's pattern for a payload: "/" intent, "@confidence" (optional), a JSON object (optional), then the rest
_PAYLOAD = re.compile(
    r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)", re.DOTALL
)

# (text, words, character span of each word): what a parser parses, as nlu.parser builds it
Item = tuple[str, list[str], list[tuple[int, int]]]


def parse_payload(text: str) -> Prediction | None:
    """The prediction a button payload stands for, or None when ``text`` is not one."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    match = _PAYLOAD.match(stripped)
    if match is None:
        return None
    intent = match.group("intent").strip()
    if not intent or any(c.isspace() for c in intent):
        return None  # "/ what is this": text that happens to start with a slash
    if match.group("rest"):
        logger.warning("payload %r: ignored %r after the intent and entities", stripped, match.group("rest"))
    confidence = _payload_confidence(match.group("confidence"), stripped)
    offset = len(text) - len(text.lstrip())  # Rasa's offsets are into the stripped text; these into the text
    entities = []
    if match.group("entities") is not None:
        start, end = match.start("entities") + offset, match.end("entities") + offset
        for name, values in _payload_entities(match.group("entities"), stripped).items():
            for value in values if isinstance(values, list) else [values]:
                entities.append(Entity(str(name), value, start, end, 1.0, extractor=PAYLOAD_EXTRACTOR))
    return Prediction(text, intent, confidence, ranking=[(intent, confidence)], entities=entities)


def _payload_confidence(given: str | None, payload: str) -> float:
    if given is None:
        return 1.0
    try:
        return min(float(given[1:]), 1.0)
    except ValueError:
        logger.warning("payload %r: confidence %r is not a number; using 0.0, as Rasa does", payload, given)
        return 0.0


def _payload_entities(text: str, payload: str) -> dict:
    try:
        entities = json.loads(text)
    except (ValueError, RecursionError):  # malformed, or nested deeper than the parser goes
        entities = None
    if not isinstance(entities, dict):
        logger.warning("payload %r: the entities are not a JSON object; continuing without them", payload)
        return {}
    return entities


@dataclass(frozen=True)
class Synonyms:
    """Entity synonyms: lower-cased surface text -> canonical value (Rasa matches case-insensitively)."""

    table: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.table)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Synonyms:
        """``(surface text, canonical value)`` pairs; a pair whose text is its value maps nothing, and a later
        pair for the same text replaces an earlier one (with a warning, as Rasa warns)."""
        table: dict[str, str] = {}
        for surface, canonical in pairs:
            key = str(surface).lower()
            if str(surface) == str(canonical):
                continue
            if key in table and table[key] != canonical:
                logger.warning(
                    "synonym %r maps to %r and to %r; using %r", surface, table[key], canonical, canonical
                )
            table[key] = str(canonical)
        return cls(table)

    def apply(self, entities: Sequence[Entity]) -> list[Entity]:
        out = []
        for entity in entities:
            canonical = self.table.get(str(entity.value).lower()) if isinstance(entity.value, str) else None
            if canonical is not None:
                entity = replace(entity, value=canonical, processors=[*entity.processors, SYNONYM_PROCESSOR])
            out.append(entity)
        return out

    def save(self, directory: Path) -> str:
        (Path(directory) / SYNONYMS_FILE).write_text(
            json.dumps({"synonyms": dict(sorted(self.table.items()))}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        return SYNONYMS_FILE

    @classmethod
    def load(cls, path: Path) -> Synonyms:
        data = _read_json(path)
        table = data.get("synonyms") if isinstance(data, dict) else None
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise DamagedModel(f'{path}: expected {{"synonyms": {{text: value}}}}; the file is damaged')
        return cls(table)


@dataclass(frozen=True)
class RegexEntities:
    """``(entity type, pattern)`` pairs, searched case-insensitively in the text, in this order."""

    patterns: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        compiled = []
        for entity, pattern in self.patterns:
            try:
                compiled.append((entity, re.compile(pattern, re.IGNORECASE)))
            except re.error as err:
                raise DataError(
                    f"regex {entity!r}: {pattern!r} is not a valid regular expression ({err})"
                ) from None
        object.__setattr__(self, "_compiled", compiled)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def add(self, text: str, entities: Sequence[Entity]) -> list[Entity]:
        """``entities`` plus every match that overlaps none of them (nor an earlier match)."""
        taken = [(e.start, e.end) for e in entities]
        found = []
        for entity, pattern in self._compiled:  # type: ignore[attr-defined]
            for match in pattern.finditer(text):
                start, end = match.span()
                if start == end or any(start < e and s < end for s, e in taken):
                    continue
                taken.append((start, end))
                found.append(Entity(entity, match.group(), start, end, 1.0, extractor=REGEX_EXTRACTOR))
        return sorted([*entities, *found], key=lambda e: e.start)

    def save(self, directory: Path) -> str:
        rows = [{"entity": entity, "pattern": pattern} for entity, pattern in self.patterns]
        (Path(directory) / REGEXES_FILE).write_text(
            json.dumps({"regexes": rows}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        return REGEXES_FILE

    @classmethod
    def load(cls, path: Path) -> RegexEntities:
        data = _read_json(path)
        rows = data.get("regexes") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and {"entity", "pattern"} <= r.keys() for r in rows
        ):
            raise DamagedModel(
                f'{path}: expected {{"regexes": [{{entity, pattern}}, ...]}}; the file is damaged'
            )
        try:
            return cls(tuple((str(r["entity"]), str(r["pattern"])) for r in rows))
        except DataError as err:
            raise DamagedModel(f"{path}: {err}") from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedModel(f"{path}: unreadable ({err}); the model directory is damaged") from None


@dataclass(frozen=True)
class ParseRules:
    """The rules a parser applies around its model (see the module docstring). The default applies payloads only."""

    synonyms: Synonyms = field(default_factory=Synonyms)
    regexes: RegexEntities = field(default_factory=RegexEntities)
    fallback_threshold: float | None = None
    ambiguity_threshold: float | None = None

    def __post_init__(self) -> None:
        for name in ("fallback_threshold", "ambiguity_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")

    def with_fallback(self, threshold: float | None, ambiguity_threshold: float | None) -> ParseRules:
        """These rules with the fallback thresholds given (None leaves that check off)."""
        return replace(self, fallback_threshold=threshold, ambiguity_threshold=ambiguity_threshold)

    def parse(
        self, items: Sequence[Item], predict: Callable[[list[Item]], list[Prediction]], payloads: bool = True
    ) -> list[Prediction]:
        """Each item's prediction, in input order: a payload's own (with ``payloads``), else the model's
        (``predict`` on the rest, in one call) with the rules applied."""
        results: list[Prediction | None] = [None] * len(items)
        todo = []
        for i, item in enumerate(items):
            results[i] = parse_payload(item[0]) if payloads else None
            if results[i] is None:
                todo.append(i)
        if todo:
            for i, prediction in zip(todo, predict([items[i] for i in todo]), strict=True):
                results[i] = self.after_model(prediction)
        return results  # type: ignore[return-value]

    def after_model(self, prediction: Prediction) -> Prediction:
        """Regexes, synonyms and the fallback applied to one prediction of the model."""
        if prediction.intent is None:
            return prediction  # empty text: nothing to extract, nothing to fall back from
        entities = prediction.entities
        if self.regexes:
            entities = self.regexes.add(prediction.text, entities)
        if self.synonyms:
            entities = self.synonyms.apply(entities)
        if entities is not prediction.entities:
            prediction = replace(prediction, entities=entities)
        return self._fallback(prediction)

    def _fallback(self, prediction: Prediction) -> Prediction:
        if self.fallback_threshold is None and self.ambiguity_threshold is None:
            return prediction
        ranking = prediction.ranking
        low = self.fallback_threshold is not None and prediction.intent_confidence < self.fallback_threshold
        ambiguous = (
            self.ambiguity_threshold is not None
            and len(ranking) >= 2
            and ranking[0][1] - ranking[1][1] < self.ambiguity_threshold
        )
        if not (low or ambiguous):
            return prediction
        confidence = (
            self.fallback_threshold if self.fallback_threshold is not None else prediction.intent_confidence
        )
        return replace(
            prediction,
            intent=FALLBACK_INTENT,
            intent_confidence=confidence,
            ranking=[(FALLBACK_INTENT, confidence), *ranking],
        )

    def save(self, directory: Path) -> list[str]:
        """The synonym table and the patterns (those there are) into ``directory``; the files written."""
        return [part.save(directory) for part in (self.synonyms, self.regexes) if part]

    @classmethod
    def load(
        cls,
        directory: Path,
        synonyms_file: str | None = SYNONYMS_FILE,
        regexes_file: str | None = REGEXES_FILE,
        required: bool = False,
    ) -> ParseRules:
        """The rules saved in ``directory``; a file named None is not read, and one that does not exist is
        skipped unless ``required`` (an artifact whose manifest names it)."""
        directory = Path(directory)
        parts: dict = {}
        for key, name, kind in (
            ("synonyms", synonyms_file, Synonyms),
            ("regexes", regexes_file, RegexEntities),
        ):
            if name is None:
                continue
            path = directory / name
            if path.is_file():
                parts[key] = kind.load(path)
            elif required:
                raise DamagedModel(f"{path}: missing; the directory is incomplete")
        return cls(**parts)

    @classmethod
    def from_training_data(
        cls, synonym_pairs: Iterable[tuple[str, str]], patterns: Iterable[tuple[str, str]]
    ):
        return cls(Synonyms.from_pairs(synonym_pairs), RegexEntities(tuple(patterns)))
