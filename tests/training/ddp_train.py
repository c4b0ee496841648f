"""Run by ``test_distributed.py`` under ``torchrun``: train from a recipe, then write what this rank ended with.

Usage: python -m torch.distributed.run --nproc_per_node 2 ddp_train.py RECIPE RUN_DIR RESULTS_DIR

Each rank writes ``RESULTS_DIR/rank-<i>.json`` with the SHA-256 of its unwrapped model's state dict, so the test
can check that the processes really ran as one distributed job and ended with identical weights.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import accelerate
import torch

import nlu.training.trainer as trainer


class RecordingAccelerator(accelerate.Accelerator):
    """The trainer's Accelerator, keeping what it prepared so that the model can be read after ``train``."""

    last: RecordingAccelerator | None = None

    def prepare(self, *args, **kwargs):
        prepared = super().prepare(*args, **kwargs)
        self.prepared_model = prepared[0]
        RecordingAccelerator.last = self
        return prepared


def state_dict_sha256(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    recipe, run_dir, results_dir = sys.argv[1:4]
    trainer.Accelerator = RecordingAccelerator
    steps: list[int] = []
    trainer.train(recipe, output_dir=run_dir, on_step_end=lambda state: steps.append(state.global_step))

    accelerator = RecordingAccelerator.last
    model = accelerator.prepared_model
    result = {
        "rank": accelerator.process_index,
        "num_processes": accelerator.num_processes,
        "distributed_type": str(accelerator.distributed_type),
        "wrapper": type(model).__name__,
        "steps": steps,
        "sha256": state_dict_sha256(accelerator.unwrap_model(model)),
    }
    out = Path(results_dir) / f"rank-{accelerator.process_index}.json"
    out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
