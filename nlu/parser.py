"""One parser interface: :class:`Parser`, what every kind of model gives the rest of the toolkit, and
:func:`load_parser`, which opens any model directory as one.

Three implementations share the verbs: a trained torch model (:class:`nlu.inference.TorchParser`), an exported
artifact on onnxruntime (:class:`nlu.runtime.OnnxParser`, no torch) and a prompted LLM
(:class:`nlu.prompting.predictor.PromptParser`). Each gives the same :class:`~nlu.prediction.Prediction` for
the same decisions, so one evaluator, one command line and one server serve all three::

    from nlu import load_parser
    parser = load_parser("runs/atis/best")         # or an artifact directory, or a prompted LLM
    parser.parse("show me flights from boston to denver").to_dict()
    parser.parse_batch(["play some jazz", "wake me at 7"])

Torch-free: the runtime imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from nlu.data.alignment import WORD_SPLIT_RULE, first_subtoken_mask, offsets_for_tokens, split_words
from nlu.data.example import Example
from nlu.data.lexicon import Gazetteer, extra_inputs
from nlu.decoding import decode
from nlu.modules.crf_numpy import NumpyCRF
from nlu.prediction import Prediction, assemble_prediction
from nlu.rules import Item, ParseRules  # Item: (text, words, character span of each word)


@runtime_checkable
class Parser(Protocol):
    """What a model parses with: raw text (split into words by the model's rule, ``nlu.data.alignment``) or
    pre-tokenised words, one :class:`Prediction` per utterance, in input order."""

    intent_labels: list[str]  # index 0 is UNK, never predicted
    slot_labels: list[str]  # BIO tags; index 0 is UNK

    def parse(self, text: str) -> Prediction:
        """Parse one raw utterance.

        ``text`` is split into words by the ``ws_punct_v1`` rule; entity ``start``/``end`` are character offsets
        into ``text`` itself. Empty or white-space text gives ``intent=None`` and no entities without running
        the model; a button payload (``/intent{"entity": "value"}``) gives that intent at confidence 1.0; the
        model's entities then get the regexes, synonyms and fallback of :mod:`nlu.rules`. Words past the model's
        maximum length are tagged ``O`` and the prediction says ``truncated``. Returns a :class:`Prediction`
        (``.to_dict()`` is Rasa's parse result)."""
        ...

    def parse_batch(self, texts: Sequence[str], batch_size: int | None = None) -> list[Prediction]:
        """Parse raw utterances: one :class:`Prediction` each, in input order, as :meth:`parse` gives it.

        ``texts``: a sequence of strings; a single string is one utterance, not one per character.
        ``batch_size``: utterances per model call (default: the parser's), grouped by length to pad less; it
        changes speed and memory, not the predictions."""
        ...

    def parse_words(
        self, words_batch: Sequence[Sequence[str]], batch_size: int | None = None
    ) -> list[Prediction]:
        """Parse pre-tokenised utterances (evaluation): one list of words each, used as they are; the words are
        joined with single spaces for the offsets. Payloads are not looked for here."""
        ...


def items_from_texts(texts: str | Sequence[str], rule: str = WORD_SPLIT_RULE) -> list[Item]:
    """Raw text split into words by the model's word splitting ``rule`` (``nlu.data.alignment``). A single string
    is one utterance: a parser's batch verb given ``"book a flight"`` parses one utterance, not thirteen
    one-character ones."""
    if isinstance(texts, str):
        texts = [texts]
    items = []
    for text in texts:
        words = split_words(text, rule)
        items.append((text, [w for w, _, _ in words], [(s, e) for _, s, e in words]))
    return items


def items_from_words(words_batch: Sequence[Sequence[str]]) -> list[Item]:
    """Pre-tokenised utterances: the words joined with single spaces give the offsets. Raises ``TypeError`` for
    one utterance's words (a list of strings) where a batch of them belongs."""
    if isinstance(words_batch, str) or any(isinstance(words, str) for words in words_batch):
        raise TypeError(
            "expected a batch of word lists, e.g. [['book', 'a', 'flight']]; for raw text use the parser's "
            "parse/parse_batch"
        )
    items = []
    for words in words_batch:
        text, offsets = offsets_for_tokens(words)
        items.append((text, list(words), offsets))
    return items


def predict_in_batches(
    items: Sequence[Item], batch_size: int, predict_batch: Callable[[list[Item]], list[Prediction]]
) -> list[Prediction]:
    """Empty utterances get a prediction with no intent and no entities without reaching the model; the rest go
    to ``predict_batch`` in batches of similar length (less padding), and come back in input order."""
    results: list[Prediction | None] = [None] * len(items)
    todo = []
    for i, (text, words, _) in enumerate(items):
        if words:
            todo.append(i)
        else:
            results[i] = Prediction(text=text, intent=None, intent_confidence=0.0)
    todo.sort(key=lambda i: len(items[i][1]))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        for i, prediction in zip(chunk, predict_batch([items[i] for i in chunk]), strict=True):
            results[i] = prediction
    return results  # type: ignore[return-value]


class BatchParser:
    """The three verbs of :class:`Parser` in terms of one method, ``_parse_items`` (a batch of items ->
    predictions); subclasses set ``intent_labels``, ``slot_labels`` and ``batch_size``, and ``rules`` (the
    payloads, regexes, synonyms and fallback of :mod:`nlu.rules`) where the model has more than the default."""

    intent_labels: list[str]
    slot_labels: list[str]
    batch_size: int = 32
    word_split: str = WORD_SPLIT_RULE  # how raw text is split into words (the model's rule)
    rules: ParseRules = ParseRules()

    def parse(self, text: str) -> Prediction:
        """One raw utterance -> its :class:`Prediction` (see :meth:`Parser.parse`)."""
        return self.parse_batch([text])[0]

    def parse_batch(self, texts: str | Sequence[str], batch_size: int | None = None) -> list[Prediction]:
        """Raw utterances -> predictions in input order; a single string is one utterance. ``batch_size``:
        utterances per model call (default: the parser's). See :meth:`Parser.parse_batch`."""
        size = batch_size or self.batch_size
        return self.rules.parse(
            items_from_texts(texts, self.word_split),
            lambda items: predict_in_batches(items, size, self._parse_items),
        )

    def parse_words(
        self, words_batch: Sequence[Sequence[str]], batch_size: int | None = None
    ) -> list[Prediction]:
        """Pre-tokenised utterances (evaluation) -> predictions in input order; no payloads."""
        size = batch_size or self.batch_size
        return self.rules.parse(
            items_from_words(words_batch),
            lambda items: predict_in_batches(items, size, self._parse_items),
            payloads=False,
        )

    def _parse_items(self, items: list[Item]) -> list[Prediction]:
        raise NotImplementedError

    # The verbs of the predictors these classes were before the Parser protocol, kept for callers of that API.
    def predict(self, texts: str | Sequence[str]) -> list[Prediction]:
        """Raw utterances (a single string is one): the same as ``parse_batch``."""
        return self.parse_batch(texts)

    def predict_examples(self, examples: Sequence[Example]) -> list[Prediction]:
        """The examples' own words: the same as ``parse_words``."""
        return self.parse_words([ex.tokens for ex in examples])


def encode_words(
    tokenizer,
    words_batch: Sequence[Sequence[str]],
    input_names: Sequence[str],
    pad_id: int = 0,
    gazetteer: Gazetteer | None = None,
) -> tuple[dict[str, np.ndarray], list[list[int | None]]]:
    """A joint model's inputs for a batch of word lists, right-padded to the longest: ``input_ids``,
    ``attention_mask`` and ``token_type_ids`` (batch, width) int64, and ``word_mask`` / ``lexicon_features``
    where ``input_names`` has them; and the word index of every sub-token (None for special tokens).

    ``tokenizer``: a ``tokenizers.Tokenizer`` with the model's truncation and no padding (the torch model's
    fast tokenizer's backend, or an artifact's tokenizer.json). Only the names in ``input_names`` are returned.
    """
    encodings = tokenizer.encode_batch([list(words) for words in words_batch], is_pretokenized=True)
    width = max(len(e.ids) for e in encodings)
    batch = len(encodings)
    feeds = {
        "input_ids": np.full((batch, width), pad_id, dtype=np.int64),
        "attention_mask": np.zeros((batch, width), dtype=np.int64),
        "token_type_ids": np.zeros((batch, width), dtype=np.int64),
    }
    for b, e in enumerate(encodings):
        n = len(e.ids)
        feeds["input_ids"][b, :n] = e.ids
        feeds["attention_mask"][b, :n] = 1
        feeds["token_type_ids"][b, :n] = e.type_ids
    word_ids = [list(e.word_ids) for e in encodings]
    padded = [ids + [None] * (width - len(ids)) for ids in word_ids]
    feeds.update(extra_inputs(input_names, words_batch, padded, width, gazetteer))
    return {name: feeds[name] for name in input_names}, word_ids


class LogitsParser(BatchParser):
    """A parser whose model gives intent and slot logits (the torch model, the exported graph): subclasses
    implement :meth:`logits`; decoding (:func:`nlu.decoding.decode`) and assembling each prediction are shared.
    Subclasses set ``crf`` (a :class:`NumpyCRF` or None) too."""

    crf: NumpyCRF | None = None

    def logits(
        self, words_batch: Sequence[Sequence[str]]
    ) -> tuple[np.ndarray, np.ndarray, list[list[int | None]]]:
        """intent_logits (batch, num_intents), slot_logits (batch, seq_len, num_tags) and the word index of
        every sub-token, for a batch of word lists."""
        raise NotImplementedError

    def _parse_items(self, items: list[Item]) -> list[Prediction]:
        intent_logits, slot_logits, word_ids = self.logits([words for _, words, _ in items])
        positions = [[p for p, keep in enumerate(first_subtoken_mask(ids)) if keep] for ids in word_ids]
        decoded = decode(intent_logits, slot_logits, positions, self.crf)
        return [
            assemble_prediction(
                text,
                words,
                offsets,
                word_ids[b],
                decoded.intent_probs[b],
                decoded.slot_ids[b],
                decoded.slot_confidences[b],
                self.intent_labels,
                self.slot_labels,
            )
            for b, (text, words, offsets) in enumerate(items)
        ]


def load_parser(
    path: str | Path,
    *,
    batch_size: int = 32,
    labels: str | Path | None = None,
    unseen_intent_bonus: float | None = None,
    unseen_slot_bonus: float | None = None,
    num_threads: int | None = None,
    task: str | None = None,
    fallback_threshold: float | None = None,
    ambiguity_threshold: float | None = None,
) -> Parser:
    """The parser for any model directory: a trained model (``RUN/best``, or the run directory ``RUN``), an
    artifact written by ``nlu export`` (needs only the runtime extra) or a prompted LLM. ``task``: which task of
    a multi-task model (required for one, refused for any other; an artifact exported from one task says which).

    ``labels``: a YAML label file that gives a zero-shot model a new label set, with ``unseen_intent_bonus`` and
    ``unseen_slot_bonus`` (None: the model's) for the labels training never saw; an artifact's label set was
    fixed at export. ``num_threads``: onnxruntime threads for an artifact (default: all cores).
    ``fallback_threshold``/``ambiguity_threshold``: answer ``nlu_fallback`` below that intent confidence, or when
    the top two intents are closer than that (Rasa's FallbackClassifier; see :mod:`nlu.rules`); None: off.
    Raises :class:`nlu.errors.ModelError` (or ``ArtifactError``) saying what the directory is instead."""
    from nlu.errors import ModelError
    from nlu.model_dirs import resolve_model_dir

    found = resolve_model_dir(path)
    new_labels = labels is not None or (unseen_intent_bonus, unseen_slot_bonus) != (None, None)
    if new_labels and found.kind != "model":
        raise ModelError(
            f"--labels: {found.path} is {'an exported artifact' if found.kind == 'artifact' else 'a prompted LLM'}, "
            "whose label set is fixed; give the trained model (RUN/best), or export the model again with "
            "`nlu export MODEL OUT --labels FILE`"
        )
    parser: BatchParser
    if found.kind == "prompt":
        if task is not None:
            raise ModelError(f"--task {task}: {found.path} is a prompted LLM, which has one task")
        from nlu.prompting.model_dir import load_prompt_parser

        parser = load_prompt_parser(found.path)
    elif found.kind == "artifact":
        from nlu.runtime import OnnxParser

        parser = OnnxParser.load(found.path, num_threads=num_threads, batch_size=batch_size)
        exported = parser.manifest.get("task")
        if task is not None and task != exported:
            raise ModelError(
                f"--task {task}: {found.path} was exported "
                + (f"from task {exported!r}" if exported else "from a single-task model")
                + "; an artifact holds one task (export each with `nlu export MODEL OUT --task NAME`)"
            )
    else:
        from nlu.inference import TorchParser

        parser = TorchParser.load(
            found.path,
            batch_size=batch_size,
            labels=labels,
            unseen_intent_bonus=unseen_intent_bonus,
            unseen_slot_bonus=unseen_slot_bonus,
            task=task,
        )
    if (fallback_threshold, ambiguity_threshold) != (None, None):
        parser.rules = parser.rules.with_fallback(fallback_threshold, ambiguity_threshold)
    return parser
