"""The ``nlu`` typer application, its command groups and the options several commands share. Each command lives
in the module of its group (``train``, ``parse``, ``deploy``, ``data``, ``generate``); ``nlu.cli.main`` puts them
together and turns library errors into messages and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from nlu.errors import NLUError

app = typer.Typer(
    name="nlu",
    help="Intent detection and slot filling: train, evaluate, predict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},  # every command and group inherits it
    # Plain click help: this typer's rich panels show every flag as taking a value (`--resume <bool>`).
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from nlu import __version__
        from nlu.errors import DISTRIBUTION

        typer.echo(f"nlu {__version__} ({DISTRIBUTION})")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


data_app = typer.Typer(help="Inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
generate_app = typer.Typer(
    help="Generate text: replies from templates, descriptions of records.", no_args_is_help=True
)
app.add_typer(generate_app, name="generate")

TaskOption = typer.Option(
    None,
    "--task",
    help="A multi-task model (data.tasks): which task's heads to use, e.g. --task snips.",
    show_default=False,
)
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


def echo_json(obj: dict) -> None:
    """One JSON object on one line of stdout."""
    typer.echo(json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKS))


JsonOption = typer.Option(
    False, "--json", help="Print one JSON object on stdout instead of the summary lines."
)


@contextmanager
def progress_bars(console=None) -> Iterator[Callable[[str, int, int | None], None]]:
    """A ``progress(what, done, total)`` callback, as the library's long steps report (export, evaluation, LLM
    evaluation), drawn as rich bars on stderr, one per step, and not at all when stderr is not a terminal (a
    log file, a pipe, CI). ``total`` None is a step of unknown length; a new step completes the one before."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console or Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bars:
        steps: dict[str, int] = {}

        def progress(what: str, done: int, total: int | None) -> None:
            if what not in steps:
                for task in bars.tasks:
                    if not task.finished:
                        bars.update(task.id, total=task.total or 1, completed=task.total or 1)
                steps[what] = bars.add_task(what, total=total)
            bars.update(steps[what], completed=done, total=total)

        yield progress


def json_option(name: str, text: str) -> dict:
    """The JSON object an option holds, or an error naming the option."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise NLUError(f"{name}: not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(value, dict):
        raise NLUError(f"{name}: expected a JSON object")
    return value


def open_parser(
    model_dir: Path,
    batch_size: int = 64,
    labels: Path | None = None,
    bonuses: tuple[float | None, float | None] = (None, None),
    task: str | None = None,
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
        task=task,
    )
