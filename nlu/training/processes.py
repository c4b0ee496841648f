"""How many processes a run trains on, and whether that is what its launch asked for.

accelerate reads the process layout from the environment its launcher (or torchrun) sets. Two launches go wrong
without an error of their own:

- torchrun (or ``accelerate launch --multi_gpu``) on a machine without GPUs and without ``ACCELERATE_USE_CPU=1``:
  accelerate sets up a single process in each, and every process would train alone in the same run directory.
  :func:`check_launch` refuses it.
- ``accelerate launch --num_processes 2`` without ``--multi_gpu`` (``--cpu`` included): accelerate's simple
  launcher starts several processes only through MPI (``--mpirun_hostfile``); otherwise it starts one. That one
  trains correctly, only alone, so :func:`check_launch` returns a warning. The launcher sets ``MASTER_ADDR`` only
  when it was asked for more than one process, which is how the case is seen.
"""

from __future__ import annotations

from collections.abc import Mapping

from accelerate import Accelerator

from nlu.errors import NLUError

# The commands that do start N processes on CPU, named in the messages below and in README.md ("Several processes").
CPU_COMMANDS = (
    "ACCELERATE_USE_CPU=1 torchrun --nproc_per_node {n} -m nlu.cli.main train RECIPE",
    "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes {n} -m nlu.cli.main train RECIPE",
)


def check_launch(num_processes: int, environ: Mapping[str, str]) -> str | None:
    """Raise :class:`NLUError` for a launch whose processes would each train alone; return a warning for an
    ``accelerate launch`` that asked for several processes and started one; ``None`` when all is as asked.

    ``num_processes`` is what accelerate set up (``Accelerator().num_processes``).
    """
    launched = int(environ.get("WORLD_SIZE", "1"))
    if launched > 1 and num_processes == 1:
        per_node = int(environ.get("LOCAL_WORLD_SIZE", launched))
        raise NLUError(
            f"launched as {launched} processes, but accelerate set up only one in each, so every process would "
            "train alone in the same run directory (torchrun or `accelerate launch --multi_gpu` on a machine "
            "without GPUs). For CPU training set ACCELERATE_USE_CPU=1: "
            + " or ".join(f"`{c.format(n=per_node)}`" for c in CPU_COMMANDS)
        )
    started_by_accelerate = "ACCELERATE_DYNAMO_BACKEND" in environ  # set by every `accelerate launch`
    if num_processes == 1 and launched == 1 and started_by_accelerate and "MASTER_ADDR" in environ:
        return (
            "`accelerate launch` was asked for several processes but started only this one: without "
            "--multi_gpu (--cpu included) it starts several only through MPI (--mpirun_hostfile). Training "
            "continues on 1 process. For N CPU processes run "
            + " or ".join(f"`{c.format(n='N')}`" for c in CPU_COMMANDS)
            + "; on GPUs `accelerate launch --multi_gpu --num_processes N ...`"
        )
    return None


def describe_processes(accelerator: Accelerator, batch_size: int, steps_per_process: int) -> str:
    """One line for the start of training: processes, backend, device, batch size per process and per optimizer
    step, steps and precision, e.g. ``training on 2 processes (gloo, cpu): batch_size 16 per process = 32 per
    step, 2 steps per process, fp32``."""
    n, device = accelerator.num_processes, accelerator.device.type
    if n == 1:
        layout = f"training on 1 process ({device}): batch_size {batch_size}, {steps_per_process} steps"
    else:
        layout = (
            f"training on {n} processes ({accelerator.state.backend}, {device}): batch_size {batch_size} per "
            f"process = {batch_size * n} per step, {steps_per_process} steps per process"
        )
    return f"{layout}, {precision(accelerator)}"


def precision(accelerator: Accelerator) -> str:
    """The precision the forward passes run in: ``bf16 autocast``, ``fp16 autocast`` or ``fp32``."""
    asked = accelerator.mixed_precision
    if asked in ("bf16", "fp16") and accelerator.native_amp:
        return f"{asked} autocast"
    if asked not in (None, "no"):
        # accelerate keeps fp16 (and anything else it cannot autocast on this device) as a setting only
        return f"fp32 ({asked} was asked for; accelerate does not use it on {accelerator.device.type})"
    return "fp32"
