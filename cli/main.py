"""The ``nlu`` command line: one thin function per command; the work happens in importable library functions.

Heavy imports (torch, transformers) happen inside the commands, so ``nlu --help`` and ``nlu validate`` are fast.
Library code raises :class:`nlu.errors.NLUError`; only :func:`main` turns it into a message and an exit code.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer

from nlu.errors import InterruptedRun, MissingDependency, NLUError, TemplateError

app = typer.Typer(
    name="nlu",
    help="Intent detection and slot filling: train, evaluate, predict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
generate_app = typer.Typer(
    help="Generate text: replies from templates, descriptions of records.", no_args_is_help=True
)
app.add_typer(generate_app, name="generate")

SetOption = typer.Option(
    None, "--set", help="Override a recipe key: --set training.epochs=3 (repeatable).", show_default=False
)
# zero-shot models, with --labels: calibrated stacking for the labels training never saw
IntentBonusOption = typer.Option(
    None,
    "--unseen-intent-bonus",
    min=0.0,
    max=2.0,
    help="With --labels: the cosine added to intents the model never saw in training (default: the model's, "
    "0 unless its recipe said otherwise).",
)
SlotBonusOption = typer.Option(
    None,
    "--unseen-slot-bonus",
    min=0.0,
    max=2.0,
    help="With --labels: the cosine added to slot types the model never saw in training (default: the model's).",
)


# Line breaks to str.splitlines and to some JSON-lines readers, though JSON allows them raw: escaped, so that
# one object is always one line of output.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _echo_json(obj: dict) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKS))


@app.command()
def train(
    recipe: Path = typer.Argument(..., help="The YAML recipe, e.g. recipes/quickstart.yaml."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Run directory (default: the recipe's)."),
    overrides: list[str] | None = SetOption,
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted run from its last checkpoint."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Start over in a run directory that holds a run."
    ),
) -> None:
    """Train a model from a recipe; the run directory gets the best model, metrics and a dev report."""
    from nlu.training.trainer import train as run

    result = run(recipe, overrides or [], output_dir=output, resume=resume, overwrite=overwrite)
    typer.echo(f"best model: {result.best_model_dir}  (training took {result.train_seconds:.0f} s)")
    shown = {k: v for k, v in result.dev_metrics.items() if isinstance(v, float) and not k.endswith("_se")}
    if shown:
        keys = [k for k in ("intent_accuracy", "slot_f1", "exact_match") if k in shown] or list(shown)
        typer.echo("dev: " + ", ".join(f"{k.replace('_', ' ')} {shown[k]:.4f}" for k in keys))
    if (result.run_dir / "report" / "report.md").is_file():
        typer.echo(f"report: {result.run_dir / 'report' / 'report.md'}")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A model directory, e.g. runs/quickstart/best."),
    data: str = typer.Option(..., "--data", "-d", help="A data set name (atis, snips, demo) or folder."),
    split: str = typer.Option("test", "--split", help="Which split to score."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Report folder (default: beside the model)."
    ),
) -> None:
    """Score a model or an exported artifact: intent accuracy, slot P/R/F1, exact match (each ± standard
    error), per-intent and per-slot tables, report.md and plots."""
    from nlu.evaluation.evaluate import evaluate as run

    s = run(model_dir, data, split, output)
    typer.echo(f"{data} / {split}: {s['n']} utterances")
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
) -> None:
    """Parse utterances; print one JSON object per utterance (intent, ranking, entities with offsets).

    MODEL_DIR is a trained model directory or an artifact directory written by `nlu export`."""
    lines = list(texts or [])
    if input is not None:
        lines.extend(utterance_lines(_read_stdin() if input == "-" else _read_text(Path(input))))
    if not lines:
        raise NLUError("nothing to parse: give utterances as arguments or --input FILE (- for stdin)")
    parser = _load_parser(model_dir, batch_size, labels, bonuses=(intent_bonus, slot_bonus))
    predictions = parser.parse_batch(lines, batch_size=batch_size)
    for prediction in predictions:
        _echo_json(prediction.to_dict())


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


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="A trained model directory, e.g. runs/atis/best."),
    out_dir: Path = typer.Argument(..., help="The artifact directory to write."),
    quantize: str = typer.Option("none", "--quantize", help="none or int8 (dynamic, per-channel)."),
    optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="onnxruntime transformer fusions."),
    data: str | None = typer.Option(None, "--data", "-d", help="Check (and score) on this data set's split."),
    split: str = typer.Option("dev", "--split", help="The split --data uses."),
    labels: Path | None = typer.Option(
        None, "--labels", help="Zero-shot models: export with this YAML label set (intents, slot types)."
    ),
    intent_bonus: float | None = IntentBonusOption,
    slot_bonus: float | None = SlotBonusOption,
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace OUT_DIR even if it is a file or a folder that is not an artifact."
    ),
) -> None:
    """Export to ONNX for the torch-free runtime; checks ONNX against torch and writes nothing on a mismatch.

    OUT_DIR may be new, empty, or an artifact from an earlier export (replaced); anything else needs
    --overwrite, and the directory holding the model is never replaced."""
    from nlu.export import export_model

    report = export_model(
        model_dir,
        out_dir,
        quantize=quantize,
        optimize=optimize,
        data=data,
        split=split,
        labels=labels,
        unseen_intent_bonus=intent_bonus,
        unseen_slot_bonus=slot_bonus,
        overwrite=overwrite,
    )
    parity = report["parity"]
    typer.echo(
        f"wrote {out_dir} ({report['model_bytes'] / 1e6:.1f} MB, quantization {quantize}); checked on "
        f"{parity['utterances']} utterances ({report['check_data']}): max |logit diff| "
        f"{parity['max_abs_logit_difference']:.2e}, intent agreement {parity['intent_agreement']:.4f}, "
        f"slot tag agreement {parity['slot_tag_agreement']:.4f}"
    )
    for name, scores in report.get("scores", {}).items():
        typer.echo(
            f"  {name:5s} intent accuracy {scores['intent_accuracy']:.4f}  slot F1 {scores['slot_f1']:.4f}  "
            f"exact match {scores['exact_match']:.4f}"
        )


@app.command()
def serve(
    artifact_dir: Path = typer.Argument(..., help="An artifact directory written by nlu export."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(5005, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    threads: int = typer.Option(1, "--threads", min=1, help="onnxruntime threads per worker."),
    max_body: int = typer.Option(
        64 * 1024, "--max-body", min=1, help="Largest request body in bytes (413 above)."
    ),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="Most texts in one /parse/batch request."),
    body_timeout: float = typer.Option(
        10.0, "--body-timeout", min=0.001, help="Seconds for a request body to arrive whole (408 after)."
    ),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="Log every request."),
) -> None:
    """Serve an exported model over HTTP: POST /parse, /model/parse (Rasa), /parse/batch; GET /health, /version."""
    from nlu.serve import run_server

    run_server(
        artifact_dir,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        max_body=max_body,
        max_batch=max_batch,
        access_log=access_log,
        body_timeout=body_timeout,
    )


@app.command()
def validate(
    recipes: list[Path] = typer.Argument(..., help="Recipe files to check."),
    overrides: list[str] | None = SetOption,
) -> None:
    """Check recipes against the schema, and that the data they name can be found (nothing is read or
    downloaded), without training; report every problem at once."""
    from nlu.errors import RecipeError
    from nlu.generation import recipe as generation
    from nlu.training import recipe as parser

    problems: list[str] = []
    for path in recipes:
        kind = generation if generation.recipe_task(path) is not None else parser
        try:
            loaded = (kind.load_generation_recipe if kind is generation else kind.load_recipe)(
                path, overrides or []
            )
        except RecipeError as err:
            problems.extend(err.problems)
            continue
        found = kind.data_problems(loaded, path)
        if found:
            problems.extend(found)
        else:
            typer.echo(f"ok: {path}")
    if problems:
        raise RecipeError(problems)


@data_app.command("stats")
def data_stats(
    dataset: str = typer.Argument(
        ..., help="A data set name (atis, xsid:de, massive:fr-FR, demo) or folder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Sizes, intents, slot types, lengths, and labels that dev/test have but train lacks."""
    from nlu.data.stats import dataset_stats, render_stats

    stats = dataset_stats(dataset)
    if as_json:
        _echo_json(stats)
    else:
        render_stats(stats)


@data_app.command("card")
def data_card(
    dataset: str = typer.Argument(
        ..., help="A data set name: atis, snips, massive, xsid, media, multiatis, demo."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
) -> None:
    """The data card's machine-readable header: source, version, licence, citation, splits, download."""
    from nlu.data.registry import read_card

    card = read_card(dataset.partition(":")[0])
    if as_json:
        _echo_json(card)
    else:  # the header as written, comments included: they explain the values
        header = Path(card["card_path"]).read_text(encoding="utf-8").split("---", 2)[1]
        typer.echo(f"# {card['card_path']}\n{header.strip()}")


@data_app.command("formats")
def data_formats() -> None:
    """The formats `nlu data convert` and recipes read (and which of them it can write)."""
    from nlu.data.formats import FORMATS

    for fmt in FORMATS.values():
        mode = "read/write" if fmt.writer() is not None else "read"
        typer.echo(f"{fmt.name:<11} {mode:<10} {fmt.description}")


@data_app.command("convert")
def data_convert(
    source: str = typer.Argument(..., help="A file (or JointBERT folder), or a data set name with --split."),
    out: Path = typer.Argument(..., help="The file (or folder, for --to jointbert) to write."),
    to: str | None = typer.Option(
        None, "--to", help="jsonl, conll, rasa, massive, media, multiatis, jointbert."
    ),
    from_: str | None = typer.Option(None, "--from", help="The input's format; default: guessed."),
    split: str | None = typer.Option(
        None, "--split", help="Which split (a data set name, or a MASSIVE file)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Convert between formats, e.g. `nlu data convert nlu.yml train.conll --to conll`."""
    from nlu.data.convert import convert

    report = convert(source, out, to=to, from_format=from_, split=split, overwrite=overwrite)
    typer.echo(
        f"wrote {report['examples']} utterances ({report['intents']} intents, {report['slot_types']} slot types) "
        f"from {report['source']} ({report['from']}) to {out} ({report['to']})"
    )


@data_app.command("download")
def data_download(
    dataset: str = typer.Argument(
        ..., help="A data set name whose card has a download URL (atis, snips, xsid, massive)."
    ),
    root: Path | None = typer.Option(
        None, "--root", help="Data root; default: $NLU_DATA_DIR or ~/.cache/nlu/data."
    ),
    allow_unpinned: bool = typer.Option(
        False, "--allow-unpinned", help="Accept a download whose card pins no SHA-256 (the hash is printed)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Fetch again even if the files are present and verify."
    ),
) -> None:
    """Fetch a public data set from its card's URL, verify its SHA-256, and move it into place when complete."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from nlu.data.download import download
    from nlu.data.registry import data_root

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        folder = download(dataset, root=root, allow_unpinned=allow_unpinned, force=force, progress=progress)
    typer.echo(f"{dataset}: files in {folder}")
    if root is not None and Path(root).resolve() != data_root().resolve():
        typer.echo(f"to use them by name, set NLU_DATA_DIR={Path(root).resolve()}")


@generate_app.command("template")
def generate_template(
    templates: Path = typer.Argument(..., help="The response-template YAML file."),
    parse: str | None = typer.Option(
        None, "--parse", help='A parse as JSON: nlu predict\'s output, or {"intent": ..., "slots": {...}}.'
    ),
    model: Path | None = typer.Option(
        None, "--model", "-m", help="Parse TEXTS with this model (directory or exported artifact) first."
    ),
    texts: list[str] | None = typer.Argument(
        None, help="Utterances to parse with --model.", show_default=False
    ),
    record: str | None = typer.Option(
        None, "--record", help="A record as JSON for {record:field} placeholders."
    ),
) -> None:
    """Fill response templates: one JSON reply per parse (text, the template used, what was missing)."""
    from nlu.generation.templates import TemplateSet

    engine = TemplateSet.from_yaml(templates)
    given_record = _json_option("--record", record) if record is not None else None
    if (parse is None) == (model is None):
        raise NLUError("give either --parse JSON or --model MODEL_DIR with utterances")
    if parse is not None:
        parses: list = [_json_option("--parse", parse)]
    else:
        if not texts:
            raise NLUError("--model: give the utterances to parse as arguments")
        from nlu.data.labels import LabelVocab

        parser = _load_parser(model)
        vocab = LabelVocab(parser.intent_labels, parser.slot_labels)
        problems = engine.check_labels(vocab.known_intents, sorted(vocab.slot_types))
        if problems:
            raise TemplateError(problems)
        parses = parser.parse_batch(list(texts))
    for item in parses:
        _echo_json(engine.render(item, record=given_record).to_dict())


@generate_app.command("describe")
def generate_describe(
    model_dir: Path = typer.Argument(..., help="A trained describer, e.g. runs/e2e-kb-describe/best."),
    records: Path = typer.Argument(
        ...,
        help='A JSON record {"slot": "value", ...}, a JSON list of them, or JSON lines (bare or under "record").',
    ),
    beam_size: int | None = typer.Option(None, "--beam-size", min=1, help="Default: the model's."),
) -> None:
    """Describe knowledge-base records in text: one JSON line per record ({"record": ..., "text": ...})."""
    from nlu.generation.describe import KBDescriber, read_record_input

    items = read_record_input(records)
    describer = KBDescriber.load(model_dir)
    for item, text in zip(items, describer.describe(items, beam_size=beam_size), strict=True):
        _echo_json({"record": item.record, "text": text})


@generate_app.command("respond")
def generate_respond(
    model_dir: Path = typer.Argument(
        ..., help="A trained template-filling model, e.g. runs/redial-ntrd/best."
    ),
    dialogues: Path = typer.Argument(
        ...,
        help="JSON lines of dialogues (ReDial's official or normalized layout); each gets the next reply.",
    ),
) -> None:
    """The recommender's next turn for each dialogue: the template, the movies chosen for its placeholders and
    the filled text, one JSON line per dialogue."""
    from nlu.generation.dialogues import read_dialogues
    from nlu.generation.respond import Recommender

    items = read_dialogues(dialogues)
    for dialogue, reply in zip(items, Recommender.load(model_dir).respond(items), strict=True):
        _echo_json({"id": dialogue.id, **reply.to_dict()})


def _json_option(name: str, text: str):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise NLUError(f"{name}: not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(value, dict):
        raise NLUError(f"{name}: expected a JSON object")
    return value


def _load_parser(
    model_dir: Path,
    batch_size: int = 64,
    labels: Path | None = None,
    bonuses: tuple[float | None, float | None] = (None, None),
):
    """``nlu.parser.load_parser`` with the command line's options."""
    from nlu.parser import load_parser

    if bonuses != (None, None) and labels is None:
        raise NLUError(
            "--unseen-intent-bonus/--unseen-slot-bonus apply to a new label set: give --labels FILE too"
        )
    intent_bonus, slot_bonus = bonuses
    return load_parser(
        model_dir,
        batch_size=batch_size,
        labels=labels,
        unseen_intent_bonus=intent_bonus,
        unseen_slot_bonus=slot_bonus,
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("nlu").setLevel(logging.INFO)
    try:
        app()
    except InterruptedRun as err:
        typer.echo(f"interrupted: {err}", err=True)
        sys.exit(130)
    except ModuleNotFoundError as err:
        words = [a for a in sys.argv[1:] if not a.startswith("-")]
        command = " ".join(words[:2] if words[:1] in (["data"], ["generate"]) else words[:1])
        missing = MissingDependency.from_import_error(err, f"`nlu {command}`")
        if missing is None:
            raise
        typer.echo(f"error: {missing}", err=True)
        sys.exit(2)
    except NLUError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
