"""The shape the architecture issue set for the library and the command line: no function over 80 lines and no
module over 500, so that each reads as a page (see ../shared/STYLE.md); a new long one is split, not allowed."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def sources() -> list[Path]:
    return sorted((REPO / "nlu").rglob("*.py")) + sorted((REPO / "cli").glob("*.py"))


def test_no_function_is_longer_than_a_page():
    long = []
    for path in sources():
        if path.is_relative_to(REPO / "nlu" / "cli"):  # the link to cli/, read once below
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_no_module_is_longer_than_500_lines():
    long = [
        f"{path.relative_to(REPO)} ({n} lines)"
        for path in sources()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []
