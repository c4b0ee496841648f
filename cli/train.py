"""``nlu train`` and ``nlu validate``."""

from __future__ import annotations

from pathlib import Path

import typer

from nlu.cli.app import SetOption, app, echo_json


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
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the final summary as one JSON object on stdout (progress stays on stderr).",
    ),
) -> None:
    """Train a model from a recipe; the run directory gets the best model, metrics and a dev report."""
    from nlu.training.trainer import train as run

    result = run(recipe, overrides or [], output_dir=output, resume=resume, overwrite=overwrite)
    report = result.run_dir / "report" / "report.md"
    if as_json:
        echo_json(
            {
                "run_dir": str(result.run_dir),
                "best_model_dir": str(result.best_model_dir),
                "best_metric": result.best_metric,
                "train_seconds": round(result.train_seconds, 2),
                "dev": result.dev_metrics,
                "report": str(report) if report.is_file() else None,
            }
        )
        return
    typer.echo(f"best model: {result.best_model_dir}  (training took {result.train_seconds:.0f} s)")
    shown = {k: v for k, v in result.dev_metrics.items() if isinstance(v, float) and not k.endswith("_se")}
    if shown:
        keys = [k for k in ("intent_accuracy", "slot_f1", "exact_match") if k in shown] or list(shown)
        typer.echo("dev: " + ", ".join(f"{k.replace('_', ' ')} {shown[k]:.4f}" for k in keys))
    if (result.run_dir / "report" / "report.md").is_file():
        typer.echo(f"report: {result.run_dir / 'report' / 'report.md'}")


@app.command()
def validate(
    recipes: list[Path] = typer.Argument(..., help="Recipe files to check."),
    overrides: list[str] | None = SetOption,
) -> None:
    """Check recipes against the schema, and that the data they name can be found (nothing is read or
    downloaded), without training; report every problem at once."""
    from nlu.errors import RecipeError
    from nlu.training.recipe import check_recipe

    problems: list[str] = []
    for path in recipes:
        found = check_recipe(path, overrides or [])
        problems.extend(found)
        if not found:
            typer.echo(f"ok: {path}")
    if problems:
        raise RecipeError(problems)
