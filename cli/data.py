"""``nlu data``: stats, card, formats, convert, download."""

from __future__ import annotations

from pathlib import Path

import typer

from nlu.cli.app import data_app, echo_json


@data_app.command("stats")
def data_stats(
    dataset: str = typer.Argument(
        ..., help="A data set name (atis, xsid:de, massive:fr-FR, demo) or folder."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    columns: list[str] | None = typer.Option(
        None,
        "--columns",
        help="A Hugging Face dataset folder's column names, as a recipe's data.columns: "
        "tokens=words,tags=labels,intent=label (repeatable).",
        show_default=False,
    ),
) -> None:
    """Sizes, intents, slot types, lengths, and labels that dev/test have but train lacks."""
    from nlu.data.stats import dataset_stats, render_stats

    stats = dataset_stats(dataset, columns=column_map(columns or []))
    if as_json:
        echo_json(stats)
    else:
        render_stats(stats)


def column_map(values: list[str]) -> dict[str, str] | None:
    """``["tokens=words,tags=labels", "intent=label"]`` -> ``{"tokens": "words", "tags": "labels", ...}``."""
    from nlu.errors import NLUError

    found: dict[str, str] = {}
    for item in (part.strip() for value in values for part in value.split(",")):
        key, equals, column = item.partition("=")
        if not equals or key.strip() not in ("tokens", "tags", "intent") or not column.strip():
            raise NLUError(
                f"--columns {item!r}: expected tokens=COLUMN, tags=COLUMN or intent=COLUMN, e.g. "
                "--columns tokens=words,tags=labels"
            )
        found[key.strip()] = column.strip()
    return found or None


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
        echo_json(card)
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
