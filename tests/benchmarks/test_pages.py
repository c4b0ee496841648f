"""Each measured page in docs/ has one writer, which renders it from records alone; benchmarks are a package that
nothing imports by patching sys.path."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from benchmarks import common
from benchmarks.__main__ import WRITERS

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
HAND_WRITTEN = {"embedding.md"}  # docs pages no benchmark measures
# the functions that write under docs/, and the module constant each must be given
WRITING = {"publish": "PAGE", "rerender": "PAGE", "write_record": "RECORD"}


def _modules() -> list[Path]:
    return sorted(BENCHMARKS.rglob("*.py"))


def _calls(tree: ast.AST, names) -> list[ast.Call]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in names:
                found.append(node)
    return found


def test_every_measured_page_has_exactly_one_writer():
    pages = {path.stem for path in (ROOT / "docs").glob("*.md") if path.name not in HAND_WRITTEN}
    assert set(WRITERS) == pages
    declared: dict[str, list[str]] = {}
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) in ("PAGE", "RECORD") for t in node.targets
            ):
                declared.setdefault(ast.literal_eval(node.value), []).append(str(path.relative_to(ROOT)))
    assert {name: where for name, where in declared.items() if len(where) > 1} == {}
    assert set(declared) == pages | {"slotrefine_passes"}


def test_only_a_page_s_writer_writes_it():
    """Every call that writes under docs/ names the module's own PAGE (or RECORD); no other code spells docs/."""
    for path in _modules():
        source = path.read_text()
        for call in _calls(ast.parse(source), WRITING):
            func = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
            first = call.args[0] if call.args else None
            if path.name == "common.py" and isinstance(first, ast.Name) and first.id == "name":
                continue  # publish -> write_record / rerender, passing the caller's name on
            named = (
                first.id if isinstance(first, ast.Name) else getattr(first, "attr", None)
            )  # PAGE, module.PAGE
            assert named == WRITING[func], f"{path.relative_to(ROOT)}:{call.lineno}"
        if path.name != "common.py":
            assert '"docs"' not in source and "'docs'" not in source, path


def test_nothing_patches_sys_path():
    for path in [*_modules(), *sorted((ROOT / "tests" / "benchmarks").glob("*.py"))]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and getattr(node.value, "id", None) == "sys"
            ):
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} uses sys.path")
            if isinstance(node, ast.Attribute) and node.attr == "spec_from_file_location":
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} loads a module from its file")


def test_no_benchmark_reads_a_page():
    """Other benchmarks' figures come from their records (.json), never from their pages (.md)."""
    for path in _modules():
        for call in _calls(ast.parse(path.read_text()), {"read_text", "open", "read_record"}):
            assert ".md" not in ast.unparse(call), f"{path.relative_to(ROOT)}:{call.lineno}"
        assert "<!-- section:" not in path.read_text(), path


@pytest.mark.parametrize("page", sorted(WRITERS))
def test_each_page_is_what_its_writer_renders_from_the_records(page, tmp_path):
    """The committed page is its record rendered: a page edited by hand, or left stale after a record it shows
    changed, fails here. Fix: ``python -m benchmarks``."""
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("*.md"))
    common.rerender(page, WRITERS[page].render, docs / f"{page}.md")
    assert (docs / f"{page}.md").read_text() == (ROOT / "docs" / f"{page}.md").read_text()
    assert {p.name for p in docs.glob("*.md")} == {f"{page}.md"}  # it wrote its own page and no other


def test_no_record_or_page_names_a_folder_of_this_machine():
    for path in (ROOT / "docs").glob("*.*"):
        text = path.read_text()
        assert f"{ROOT.parent}/" not in text, path  # the checkout and the folders beside it
