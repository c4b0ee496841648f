"""``nlu predict`` and ``nlu evaluate``: any model directory, through the one parser interface."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from nlu.cli.app import (
    IntentBonusOption,
    JsonOption,
    SlotBonusOption,
    TaskOption,
    app,
    echo_json,
    open_parser,
    progress_bars,
)
from nlu.errors import NLUError


@app.command()
def predict(
    model_dir: Path = typer.Argument(
        ..., help="A model directory, or an artifact directory from nlu export."
    ),
    texts: list[str] | None = typer.Argument(None, help="Utterances to parse.", show_default=False),
    input: str | None = typer.Option(
        None, "--input", "-i", help="A file with one utterance a line, or - for stdin."
    ),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    labels: Path | None = typer.Option(
        None,
        "--labels",
        help="Zero-shot models: a YAML file of intents and slot types with descriptions to use.",
    ),
    intent_bonus: float | None = IntentBonusOption,
    slot_bonus: float | None = SlotBonusOption,
    task: str | None = TaskOption,
) -> None:
    """Parse utterances; print one JSON object per utterance (intent, ranking, entities with offsets).

    MODEL_DIR is a trained model directory or an artifact directory written by `nlu export`."""
    lines = list(texts or [])
    if input is not None:
        lines.extend(utterance_lines(_read_stdin() if input == "-" else _read_text(Path(input))))
    if not lines:
        raise NLUError("nothing to parse: give utterances as arguments or --input FILE (- for stdin)")
    parser = open_parser(model_dir, batch_size, labels, bonuses=(intent_bonus, slot_bonus), task=task)
    predictions = parser.parse_batch(lines, batch_size=batch_size)
    for prediction in predictions:
        echo_json(prediction.to_dict())


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A model directory, e.g. runs/quickstart/best."),
    data: str = typer.Option(..., "--data", "-d", help="A data set name (atis, snips, demo) or folder."),
    split: str = typer.Option("test", "--split", help="Which split to score."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Report folder (default: beside the model)."
    ),
    task: str | None = TaskOption,
    as_json: bool = JsonOption,
) -> None:
    """Score a model or an exported artifact: intent accuracy, slot P/R/F1, exact match (each ± standard
    error), per-intent and per-slot tables, report.md and plots."""
    from nlu.evaluation.evaluate import evaluate as run

    with progress_bars() as progress:
        s = run(model_dir, data, split, output, task=task, progress=progress)
    if as_json:
        echo_json(
            s
            | {"dataset": data, "split": split, "report": str(Path(s["report_dir"]) / "report.md")}
            | ({"task": task} if task else {})
        )
        return
    typer.echo(f"{data} / {split}{f' (task {task})' if task else ''}: {s['n']} utterances")
    for key in ("intent_accuracy", "slot_precision", "slot_recall", "slot_f1", "exact_match"):
        se = s.get(f"{key}_se")
        typer.echo(f"  {key:16s} {100 * s[key]:6.2f}" + (f" ± {100 * se:.2f}" if se is not None else ""))
    if "prompting" in s:
        p = s["prompting"]
        typer.echo(
            f"  parse failures {100 * p['parse_failure_rate']:.2f}%, hallucinated values "
            f"{100 * p['hallucination_rate']:.2f}%, {p['seconds_per_utterance']:.2f} s per utterance"
        )
    if s.get("truncated_utterances"):
        typer.echo(f"  {s['truncated_utterances']} utterances were longer than the model reads (cut off)")
    typer.echo(f"report: {Path(s['report_dir']) / 'report.md'}")


def utterance_lines(text: str) -> list[str]:
    """One utterance per ``\n``-terminated line (a CRLF's ``\r`` dropped). Only ``\n`` ends a line: form
    feeds, vertical tabs, ``\x1c``-``\x1e``, ``\x85``, ``\u2028`` and ``\u2029`` inside a line are part of it,
    as they are for ``wc -l`` and for a file read from stdin."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    return [line.removesuffix("\r") for line in lines]


def _read_stdin() -> str:
    stream = getattr(sys.stdin, "buffer", None)
    return _decode(stream.read(), "stdin") if stream is not None else sys.stdin.read()


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise NLUError(f"{path}: no such file")
    return _decode(path.read_bytes(), str(path))


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # a BOM is not text
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise NLUError(
            f"{where}:{line}: not valid UTF-8 (byte offset {err.start}); re-encode it as UTF-8"
        ) from None
