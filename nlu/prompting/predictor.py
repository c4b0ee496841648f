"""Prompted LLM -> the same :class:`~nlu.prediction.Prediction` as every other model, so one evaluator serves all.

Per utterance: ``k`` demonstrations retrieved from the training pool (nearest by MiniLM embedding), then

* the intent: each intent description is scored as the continuation of the intent prompt when the backend can
  score (a local model: nothing to parse, so nothing can fail to parse), else chosen by number from a
  generated reply (HTTP backends; an unreadable reply is a parse failure and falls back to the first option);
* the slots: one generated reply of ``slot: value`` lines, kept only where a value is a span of the utterance
  (:func:`nlu.prompting.parsing.parse_slots`), then word-level BIO.

:class:`PromptStats` counts parse failures and hallucinated values (proposed values that are not in the
utterance) for the report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from nlu.data.example import Example
from nlu.parser import BatchParser, Item
from nlu.prediction import Prediction, assemble_prediction
from nlu.prompting.backends import Completion
from nlu.prompting.parsing import parse_choice, parse_slots
from nlu.prompting.prompts import (
    NO_SLOTS,
    STOP_SEQUENCES,
    intent_choice_prompt,
    intent_prompt,
    parse_prompt,
    slot_prompt,
)


@dataclass
class PromptStats:
    utterances: int = 0
    intent_parse_failures: int = 0
    slot_parse_failures: int = 0
    values_proposed: int = 0
    values_hallucinated: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        n = max(self.utterances, 1)
        out["parse_failure_rate"] = (self.intent_parse_failures + self.slot_parse_failures) / (2 * n)
        out["hallucination_rate"] = self.values_hallucinated / max(self.values_proposed, 1)
        out["seconds_per_utterance"] = self.seconds / n
        return out


MAX_VALUE_WORDS = 10
CONTENT_FREE = "N/A"  # the utterance calibration scores the options against (Zhao et al. 2021)


def allowed_slot_lines(words: Sequence[str], slot_types: Iterable[str]) -> dict[str, range]:
    """Every reply line a constrained local model may write, with the word positions it covers: ``slot: value``
    for each candidate slot type and each span of the utterance up to ``MAX_VALUE_WORDS`` words that
    :func:`parse_slots` reads back as that very span (not a lone ``&``, which it strips, nor ``nothing``, which
    it reads as no value), and ``none``, which covers every word. Lines covering a shared word exclude each
    other in :meth:`~nlu.prompting.local_backend.TransformersBackend.complete_lines`: a word has one BIO tag, so
    a reply may not give it two slots, nor ``none`` and a slot."""
    words = list(words)
    spans: dict[str, range] = {}
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + MAX_VALUE_WORDS) + 1):
            span = " ".join(words[i:j])
            if span not in spans and parse_slots(f"slot: {span}", words, ["slot"]).spans == [("slot", i, j)]:
                spans[span] = range(i, j)
    lines = {f"{slot}: {span}": spans[span] for slot in slot_types for span in sorted(spans)}
    return {**lines, NO_SLOTS: range(len(words))}


class PromptParser(BatchParser):
    """An LLM prompted for the intent, then for the slots (ILLUMINER-style), as a :class:`nlu.parser.Parser`."""

    batch_size = 1  # an LLM parses one utterance at a time; a batch only groups progress reports
    word_split = "ws_punct_v2"  # an LLM reads the words as typed; apostrophes stay inside them

    def __init__(
        self,
        backend,
        intents: Mapping[str, str],
        slot_types: Mapping[str, str],
        *,
        retriever=None,
        shots: int = 0,
        max_slot_tokens: int = 48,
        slot_types_by_intent: Mapping[str, Sequence[str]] | None = None,
        calibrate: bool = False,
    ):
        """``slot_types_by_intent``: when given, the slot prompt lists only the slot types seen with the predicted
        intent (in the training pool); a shorter prompt is faster and distracts a small model less.

        ``calibrate`` (backends that score): each intent's score is taken relative to its score for the
        content-free utterance ``N/A`` with the same demonstrations (contextual calibration, Zhao et al. 2021),
        so an option the model likes whatever the utterance does not win every time. The packaged SmolLM2 picks
        one intent for nearly every SNIPS utterance without it."""
        self.backend = backend
        self.intents = dict(intents)
        self.slot_types = dict(slot_types)
        self.retriever = retriever
        self.shots = shots if retriever is not None else 0
        self.max_slot_tokens = max_slot_tokens
        self.slot_types_by_intent = {k: list(v) for k, v in (slot_types_by_intent or {}).items()}
        self.calibrate = calibrate
        self._content_free: dict[str, list[float]] = {}  # content-free prompt -> its option scores
        self.intent_labels = ["UNK", *self.intents]
        self.slot_labels = ["UNK", "O", *(f"{p}-{t}" for t in self.slot_types for p in ("B", "I"))]
        self._slot_index = {tag: i for i, tag in enumerate(self.slot_labels)}
        self.stats = PromptStats()

    def _parse_items(self, items: list[Item]) -> list[Prediction]:
        return [self._predict_one(*item) for item in items]

    def _predict_one(self, text: str, words: list[str], offsets: list[tuple[int, int]]) -> Prediction:
        started = time.perf_counter()
        demos = self.retriever.nearest(text, self.shots) if self.shots else []
        intent_probs = self._intent(text, demos)
        candidates = self._candidates(intent_probs)
        reply = self._slot_reply(text, words, candidates, demos, intent_probs)
        parsed = parse_slots(reply.text, list(words), list(candidates))
        self.stats.utterances += 1
        self.stats.slot_parse_failures += int(parsed.failed)
        self.stats.values_proposed += parsed.proposed
        self.stats.values_hallucinated += parsed.hallucinated
        slot_ids = [self._slot_index.get(tag, self._slot_index["O"]) for tag in parsed.tags]
        self.stats.seconds += time.perf_counter() - started
        return assemble_prediction(
            text,
            words,
            offsets,
            list(range(len(words))),  # an LLM reads every word: no sub-tokens, no truncation
            intent_probs,
            slot_ids,
            [1.0] * len(words),
            self.intent_labels,
            self.slot_labels,
        )

    def _slot_reply(
        self,
        text: str,
        words: list[str],
        candidates: Mapping[str, str],
        demos: Sequence[Example],
        intent_probs: Sequence[float],
    ) -> Completion:
        """The reply holding the slot lines: the slot prompt's, decoded within the grammar of ``slot: span``
        lines by a local model, generated freely (and stopped) by a server."""
        prompt = slot_prompt(text, candidates, demos)
        if hasattr(self.backend, "complete_lines"):  # a local model: decoding keeps to "slot: span" lines
            return self.backend.complete_lines(
                prompt, allowed_slot_lines(words, candidates), max_tokens=self.max_slot_tokens
            )
        return self.backend.complete([prompt], max_tokens=self.max_slot_tokens, stop=list(STOP_SEQUENCES))[0]

    def _best_intent(self, intent_probs: Sequence[float]) -> str:
        return self.intent_labels[max(range(1, len(intent_probs)), key=lambda k: intent_probs[k])]

    def _candidates(self, intent_probs: Sequence[float]) -> dict[str, str]:
        """The slot types the slot prompt lists: those of the predicted intent, or all of them."""
        if not self.slot_types_by_intent:
            return self.slot_types
        names = self.slot_types_by_intent.get(self._best_intent(intent_probs))
        return {n: self.slot_types[n] for n in names if n in self.slot_types} if names else self.slot_types

    def _content_free_scores(self, demos: Sequence[Example]) -> list[float]:
        """The option scores for the utterance ``N/A`` with these demonstrations (kept for the next utterance
        retrieving the same ones; with no demonstrations, computed once)."""
        prompt, options = intent_prompt(CONTENT_FREE, self.intents, demos)
        if prompt not in self._content_free:
            if len(self._content_free) > 64:
                self._content_free.clear()
            self._content_free[prompt] = self.backend.score(prompt, options)
        return self._content_free[prompt]

    def _intent(self, text: str, demos: Sequence[Example]) -> list[float]:
        """Probabilities over ``intent_labels`` (UNK first, always 0)."""
        if hasattr(self.backend, "score"):
            prompt, options = intent_prompt(text, self.intents, demos)
            scores = self.backend.score(prompt, options)
            if self.calibrate:
                scores = [s - c for s, c in zip(scores, self._content_free_scores(demos), strict=True)]
            top = max(scores)
            exp = [math.exp(s - top) for s in scores]
            return [0.0, *(e / sum(exp) for e in exp)]
        prompt, options = intent_choice_prompt(text, self.intents, demos)
        reply = self.backend.complete([prompt], max_tokens=8, stop=list(STOP_SEQUENCES))[0]
        choice = parse_choice(reply.text, len(options))
        if choice is None:
            self.stats.intent_parse_failures += 1
            choice = 1
        return [0.0, *(1.0 if i == choice else 0.0 for i in range(1, len(options) + 1))]


class FinetunedPromptParser(PromptParser):
    """An LLM fine-tuned on the training split (``model.prompting.finetune``, :mod:`nlu.prompting.finetune`) as a
    :class:`nlu.parser.Parser`: one prompt per utterance (:func:`nlu.prompting.prompts.parse_prompt`), answered
    by the intent's name and the slot lines. The intent is the name the model finds most likely after the
    prompt (scored, so it always parses); the slot lines follow that name, decoded within the grammar of
    ``slot: span`` lines of the utterance's words (the slot types seen with that intent in training, with
    ``slot_types_by_intent``), and read back by :func:`nlu.prompting.parsing.parse_slots`. Local backends only."""

    def __init__(
        self,
        backend,
        intents: Mapping[str, str],
        slot_types: Mapping[str, str],
        *,
        max_slot_tokens: int = 64,
        slot_types_by_intent: Mapping[str, Sequence[str]] | None = None,
    ):
        super().__init__(
            backend,
            intents,
            slot_types,
            max_slot_tokens=max_slot_tokens,
            slot_types_by_intent=slot_types_by_intent,
        )

    def _intent(self, text: str, demos: Sequence[Example]) -> list[float]:
        """Probabilities over ``intent_labels`` (UNK first, always 0): a softmax of each name's mean
        log-probability per token as the reply's start."""
        user, system = parse_prompt(text)
        scores = self.backend.score(user, list(self.intents), system=system)
        top = max(scores)
        exp = [math.exp(score - top) for score in scores]
        return [0.0, *(e / sum(exp) for e in exp)]

    def _slot_reply(
        self,
        text: str,
        words: list[str],
        candidates: Mapping[str, str],
        demos: Sequence[Example],
        intent_probs: Sequence[float],
    ) -> Completion:
        user, system = parse_prompt(text)
        return self.backend.complete_lines(
            user,
            allowed_slot_lines(words, candidates),
            max_tokens=self.max_slot_tokens,
            system=system,
            reply_prefix=f" {self._best_intent(intent_probs)}\n",
        )


PromptPredictor = PromptParser  # the name this class had before the Parser protocol
