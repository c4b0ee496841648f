"""``nlu generate``: replies from templates, descriptions of records, recommender replies."""

from __future__ import annotations

from pathlib import Path

import typer

from nlu.cli.app import echo_json, generate_app, json_option, open_parser
from nlu.errors import NLUError, TemplateError


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
    given_record = json_option("--record", record) if record is not None else None
    if (parse is None) == (model is None):
        raise NLUError("give either --parse JSON or --model MODEL_DIR with utterances")
    if parse is not None:
        parses: list = [json_option("--parse", parse)]
    else:
        if not texts:
            raise NLUError("--model: give the utterances to parse as arguments")
        from nlu.data.labels import LabelVocab

        parser = open_parser(model)
        vocab = LabelVocab(parser.intent_labels, parser.slot_labels)
        problems = engine.check_labels(vocab.known_intents, sorted(vocab.slot_types))
        if problems:
            raise TemplateError(problems)
        parses = parser.parse_batch(list(texts))
    for item in parses:
        echo_json(engine.render(item, record=given_record).to_dict())


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
        echo_json({"record": item.record, "text": text})


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
        echo_json({"id": dialogue.id, **reply.to_dict()})
