"""Directory writes that never leave a half-written directory where a good one was."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nlu.errors import DamagedCheckpoint, NLUError, RuntimeFailure

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a second run is not detected there
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)
LOCK_FILE = ".lock"


def write_dir_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a fresh temporary directory beside ``target``, then swap it into place.

    If ``write`` fails or the process dies, ``target`` is untouched and only a ``.tmp-*`` folder is left behind
    (removed on the next call). The swap is two renames on one file system. ``target`` gets the mode of any
    new folder (0755 under the usual umask 022), so that a server running as another user can read it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = _make_temporary_dir(target)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}.old"
    _remove(old)
    if target.exists() or target.is_symlink():
        target.rename(old)
    tmp.rename(target)
    _remove(old)


def _make_temporary_dir(target: Path) -> Path:
    """A new, empty ``.<name>.tmp-<random>`` folder beside ``target``.

    Not ``tempfile.mkdtemp``: its folder is 0700, and renamed into place it would stay private to this user.
    ``mkdir`` with 0777 lets the kernel apply the umask, which is also safe while other threads run (reading the
    umask means setting it).
    """
    for _ in range(100):
        tmp = target.parent / f".{target.name}.tmp-{secrets.token_hex(4)}"
        try:
            os.mkdir(tmp, 0o777)
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no unused temporary folder name beside {target}")


def _remove(path: Path) -> None:
    """Delete a folder tree, a file or a symbolic link (never what a link points to); nothing if absent."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a checkpoint is complete once its ``trainer_state.json`` exists)."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("step-*") if (p / "trainer_state.json").is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


class RunDirBusy(RuntimeFailure):
    """Another process is training in this run directory (a runtime failure: exit code 1)."""


@contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory for one training process: a second ``nlu train`` (or ``--overwrite``, which would
    delete the first one's checkpoints) into the same directory stops with :class:`RunDirBusy`.

    The lock is an advisory ``flock`` on ``RUN_DIR/.lock``: the operating system releases it when the holder
    exits, crashes included, so a dead run never leaves it stuck. The file names the holder (pid, host, time)."""
    run_dir = Path(run_dir)
    existed = run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunDirBusy(
                f"{run_dir}: another training run is using this directory ({holder}); wait for it to "
                "finish, stop it, or train into another directory with --output DIR"
            ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()}, since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())}\n"
        )
        handle.flush()
        yield
    finally:
        # Unlinked while still held, so a process that opens it now finds it locked, not a free stale file.
        path.unlink(missing_ok=True)
        handle.close()  # releases the flock
        if not existed and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a run that wrote nothing (it stopped on a bad recipe) leaves no directory behind


def run_dir_holds_a_run(run_dir: Path) -> bool:
    """True when ``run_dir`` holds anything besides the lock file."""
    return run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir())


def _unreadable(checkpoint: Path) -> str | None:
    """Why a checkpoint's files cannot be read (a damaged or truncated file), or None when they all read."""
    import torch
    from safetensors import safe_open

    for file in sorted(checkpoint.iterdir()):
        try:
            if file.suffix == ".safetensors":
                with safe_open(str(file), framework="pt") as f:
                    for key in f.keys():  # noqa: SIM118 - safe_open is not iterable
                        f.get_tensor(key)
            elif file.suffix in (
                ".bin",
                ".pt",
                ".pth",
                ".pkl",
            ):  # accelerate writes its RNG states with torch
                torch.load(file, map_location="cpu", weights_only=False)
        except Exception as err:  # each format raises its own error types for a damaged file
            return f"{file.name}: {err}"
    return None


def damaged_checkpoint(run_dir: Path, checkpoint: Path, error: BaseException) -> NLUError:
    """The error for a checkpoint ``--resume`` cannot read: which one, why, and whether an older one reads."""
    reason = _unreadable(checkpoint) or str(error)
    older = [c for c in list_checkpoints(run_dir) if c != checkpoint]
    usable = next((c for c in reversed(older) if _unreadable(c) is None), None)
    if usable is not None:
        advice = (
            f"the older checkpoint {usable.name} reads fine: move the damaged one aside "
            f"(mv {checkpoint} {run_dir / ('damaged-' + checkpoint.name)}) and run --resume again to continue "
            f"from {usable.name}"
        )
    else:
        advice = "no older checkpoint is readable: start the run again with --overwrite"
    return DamagedCheckpoint(
        f"{checkpoint}: cannot resume from this checkpoint, it is damaged ({reason}); {advice}"
    )
