"""What a launch asked for against what accelerate set up, read from the environment each launcher writes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from accelerate import Accelerator

from nlu.errors import NLUError
from nlu.training.processes import check_launch, describe_processes, precision

# What `accelerate launch --cpu --num_processes 2 ...` hands its one process (accelerate 1.16, simple launcher)
SIMPLE_LAUNCHER_TWO = {
    "ACCELERATE_USE_CPU": "True",
    "ACCELERATE_MIXED_PRECISION": "no",
    "ACCELERATE_DYNAMO_BACKEND": "NO",
    "MASTER_ADDR": "127.0.0.1",
    "MASTER_PORT": "29500",
}


def test_a_plain_process_is_as_asked():
    assert check_launch(1, {}) is None
    assert check_launch(2, {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "ACCELERATE_USE_CPU": "1"}) is None


def test_accelerate_launch_with_one_process_asked_for_is_as_asked():
    one = {k: v for k, v in SIMPLE_LAUNCHER_TWO.items() if not k.startswith("MASTER_")}
    assert check_launch(1, one) is None


def test_several_processes_asked_of_the_simple_launcher_get_a_warning():
    warning = check_launch(1, SIMPLE_LAUNCHER_TWO)
    assert warning is not None and "started only this one" in warning
    assert "ACCELERATE_USE_CPU=1 torchrun --nproc_per_node N -m nlu.cli.main train RECIPE" in warning


def test_processes_that_would_each_train_alone_are_refused_with_commands_that_work():
    environ = {"WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "10.0.0.1"}
    with pytest.raises(NLUError, match="launched as 4 processes") as err:
        check_launch(1, environ)
    assert "ACCELERATE_USE_CPU=1 torchrun --nproc_per_node 2 -m nlu.cli.main train RECIPE" in str(err.value)
    assert "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2" in str(err.value)


def test_one_process_is_described_with_its_batch_and_precision():
    accelerator = Accelerator()  # the trainer's: AcceleratorState is shared by every test of the session
    line = describe_processes(accelerator, batch_size=16, steps_per_process=4)
    assert line == f"training on 1 process ({accelerator.device.type}): batch_size 16, 4 steps, fp32"


@pytest.mark.parametrize(
    "asked, native_amp, device, said",
    [
        ("no", False, "cpu", "fp32"),
        ("bf16", True, "cpu", "bf16 autocast"),
        ("fp16", True, "cuda", "fp16 autocast"),
        ("fp16", False, "cpu", "fp32 (fp16 was asked for; accelerate does not use it on cpu)"),
    ],
)
def test_precision_says_what_the_forward_pass_runs_in(asked, native_amp, device, said):
    accelerator = SimpleNamespace(mixed_precision=asked, native_amp=native_amp, device=torch.device(device))
    assert precision(accelerator) == said
