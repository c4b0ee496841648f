"""Evaluate a model on a data split: predictions -> metrics -> report files."""

from __future__ import annotations

import logging
from pathlib import Path

from nlu.data.example import Example
from nlu.data.labels import LabelVocab
from nlu.evaluation.metrics import EvaluationResult, evaluate_predictions
from nlu.prediction import Prediction

logger = logging.getLogger(__name__)


def _evaluate(
    examples: list[Example], predictions: list[Prediction], vocab: LabelVocab, bootstrap: int = 1000
):
    """Score against the gold labels; labels outside the training vocabulary are listed as unseen."""
    return evaluate_predictions(
        examples,
        predictions,
        known_intents=set(vocab.known_intents),
        known_slot_types=vocab.slot_types,
        bootstrap=bootstrap,
    )


def evaluate_examples(
    model, tokenizer, examples: list[Example], bootstrap: int = 1000, return_predictions: bool = False
) -> EvaluationResult | tuple[EvaluationResult, list[Prediction]]:
    """Predict on the examples' own words and score against their gold labels."""
    from nlu.inference import Predictor

    predictions = Predictor(model, tokenizer).predict_examples(examples)
    vocab = LabelVocab(list(model.config.intent_labels), list(model.config.slot_labels))
    result = _evaluate(examples, predictions, vocab, bootstrap=bootstrap)
    return (result, predictions) if return_predictions else result


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
    model_dir: str | Path, dataset: str, split: str = "test", output_dir: str | Path | None = None
) -> dict:
    """``nlu evaluate``: score a model directory, or an artifact directory from ``nlu export``, on a split; write
    the report to ``output_dir`` (default ``MODEL_DIR/../eval-<dataset>-<split>``). Returns the summary."""
    from nlu.data.registry import load_split, resolve
    from nlu.model_dirs import resolve_model_dir

    found = resolve_model_dir(model_dir)
    model_dir = found.path
    source = resolve(dataset)
    examples = load_split(source, split)
    extra: dict = {}
    if found.kind == "prompt":  # a prompted LLM (nlu.prompting): the same evaluator
        from nlu.prompting.model_dir import load_prompt_predictor

        predictor = load_prompt_predictor(model_dir)
        predictions = predictor.predict_examples(examples)
        result = _evaluate(examples, predictions, LabelVocab(predictor.intent_labels, predictor.slot_labels))
        extra["prompting"] = predictor.stats.to_dict()
    elif found.kind == "artifact":  # an exported artifact, scored through the torch-free runtime
        from nlu.runtime import Parser

        parser = Parser.load(model_dir)
        predictions = parser.parse_words([ex.tokens for ex in examples])
        result = _evaluate(examples, predictions, LabelVocab(parser.intent_labels, parser.slot_labels))
    else:
        from nlu.inference import Predictor

        predictor = Predictor.load(model_dir)
        result, predictions = evaluate_examples(
            predictor.model, predictor.tokenizer, examples, return_predictions=True
        )
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
    extra["truncated_utterances"] = len(truncated)
    name = Path(dataset).name if source.name is None else source.name
    out = Path(output_dir) if output_dir else model_dir.parent / f"eval-{name}-{split}"
    write_evaluation(
        result,
        examples,
        predictions,
        out,
        title=f"{model_dir} on {source.describe()} / {split}",
        extra={"model_dir": str(model_dir), "dataset": dataset, "split": split, **extra},
    )
    summary = result.to_dict()["summary"] | extra
    summary["report_dir"] = str(out)
    return summary
