"""Running the ``nlu`` command line in tests: in process through ``nlu.cli.main.main`` (its real exit codes and
``error:`` lines, without a new interpreter), or as a separate process where the console behaviour matters."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from nlu.cli.main import main


def run_main(monkeypatch, capsys, *args, stdin: str | None = None) -> tuple[int, str, str]:
    """``nlu ARGS`` through :func:`nlu.cli.main.main`; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["nlu", *(str(a) for a in args)])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    nlu_logger = logging.getLogger("nlu")
    level = nlu_logger.level
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        nlu_logger.setLevel(level)  # main() turns the library's INFO logging on
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


def run_process(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m nlu.cli.main ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "nlu.cli.main", *(str(a) for a in args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
