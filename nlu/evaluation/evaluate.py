"""Evaluate any parser on a data split: predictions -> metrics -> report files.

Every kind of model is scored the same way: :func:`nlu.parser.load_parser` opens it, ``parse_words`` parses the
split's own words, and the metrics and report do not know which kind it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from nlu.data.example import Example
from nlu.data.labels import LabelVocab
from nlu.evaluation.metrics import EvaluationResult, evaluate_predictions
from nlu.parser import Parser
from nlu.prediction import Prediction

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # (what, done, total)


def evaluate_parser(
    parser: Parser, examples: list[Example], bootstrap: int = 1000, progress: Progress | None = None
) -> tuple[EvaluationResult, list[Prediction]]:
    """Parse the examples' own words and score them against their gold labels; intents and slot types outside
    the parser's vocabulary are listed as unseen. ``progress("parse", done, total)`` is called after every
    batch of utterances."""
    predictions = _parse_words(parser, [ex.tokens for ex in examples], progress)
    vocab = LabelVocab(list(parser.intent_labels), list(parser.slot_labels))
    result = evaluate_predictions(
        examples,
        predictions,
        known_intents=set(vocab.known_intents),
        known_slot_types=vocab.slot_types,
        bootstrap=bootstrap,
    )
    return result, predictions


def _parse_words(parser: Parser, words: list[list[str]], progress: Progress | None) -> list[Prediction]:
    """``parser.parse_words(words)``; with ``progress``, one batch at a time in the order the parser would batch
    them (by length), so that the batches, and so the predictions, are the same."""
    if progress is None:
        return parser.parse_words(words)
    size = max(int(getattr(parser, "batch_size", 32) or 32), 1)
    order = sorted(range(len(words)), key=lambda i: len(words[i]))
    predictions: list[Prediction | None] = [None] * len(words)
    progress("parse", 0, len(words))
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        for i, prediction in zip(chunk, parser.parse_words([words[i] for i in chunk]), strict=True):
            predictions[i] = prediction
        progress("parse", min(start + size, len(order)), len(words))
    return predictions  # type: ignore[return-value]


def write_evaluation(
    result: EvaluationResult,
    examples: list[Example],
    predictions: list[Prediction],
    out_dir: Path,
    title: str,
    extra: dict | None = None,
) -> None:
    from nlu.evaluation.report import write_report

    write_report(result, examples, predictions, Path(out_dir), title=title, extra=extra)


def evaluate(
    model_dir: str | Path,
    dataset: str,
    split: str = "test",
    output_dir: str | Path | None = None,
    task: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """``nlu evaluate``: score a model directory, an artifact directory from ``nlu export`` or a prompted LLM
    on a split; write the report to ``output_dir`` (default ``MODEL_DIR/../eval-<dataset>-<split>``, with
    ``-<task>`` for one task of a multi-task model). Returns the summary. ``progress(what, done, total)``
    follows the parsing (the command line draws it)."""
    from nlu.data.registry import load_split, resolve
    from nlu.model_dirs import resolve_model_dir
    from nlu.parser import load_parser

    model_dir = resolve_model_dir(model_dir).path
    source = resolve(dataset)
    examples = load_split(source, split)
    parser = load_parser(model_dir, task=task)
    result, predictions = evaluate_parser(parser, examples, progress=progress)
    extra: dict = {}
    if hasattr(parser, "stats"):  # a prompted LLM: its parse failures and time per utterance
        extra["prompting"] = parser.stats.to_dict()
    extra["truncated_utterances"] = _count_truncated(predictions)
    name = Path(dataset).name if source.name is None else source.name
    suffix = f"-{task}" if task else ""
    out = Path(output_dir) if output_dir else model_dir.parent / f"eval-{name}-{split}{suffix}"
    write_evaluation(
        result,
        examples,
        predictions,
        out,
        title=f"{model_dir}{f' (task {task})' if task else ''} on {source.describe()} / {split}",
        extra={"model_dir": str(model_dir), "dataset": dataset, "split": split, **extra}
        | ({"task": task} if task else {}),
    )
    summary = result.to_dict()["summary"] | extra
    summary["report_dir"] = str(out)
    return summary


def _count_truncated(predictions: list[Prediction]) -> int:
    """How many utterances were longer than the model reads; said once, in a warning."""
    truncated = [p for p in predictions if p.truncated]
    if truncated:
        logger.warning(
            "%d of %d utterances are longer than the model reads (the longest has %d words, the model read %d of "
            "them); their last words are tagged O and count as errors where they hold slots",
            len(truncated),
            len(predictions),
            max(len(p.tokens) for p in truncated),
            min(p.words_used for p in truncated),
        )
    return len(truncated)
