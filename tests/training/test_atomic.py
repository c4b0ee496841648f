"""``write_dir_atomically``: a directory is either the old one or the new one, never half of each."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nlu.training.checkpoints import list_checkpoints, prune_checkpoints, write_dir_atomically


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


@pytest.fixture
def best(tmp_path) -> Path:
    target = tmp_path / "best"

    def write_old(folder: Path) -> None:
        (folder / "model.safetensors").write_text("old weights")
        (folder / "config.json").write_text("{}")

    write_dir_atomically(target, write_old)
    return target


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_write_leaves_the_target_untouched(best, error):
    before = snapshot(best)

    def write_half(folder: Path) -> None:
        (folder / "model.safetensors").write_text("new weights, half written")
        raise error

    with pytest.raises(type(error)):
        write_dir_atomically(best, write_half)
    assert snapshot(best) == before
    assert leftovers(best.parent, "best") == []


def test_next_call_removes_what_a_dead_process_left(best):
    # A process killed inside write() leaves its temporary folder behind.
    stale = best.parent / ".best.tmp-deadbeef"
    stale.mkdir()
    (stale / "model.safetensors").write_text("never finished")

    write_dir_atomically(best, lambda folder: (folder / "model.safetensors").write_text("newer"))
    assert snapshot(best) == {"model.safetensors": "newer"}
    assert leftovers(best.parent, "best") == []


def test_successful_write_replaces_the_contents(best):
    def write_new(folder: Path) -> None:
        assert folder.parent == best.parent  # beside the target, so the swap is a rename on one file system
        (folder / "model.safetensors").write_text("new weights")
        (folder / "sub").mkdir()
        (folder / "sub" / "tokenizer.json").write_text("tok")

    write_dir_atomically(best, write_new)
    # replaced, not merged: config.json from the old folder is gone
    assert snapshot(best) == {"model.safetensors": "new weights", "sub/tokenizer.json": "tok"}
    assert leftovers(best.parent, "best") == []


def test_first_write_creates_parents(tmp_path):
    target = tmp_path / "runs" / "a" / "best"
    write_dir_atomically(target, lambda folder: (folder / "x").write_text("1"))
    assert snapshot(target) == {"x": "1"}


@pytest.mark.parametrize(
    ("umask", "dir_mode", "file_mode"),
    [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)],
    ids=["umask-022", "umask-027"],
)
def test_modes_follow_the_umask(tmp_path, umask, dir_mode, file_mode):
    # A model served by another (non-root) user must be readable: not the 0700 of a private temporary folder.
    def write(folder: Path) -> None:
        (folder / "model.safetensors").write_text("weights")
        (folder / "sub").mkdir()
        (folder / "sub" / "tokenizer.json").write_text("tok")

    previous = os.umask(umask)
    try:
        write_dir_atomically(tmp_path / "best", write)
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert modes == {
        "best": dir_mode,
        "best/sub": dir_mode,
        "best/model.safetensors": file_mode,
        "best/sub/tokenizer.json": file_mode,
    }


def test_only_complete_checkpoints_count_and_pruning_keeps_the_newest(tmp_path):
    for step in (4, 8, 12, 100):
        folder = tmp_path / "checkpoints" / f"step-{step:07d}"
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoints" / "step-0000200").mkdir()  # no trainer_state.json: still being written
    (tmp_path / "checkpoints" / ".step-0000300.tmp").mkdir()
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "step-0000004",
        "step-0000008",
        "step-0000012",
        "step-0000100",
    ]
    prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-0000012", "step-0000100"]
    assert list_checkpoints(tmp_path / "nowhere") == []
