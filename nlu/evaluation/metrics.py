"""Intent accuracy, span-level slot precision/recall/F1 and exact match, each with a standard error.

One evaluator serves every backend: gold ``Example``s and ``Prediction``s (torch model, ONNX runtime or LLM)
are aligned by position and compared on the word-level ``tags``.

Slot spans are read with seqeval's ``get_entities`` in its default, conlleval-compatible mode (an ``I-`` tag
after ``O`` opens a span; not the strict IOB2 scheme), so the totals equal ``seqeval.metrics.f1_score``. Where
a denominator is 0 the score is 0, as seqeval and scikit-learn report by default.

Standard errors: the two accuracies use the binomial ``sqrt(p (1 - p) / n)``; slot precision/recall/F1, which
are ratios of sums over sentences, use a bootstrap that resamples whole sentences.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities

from nlu.data.example import Example
from nlu.prediction import Prediction

# How a missing predicted intent (``Prediction.intent is None``, empty input) shows in the confusion matrix.
NO_INTENT = "<none>"

# Upper bound on the number of sampled indices held at once by the bootstrap: (resamples x sentences).
_BOOTSTRAP_CHUNK_ELEMENTS = 2_000_000


@dataclass
class EvaluationResult:
    """Scores of one prediction run against its gold examples.

    Every score is a fraction in [0, 1]; ``*_se`` is its standard error (same unit), ``None`` for the
    slot scores when ``bootstrap=0``.

    ``per_intent`` maps each intent (gold or predicted) to ``support`` (gold count), ``correct``,
    ``accuracy`` (correct / support), ``predicted`` and the intent's ``precision``/``recall``/``f1`` as a
    class; ``per_slot`` maps each slot type to ``support`` (gold spans), ``predicted``, ``correct``,
    ``precision``, ``recall``, ``f1``. Both are ordered by support, largest first.

    ``confusion_matrix[i][j]`` counts examples with gold intent ``confusion_labels[i]`` predicted as
    ``confusion_labels[j]``; shape (n_labels, n_labels), labels sorted.

    ``n_uncoordinated_tags`` counts predicted ``I-X`` tags that continue no ``X`` span (the first tag, or after
    ``O`` or a tag of another type), and ``n_uncoordinated_examples`` the examples with at least one: the
    inconsistencies a tagger that decides every word independently makes, which a CRF rules out and SlotRefine's
    second pass is meant to repair. The span scores read such a tag as the start of a new span.

    ``unseen_intents``/``unseen_slot_types`` map gold labels missing from the training vocabulary to their
    gold counts (examples for intents, spans for slot types); ``None`` when no vocabulary was given.
    ``unseen_impact`` says how many examples carry them and how many errors they cause.
    """

    n: int
    intent_accuracy: float
    intent_accuracy_se: float
    slot_precision: float
    slot_precision_se: float | None
    slot_recall: float
    slot_recall_se: float | None
    slot_f1: float
    slot_f1_se: float | None
    exact_match: float
    exact_match_se: float
    n_gold_spans: int
    n_pred_spans: int
    n_correct_spans: int
    n_uncoordinated_tags: int
    n_uncoordinated_examples: int
    bootstrap: int
    seed: int
    per_intent: dict[str, dict]
    per_slot: dict[str, dict]
    confusion_labels: list[str]
    confusion_matrix: list[list[int]]
    unseen_intents: dict[str, int] | None
    unseen_slot_types: dict[str, int] | None
    unseen_impact: dict[str, int]

    def summary(self) -> dict:
        """The headline numbers, unrounded."""
        return {
            "n": self.n,
            "intent_accuracy": self.intent_accuracy,
            "intent_accuracy_se": self.intent_accuracy_se,
            "slot_precision": self.slot_precision,
            "slot_precision_se": self.slot_precision_se,
            "slot_recall": self.slot_recall,
            "slot_recall_se": self.slot_recall_se,
            "slot_f1": self.slot_f1,
            "slot_f1_se": self.slot_f1_se,
            "exact_match": self.exact_match,
            "exact_match_se": self.exact_match_se,
            "n_gold_spans": self.n_gold_spans,
            "n_pred_spans": self.n_pred_spans,
            "n_correct_spans": self.n_correct_spans,
            "n_uncoordinated_tags": self.n_uncoordinated_tags,
            "n_uncoordinated_examples": self.n_uncoordinated_examples,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
        }

    def to_dict(self) -> dict:
        """A JSON-serialisable view: ``summary``, ``per_intent``, ``per_slot``, ``confusion``, ``unseen``.

        Floats are rounded to 6 places and stay fractions in [0, 1] (no percentages).
        """
        return _rounded(
            {
                "summary": self.summary(),
                "per_intent": self.per_intent,
                "per_slot": self.per_slot,
                "confusion": {"labels": self.confusion_labels, "matrix": self.confusion_matrix},
                "unseen": {
                    "unseen_intents": self.unseen_intents,
                    "unseen_slot_types": self.unseen_slot_types,
                    **self.unseen_impact,
                },
            }
        )


def is_exact_match(gold: Example, pred: Prediction) -> bool:
    """True when the intent is right and every word-level tag equals the gold tag."""
    return pred.intent == gold.intent and list(pred.tags) == list(gold.tags)


def slot_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The ``(slot_type, first_word, last_word)`` spans of one BIO tag sequence (both ends inclusive).

    conlleval-compatible, as seqeval's default mode: ``["I-city", "I-city"]`` is one ``city`` span.
    """
    return set(get_entities(list(tags)))


def uncoordinated_tags(tags: Sequence[str]) -> int:
    """How many ``I-X`` tags of one BIO sequence continue no ``X`` span: the first tag, or one after ``O``,
    after ``B-Y`` or after ``I-Y`` with ``Y != X``. ``["O", "I-city", "B-city", "I-city", "I-state"]`` has 2."""
    count, previous = 0, "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            count += 1
        previous = tag
    return count


def evaluate_predictions(
    gold: list[Example],
    pred: list[Prediction],
    known_intents: set[str] | None = None,
    known_slot_types: set[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> EvaluationResult:
    """Score ``pred`` against ``gold``, aligned by position.

    ``pred[i].tags`` must be word-level with ``len(gold[i].tags)`` tags. ``known_intents`` and
    ``known_slot_types`` are the training vocabulary: gold labels outside it are listed as unseen and still
    count as errors when missed. ``bootstrap`` is the number of sentence-level resamples for the slot
    standard errors (0 skips them); ``seed`` makes them reproducible.

    Raises ``ValueError`` when the lists differ in length, are empty, or an example's tag counts differ.
    """
    _check_aligned(gold, pred, bootstrap)
    n = len(gold)
    intent_ok = np.array([p.intent == g.intent for g, p in zip(gold, pred, strict=True)], dtype=bool)
    exact_ok = np.array([is_exact_match(g, p) for g, p in zip(gold, pred, strict=True)], dtype=bool)

    # Per-sentence span sets, computed once and reused for totals, per-type tables and the bootstrap.
    gold_spans = [slot_spans(g.tags) for g in gold]
    pred_spans = [slot_spans(p.tags) for p in pred]
    # counts[i] = (correct spans, predicted spans, gold spans) of sentence i; shape (n, 3).
    counts = np.array(
        [(len(gs & ps), len(ps), len(gs)) for gs, ps in zip(gold_spans, pred_spans, strict=True)],
        dtype=np.int64,
    ).reshape(n, 3)
    n_correct_spans, n_pred_spans, n_gold_spans = (int(x) for x in counts.sum(axis=0))
    slot_precision, slot_recall, slot_f1 = _prf(n_correct_spans, n_pred_spans, n_gold_spans)
    if bootstrap > 0:
        slot_precision_se, slot_recall_se, slot_f1_se = _bootstrap_prf_se(counts, bootstrap, seed)
    else:
        slot_precision_se = slot_recall_se = slot_f1_se = None

    intent_accuracy = float(intent_ok.mean())
    exact_match = float(exact_ok.mean())
    uncoordinated = [uncoordinated_tags(p.tags) for p in pred]

    unseen_intents, unseen_slot_types, unseen_impact = _unseen(
        gold, pred, gold_spans, pred_spans, intent_ok, exact_ok, known_intents, known_slot_types
    )
    labels, matrix = _confusion(gold, pred)

    return EvaluationResult(
        n=n,
        intent_accuracy=intent_accuracy,
        intent_accuracy_se=_binomial_se(intent_accuracy, n),
        slot_precision=slot_precision,
        slot_precision_se=slot_precision_se,
        slot_recall=slot_recall,
        slot_recall_se=slot_recall_se,
        slot_f1=slot_f1,
        slot_f1_se=slot_f1_se,
        exact_match=exact_match,
        exact_match_se=_binomial_se(exact_match, n),
        n_gold_spans=n_gold_spans,
        n_pred_spans=n_pred_spans,
        n_correct_spans=n_correct_spans,
        n_uncoordinated_tags=sum(uncoordinated),
        n_uncoordinated_examples=sum(1 for c in uncoordinated if c),
        bootstrap=bootstrap,
        seed=seed,
        per_intent=_per_intent(gold, pred),
        per_slot=_per_slot(gold_spans, pred_spans),
        confusion_labels=labels,
        confusion_matrix=matrix,
        unseen_intents=unseen_intents,
        unseen_slot_types=unseen_slot_types,
        unseen_impact=unseen_impact,
    )


def _check_aligned(gold: list[Example], pred: list[Prediction], bootstrap: int) -> None:
    """Raise ``ValueError`` unless there is one prediction per gold example, with as many tags as its words."""
    if len(gold) != len(pred):
        raise ValueError(
            f"got {len(gold)} gold examples but {len(pred)} predictions; pass one prediction per example, "
            "in the same order"
        )
    if not gold:
        raise ValueError("nothing to evaluate: the gold example list is empty")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0 resamples, got {bootstrap}")
    for g, p in zip(gold, pred, strict=True):
        if len(p.tags) != len(g.tags):
            raise ValueError(
                f"example {g.id!r}: the prediction has {len(p.tags)} word-level tags but the gold example "
                f"has {len(g.tags)}; predictions must be mapped back to the gold words before evaluation"
            )


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _prf(correct: int, predicted: int, support: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; 0 where a denominator is 0 (seqeval's default)."""
    # 2 tp / (n_pred + n_gold) equals 2PR / (P + R) whenever both are defined, and is 0 when tp = 0.
    return _ratio(correct, predicted), _ratio(correct, support), _ratio(2 * correct, predicted + support)


def _bootstrap_prf_se(counts: np.ndarray, bootstrap: int, seed: int) -> tuple[float, float, float]:
    """Standard errors of slot precision, recall and F1 by resampling sentences with replacement.

    ``counts``: (n_sentences, 3) int, the per-sentence (correct, predicted, gold) span counts.
    Returns the standard deviation (ddof=1) of each score over ``bootstrap`` resamples. A resample where a
    score is undefined (no predicted spans for precision, no gold spans for recall, neither for F1) is left
    out of that score's deviation, so a perfect run has standard error 0 even with span-less sentences.
    """
    n = counts.shape[0]
    rng = np.random.default_rng(seed)
    totals = np.empty((bootstrap, 3), dtype=np.float64)
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    for start in range(0, bootstrap, rows_per_chunk):
        stop = min(bootstrap, start + rows_per_chunk)
        idx = rng.integers(0, n, size=(stop - start, n))  # (resamples, n) sentence indices
        totals[start:stop] = counts[idx].sum(axis=1)  # (resamples, n, 3) -> (resamples, 3)
    correct, predicted, support = totals[:, 0], totals[:, 1], totals[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, correct / predicted, np.nan)
        recall = np.where(support > 0, correct / support, np.nan)
        f1 = np.where(predicted + support > 0, 2 * correct / (predicted + support), np.nan)
    return _nan_std(precision), _nan_std(recall), _nan_std(f1)


def _nan_std(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    if defined.size < 2:
        return 0.0
    return float(np.std(defined, ddof=1))


def _sorted_by_support(table: dict[str, dict]) -> dict[str, dict]:
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["support"], kv[0])))


def _intent_label(intent: str | None) -> str:
    return NO_INTENT if intent is None else intent


def _per_intent(gold: list[Example], pred: list[Prediction]) -> dict[str, dict]:
    support = Counter(g.intent for g in gold)
    predicted = Counter(_intent_label(p.intent) for p in pred)
    correct = Counter(g.intent for g, p in zip(gold, pred, strict=True) if p.intent == g.intent)
    table = {}
    for name in set(support) | set(predicted):
        precision, recall, f1 = _prf(correct[name], predicted[name], support[name])
        table[name] = {
            "support": support[name],
            "correct": correct[name],
            "accuracy": recall,
            "predicted": predicted[name],
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    return _sorted_by_support(table)


def _per_slot(
    gold_spans: list[set[tuple[str, int, int]]], pred_spans: list[set[tuple[str, int, int]]]
) -> dict[str, dict]:
    support: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for gs, ps in zip(gold_spans, pred_spans, strict=True):
        support.update(t for t, _, _ in gs)
        predicted.update(t for t, _, _ in ps)
        correct.update(t for t, _, _ in gs & ps)
    table = {}
    for name in set(support) | set(predicted):
        precision, recall, f1 = _prf(correct[name], predicted[name], support[name])
        table[name] = {
            "support": support[name],
            "predicted": predicted[name],
            "correct": correct[name],
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    return _sorted_by_support(table)


def _confusion(gold: list[Example], pred: list[Prediction]) -> tuple[list[str], list[list[int]]]:
    pairs = [(g.intent, _intent_label(p.intent)) for g, p in zip(gold, pred, strict=True)]
    labels = sorted({name for pair in pairs for name in pair})
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in pairs:
        matrix[index[g], index[p]] += 1
    return labels, matrix.tolist()


def _unseen(
    gold: list[Example],
    pred: list[Prediction],
    gold_spans: list[set[tuple[str, int, int]]],
    pred_spans: list[set[tuple[str, int, int]]],
    intent_ok: np.ndarray,
    exact_ok: np.ndarray,
    known_intents: Iterable[str] | None,
    known_slot_types: Iterable[str] | None,
) -> tuple[dict[str, int] | None, dict[str, int] | None, dict[str, int]]:
    """Gold labels outside the training vocabulary and the errors they cause.

    They stay in every score: a model cannot predict a label it never saw, and dropping those examples
    would flatter it.
    """
    n = len(gold)
    has_unseen_intent = np.zeros(n, dtype=bool)
    has_unseen_slot = np.zeros(n, dtype=bool)
    unseen_intents = unseen_slot_types = None
    missed_unseen_spans = 0

    if known_intents is not None:
        known = set(known_intents)
        has_unseen_intent = np.array([g.intent not in known for g in gold], dtype=bool)
        unseen_intents = dict(
            sorted(
                Counter(g.intent for g in gold if g.intent not in known).items(),
                key=lambda kv: (-kv[1], kv[0]),
            )
        )

    if known_slot_types is not None:
        known = set(known_slot_types)
        unseen_counter: Counter[str] = Counter()
        for i, (gs, ps) in enumerate(zip(gold_spans, pred_spans, strict=True)):
            unseen = {s for s in gs if s[0] not in known}
            if unseen:
                has_unseen_slot[i] = True
                unseen_counter.update(t for t, _, _ in unseen)
                missed_unseen_spans += len(unseen - ps)
        unseen_slot_types = dict(sorted(unseen_counter.items(), key=lambda kv: (-kv[1], kv[0])))

    has_unseen = has_unseen_intent | has_unseen_slot
    impact = {
        "examples_with_unseen_intent": int(has_unseen_intent.sum()),
        "intent_errors_from_unseen": int((has_unseen_intent & ~intent_ok).sum()),
        "examples_with_unseen_slot_type": int(has_unseen_slot.sum()),
        "spans_of_unseen_slot_type": int(sum(unseen_slot_types.values())) if unseen_slot_types else 0,
        "missed_spans_of_unseen_slot_type": missed_unseen_spans,
        "examples_with_unseen_label": int(has_unseen.sum()),
        "exact_match_errors_from_unseen": int((has_unseen & ~exact_ok).sum()),
    }
    return unseen_intents, unseen_slot_types, impact


def _rounded(value):
    """``value`` with every float rounded to 6 places and numpy scalars turned into Python ones."""
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    return value
