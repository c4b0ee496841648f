"""The training loop: plain code on ``accelerate``, readable top to bottom, the one every trainable model uses.

``fit(task, run_dir, settings, accelerator)`` trains any :class:`Task`: the joint parsers
(``nlu.training.parser_task``), the knowledge-base describer and the template filler (``nlu.generation``).
The task knows its model, data and scores; the loop knows steps, epochs, checkpoints, resuming, the best
model, early stopping, progress and Ctrl-C. The same loop runs on one CPU, on a GPU, or under
``accelerate launch`` / ``torchrun`` with several processes (only the main process writes).

A run directory holds::

    recipe.yaml          the resolved recipe (overrides applied), and the task's own run files
    metrics.jsonl        one line per epoch: training loss, time, the task's dev scores
    checkpoints/step-N/  resumable state: weights, optimizer, scheduler, RNG, position in the data
    best/                the best model so far by the task's score (swapped in atomically)
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from nlu.errors import InterruptedRun
from nlu.training.checkpoints import (
    damaged_checkpoint,
    list_checkpoints,
    prune_checkpoints,
    write_dir_atomically,
)

logger = logging.getLogger(__name__)


@dataclass
class TrainerState:
    """Where the run is; saved beside every checkpoint so ``--resume`` continues from the same batch."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None
    epochs_without_improvement: int = 0
    epoch_loss_sum: float = 0.0  # over this epoch's steps so far, so a resumed epoch reports its whole loss
    train_seconds: float = 0.0  # training time up to this state, over every process of a resumed run
    finished: bool = False
    history: list[dict] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TrainerState:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass
class TrainResult:
    run_dir: Path
    best_model_dir: Path
    best_metric: float | None
    dev_metrics: dict
    train_seconds: float


StepCallback = Callable[[TrainerState], None]


@dataclass(frozen=True)
class LoopSettings:
    """What the loop reads from a recipe's training section (every kind of recipe has these keys)."""

    epochs: int
    max_steps: int | None
    max_grad_norm: float
    checkpoint_every: int
    keep_checkpoints: int
    early_stopping_patience: int | None

    @classmethod
    def of(cls, training: Any) -> LoopSettings:
        return cls(**{name: getattr(training, name) for name in cls.__dataclass_fields__})


class Task(Protocol):
    """What :func:`fit` trains. ``model`` is what the optimizer updates (it may carry training-only heads);
    ``batches(epoch)`` the epoch's batches in order, the same for a seed and an epoch, so that a resumed run
    skips exactly the ones it trained on; ``loss`` one step's loss; ``evaluate``, given the epoch's record so
    far (its training loss), the fields to add (dev scores) and the score that picks the best model, higher
    better (None: every epoch is the new
    best); ``save`` writes the best model (``state`` says which epoch it is); ``finish`` the dev metrics of
    the result, once training ended."""

    model: torch.nn.Module

    def batches(self, epoch: int) -> Iterable[dict]: ...

    def loss(self, model: torch.nn.Module, batch: dict, step: int) -> torch.Tensor: ...

    def evaluate(self, model: torch.nn.Module, record: dict) -> tuple[dict, float | None]: ...

    def save(self, folder: Path, state: TrainerState) -> None: ...

    def finish(self, run_dir: Path, state: TrainerState) -> dict: ...


def prepare_run(
    task: Any, optimizer: torch.optim.Optimizer, total_steps: int
) -> tuple[torch.optim.Optimizer, object, int]:
    """Hand ``task``'s model and loader, ``optimizer`` and a linear warm-up/decay schedule over ``total_steps``
    (the training section's ``warmup_ratio``) to the task's accelerator, which replaces the task's ``model`` and
    ``loader`` with its own. Returns the prepared optimizer, the schedule and the optimizer steps this process
    takes (``max_steps`` counts batches over all processes: N processes take max_steps / N each)."""
    from transformers import get_linear_schedule_with_warmup

    t, accelerator = task.recipe.training, task.accelerator
    scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
    task.model, optimizer, task.loader, scheduler = accelerator.prepare(
        task.model, optimizer, task.loader, scheduler
    )
    if t.max_steps:
        return optimizer, scheduler, math.ceil(total_steps / accelerator.num_processes)
    return optimizer, scheduler, t.epochs * len(task.loader)


class _Run:
    """The loop's bookkeeping for one run: checkpoints, the best model, the metrics log, training time."""

    def __init__(self, task: Task, run_dir: Path, settings: LoopSettings, accelerator: Accelerator):
        self.task, self.run_dir, self.settings, self.accelerator = task, run_dir, settings, accelerator
        self.is_main = accelerator.is_main_process
        self.state = TrainerState()
        self.started, self.seconds_before = time.perf_counter(), 0.0

    def training_time(self) -> float:
        """Training time so far, the time of the processes before a resume included."""
        return self.seconds_before + time.perf_counter() - self.started

    def resume(self) -> None:
        checkpoint = list_checkpoints(self.run_dir)[-1]
        try:
            self.accelerator.load_state(str(checkpoint))
            self.state = TrainerState.load(checkpoint / "trainer_state.json")
        except Exception as err:  # torch, safetensors, pickle and json each raise their own error types
            raise damaged_checkpoint(self.run_dir, checkpoint, err) from None
        self.seconds_before = self.state.train_seconds
        if self.is_main:
            logger.info(
                "resuming from %s (epoch %d, step %d)",
                checkpoint,
                self.state.epoch + 1,
                self.state.global_step,
            )
            # The log holds what the checkpoint knows: an evaluation written after it (the process died
            # before the next checkpoint) is written again when the resumed run repeats it.
            write_metrics(self.run_dir, self.state.history)

    def save_checkpoint(self) -> None:
        state, accelerator = self.state, self.accelerator
        final = self.run_dir / "checkpoints" / f"step-{state.global_step:07d}"
        tmp = self.run_dir / "checkpoints" / f".step-{state.global_step:07d}.tmp"
        if self.is_main and tmp.exists():
            shutil.rmtree(tmp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if self.is_main:
            state.train_seconds = self.training_time()
            state.save(tmp / "trainer_state.json")
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            prune_checkpoints(self.run_dir, self.settings.keep_checkpoints)
        accelerator.wait_for_everyone()

    def end_of_epoch(self, model: torch.nn.Module, console) -> None:
        """Score dev, log the epoch, keep the best model, decide on early stopping, write a checkpoint."""
        state, patience = self.state, self.settings.early_stopping_patience
        record = {
            "epoch": state.epoch + 1,
            "step": state.global_step,
            "train_loss": state.epoch_loss_sum / max(state.step_in_epoch, 1),
            "seconds": self.training_time(),
        }
        fields, score = self.task.evaluate(model, record)
        model.train()  # evaluation put it in eval mode
        record.update(fields)
        improved = score is None or state.best_metric is None or score > state.best_metric
        if improved:
            state.best_metric = score if score is not None else state.best_metric
            state.best_epoch, state.epochs_without_improvement = state.epoch + 1, 0
        else:
            state.epochs_without_improvement += 1
        record["best"] = improved
        state.history.append(record)
        if self.is_main:
            write_metrics(self.run_dir, [record], append=True)
            shown = ", ".join(f"{k}={v:.4f}" for k, v in _scalars(record))
            console.print(
                f"epoch {state.epoch + 1}: {shown}" + (" (best)" if improved and score is not None else "")
            )
        if improved:
            if self.is_main:
                write_dir_atomically(self.run_dir / "best", lambda folder: self.task.save(folder, state))
            self.accelerator.wait_for_everyone()
        state.epoch += 1
        state.step_in_epoch, state.epoch_loss_sum = 0, 0.0
        if patience is not None and state.epochs_without_improvement >= patience:
            if self.is_main:
                console.print(f"early stop: no better dev score for {patience} epochs")
            state.finished = True
        self.save_checkpoint()


def write_metrics(run_dir: Path, records: list[dict], append: bool = False) -> None:
    """``metrics.jsonl``: one line per evaluation on dev; ``append`` adds to it, else it is replaced."""
    with open(run_dir / "metrics.jsonl", "a" if append else "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)


def _scalars(record: dict) -> Iterable[tuple[str, float]]:
    """The numbers of an epoch's record worth a line of output: its loss and its dev scores."""
    for key, value in record.items():
        if isinstance(value, dict):
            yield from (
                (f"dev {k}", v)
                for k, v in value.items()
                if k in ("intent_accuracy", "slot_f1", "exact_match")
            )
        elif isinstance(value, float) and key != "seconds":
            yield key, value


def _progress(enabled: bool) -> Progress:
    """The training bar, on stderr (stdout stays for ``nlu train --json``), drawn only on a terminal; the
    epoch lines printed through its console appear either way."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[speed]:.1f} it/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
    )


def fit(
    task: Task,
    run_dir: Path,
    settings: LoopSettings,
    accelerator: Accelerator,
    optimizer: torch.optim.Optimizer,
    scheduler,
    max_steps: int,
    resume: bool = False,
    on_step_end: StepCallback | None = None,
) -> TrainResult:
    """Train ``task.model`` (already prepared by ``accelerator`` with ``optimizer`` and ``scheduler``) for
    ``settings.epochs`` epochs or ``max_steps`` optimizer steps of this process, evaluating at each epoch's end;
    with ``resume``, continue from the run directory's last checkpoint. ``on_step_end`` is called after every
    optimizer step (tests use it to interrupt a run)."""
    run = _Run(task, run_dir, settings, accelerator)
    if resume:
        run.resume()
    state, model = run.state, task.model
    model.train()
    with _progress(run.is_main) as progress:
        bar = progress.add_task(
            "train", total=max_steps, completed=state.global_step, epoch=1, loss=0.0, speed=0.0
        )
        try:
            while not state.finished and state.epoch < settings.epochs:
                progress.update(bar, epoch=state.epoch + 1)
                seen, tick = 0, time.perf_counter()
                for step_in_epoch, batch in enumerate(task.batches(state.epoch)):
                    if step_in_epoch < state.step_in_epoch:
                        continue  # already trained on before the interruption
                    if state.global_step >= max_steps:  # resumed from the checkpoint of the last step
                        state.finished = True
                        break
                    loss = task.loss(model, batch, state.global_step)
                    accelerator.backward(loss)
                    accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                    state.global_step += 1
                    state.step_in_epoch = step_in_epoch + 1
                    state.epoch_loss_sum += loss.item()
                    seen += 1
                    speed = seen / max(time.perf_counter() - tick, 1e-9)
                    progress.update(
                        bar, advance=1, loss=state.epoch_loss_sum / state.step_in_epoch, speed=speed
                    )
                    if state.global_step % settings.checkpoint_every == 0:
                        run.save_checkpoint()
                    if on_step_end is not None:
                        on_step_end(state)
                    if state.global_step >= max_steps:
                        state.finished = True
                        break
                run.end_of_epoch(model, progress.console)
        except KeyboardInterrupt:
            run.save_checkpoint()
            raise InterruptedRun(
                f"training interrupted at step {state.global_step}; a checkpoint is in {run_dir / 'checkpoints'}. "
                f"Continue with: nlu train {run_dir / 'recipe.yaml'} --output {run_dir} --resume"
            ) from None
    state.train_seconds = train_seconds = run.training_time()
    state.finished = True
    dev_metrics = task.finish(run_dir, state) if run.is_main else {}
    accelerator.wait_for_everyone()
    return TrainResult(run_dir, run_dir / "best", state.best_metric, dev_metrics, train_seconds)
