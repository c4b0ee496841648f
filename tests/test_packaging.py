"""Installing ``nlu`` like any Python package: the distribution ``nlu-toolkit`` (the name ``nlu`` is taken on PyPI)
provides the import package ``nlu`` and the ``nlu`` command."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import nlu

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "nlu-toolkit"


def test_version_is_the_installed_distributions():
    assert nlu.__version__ == metadata.version(DISTRIBUTION)


# `pip install nlu`, `'nlu[runtime]'`: the import name where the distribution name belongs
OLD_NAME = re.compile(r"(?<![\w.-])nlu\[|pip install (?:-\S+ )*['\"]?nlu(?![\w.-])")


def test_install_instructions_name_the_distribution():
    documents = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "examples").glob("*.py")]
    documents += [*(REPO / "nlu").rglob("*.py"), *(REPO / "cli").glob("*.py"), REPO / "Makefile"]
    wrong = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in documents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OLD_NAME.search(line)
    ]
    assert not wrong, "write nlu-toolkit, the distribution's name:\n" + "\n".join(wrong)
