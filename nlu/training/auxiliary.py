"""Auxiliary token-level tasks sharing the main model's encoder (Krückl et al. 2025, "Improving Dialectal Slot
and Intent Detection with Auxiliary Tasks").

Each auxiliary task is a tagging data set (another data set's slots, an NER file in CoNLL format) with a
weight. Two schedules:

* ``joint``: every training step adds, for each task, ``weight x`` the token cross-entropy of one batch of that
  task, computed in the same forward call as the main loss (one forward per step, as distributed training
  needs). Which auxiliary utterances a step sees depends only on the seed and the step number, so a resumed
  run sees the same ones as an uninterrupted run.
* ``intermediate``: the encoder is first trained on the auxiliary tasks alone for ``auxiliary_epochs`` epochs
  (a plain loop, its own optimizer), then the main training starts from that encoder. Only the main model is
  saved; the auxiliary heads are training scaffolding.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import datasets
import torch
from torch import nn

from nlu.modules.outputs import JointOutput
from nlu.training.data import IGNORE, Collator

logger = logging.getLogger(__name__)


@dataclass
class AuxiliaryTask:
    """One auxiliary data set, encoded: ``data`` rows as ``encode_examples`` makes them (slot labels only)."""

    name: str
    weight: float
    tags: list[str]
    data: datasets.Dataset

    def batch(self, seed: int, step: int, batch_size: int, collator: Collator) -> dict[str, torch.Tensor]:
        """The rows step ``step`` trains on: a draw that depends on (seed, task, step) only."""
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step * 97 + len(self.name))
        picks = torch.randint(
            len(self.data), (min(batch_size, len(self.data)),), generator=generator
        ).tolist()
        rows = [self.data[i] for i in picks]
        return {k: v for k, v in collator(rows).items() if k != "intent_labels"}


class MultiTaskModel(nn.Module):
    """The main joint model plus one linear tagging head per auxiliary task, on the main model's encoder.

    ``forward(**main_batch, auxiliary={name: batch})`` returns the main model's output with the weighted
    auxiliary losses added to ``loss``; without a main batch (``input_ids`` None) only the auxiliary losses.
    """

    def __init__(self, main: nn.Module, tasks: list[AuxiliaryTask], dropout: float = 0.1):
        super().__init__()
        self.main = main
        hidden = main.encoder.config.hidden_size
        self.heads = nn.ModuleDict({task.name: nn.Linear(hidden, len(task.tags)) for task in tasks})
        self.weights = {task.name: task.weight for task in tasks}
        self.dropout = nn.Dropout(dropout)

    def auxiliary_loss(self, name: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
        hidden = self.main.encoder(**inputs).last_hidden_state
        logits = self.heads[name](self.dropout(hidden))
        return nn.functional.cross_entropy(
            logits.flatten(0, 1), batch["slot_labels"].flatten(), ignore_index=IGNORE
        )

    def forward(self, auxiliary: dict[str, dict[str, torch.Tensor]] | None = None, **batch) -> JointOutput:
        extra = sum(
            self.weights[name] * self.auxiliary_loss(name, b) for name, b in (auxiliary or {}).items()
        )
        if batch.get("input_ids") is None:
            return JointOutput(loss=extra)
        out = self.main(**batch)
        if auxiliary and out.loss is not None:
            out.loss = out.loss + extra
        return out


def pretrain_encoder(
    multitask: MultiTaskModel,
    tasks: list[AuxiliaryTask],
    collator: Collator,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: torch.device,
) -> list[float]:
    """The intermediate schedule's first stage: train the encoder and the auxiliary heads on the auxiliary
    tasks alone. Returns the mean loss of each epoch."""
    params = [p for p in multitask.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate)
    steps = max(1, sum(len(task.data) for task in tasks) // batch_size)
    multitask.train()
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for step in range(steps):
            task = tasks[step % len(tasks)]
            batch = {k: v.to(device) for k, v in task.batch(seed + epoch, step, batch_size, collator).items()}
            loss = multitask(auxiliary={task.name: batch}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad()
            total += loss.item()
        losses.append(total / steps)
        logger.info("auxiliary pre-training, epoch %d: loss %.4f", epoch + 1, losses[-1])
    return losses
