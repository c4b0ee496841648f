"""The ``nlu`` command line: one thin function per command, in one module per command group; the work happens
in importable library functions.

Heavy imports (torch, transformers) happen inside the commands, so ``nlu --help`` and ``nlu validate`` are fast.
Library code raises :class:`nlu.errors.NLUError`; only :func:`main` turns it into a message and an exit code:
2 for a usage error (as click gives for a bad option), 1 for a runtime failure, 130 after Ctrl-C.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from nlu.cli.app import app
from nlu.errors import InterruptedRun, MissingDependency, NLUError

# Each module registers its commands with the app; this order is the order of `nlu --help`.
for _group in ("train", "parse", "deploy", "data", "generate"):
    importlib.import_module(f"nlu.cli.{_group}")

__all__ = ["app", "main"]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("nlu").setLevel(logging.INFO)
    try:
        app()
    except InterruptedRun as err:
        typer.echo(f"interrupted: {err}", err=True)
        sys.exit(err.exit_code)
    except ModuleNotFoundError as err:
        words = [a for a in sys.argv[1:] if not a.startswith("-")]
        command = " ".join(words[:2] if words[:1] in (["data"], ["generate"]) else words[:1])
        missing = MissingDependency.from_import_error(err, f"`nlu {command}`")
        if missing is None:
            raise
        typer.echo(f"error: {missing}", err=True)
        sys.exit(missing.exit_code)
    except NLUError as err:  # 2 for a usage error, 1 for a runtime failure (nlu.errors)
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
