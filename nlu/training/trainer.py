"""``train``: a recipe -> a trained model in a run directory, for every kind of recipe.

A recipe is read in four steps, as torchtune's recipes read: the run directory (locked, checked, resumed),
the task (data read and checked, then the model built: a joint parser, ``nlu.training.parser_task``; one over
several data sets, ``nlu.training.multitask``; an LLM fine-tuned to generate the parse,
``nlu.prompting.finetune``; or a generator, ``nlu.generation.training``), the optimizer, and the one training
loop (``nlu.training.loop.fit``). A prompted LLM (``model.architecture: prompting`` without ``finetune``) has no
loop: its run writes the prompt set.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from nlu.errors import RecipeError
from nlu.training.checkpoints import list_checkpoints, run_dir_holds_a_run, run_dir_lock
from nlu.training.loop import LoopSettings, StepCallback, TrainerState, TrainResult, fit, write_metrics
from nlu.training.processes import check_launch, describe_processes

logger = logging.getLogger(__name__)

__all__ = ["TrainResult", "TrainerState", "train", "write_metrics"]


def train(
    recipe_path: str | Path,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_step_end: StepCallback | None = None,
) -> TrainResult:
    """Train from a recipe file (a parser's, or a generator's with a ``task`` key). ``overrides`` are
    ``dotted.key=value`` strings, as ``--set`` takes them; the run directory is ``output_dir`` or the recipe's,
    held against a second run for as long as this one trains."""
    kind = _kind(recipe_path)
    recipe = kind.load(recipe_path, list(overrides))
    run_dir = Path(output_dir or recipe.output_dir)
    with run_dir_lock(run_dir) if is_main_process() else nullcontext():
        return run(recipe, run_dir, resume=resume, overwrite=overwrite, on_step_end=on_step_end)


def run(
    recipe,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    on_step_end: StepCallback | None = None,
) -> TrainResult:
    """Train a loaded recipe into ``run_dir``: the run directory, the task, the optimizer, the loop."""
    accelerator = Accelerator()
    recipe = _ready(recipe, run_dir, resume, overwrite, accelerator)
    t = recipe.training
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    set_seed(t.seed)
    task = _kind_of(recipe).task(recipe, run_dir, resume, accelerator)
    if task is None:  # a prompted LLM: its prompt set is written, nothing is trained
        return TrainResult(run_dir, run_dir / "best", None, {}, 0.0)
    optimizer, scheduler, max_steps = task.prepare()
    if accelerator.is_main_process:
        logger.info(describe_processes(accelerator, t.batch_size, max_steps))
        run_dir.mkdir(parents=True, exist_ok=True)
        task.save_run_files(run_dir)
    settings = LoopSettings.of(t)
    return fit(task, run_dir, settings, accelerator, optimizer, scheduler, max_steps, resume, on_step_end)


def is_main_process() -> bool:
    """Rank 0 of a launched job (``accelerate launch``, ``torchrun``), or a process started alone."""
    return int(os.environ.get("RANK", "0")) == 0


def _ready(recipe, run_dir: Path, resume: bool, overwrite: bool, accelerator: Accelerator):
    """The launch checked and the run directory made ready by the main process; the recipe to train (on
    resume, the one stored in the run directory)."""
    launch_warning = check_launch(accelerator.num_processes, os.environ)
    kind = _kind_of(recipe)
    if accelerator.is_main_process:
        if launch_warning:
            logger.warning(launch_warning)
        recipe = prepare_run_dir(recipe, run_dir, resume, overwrite, kind.load, kind.dump)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process and resume:
        recipe = kind.load(run_dir / "recipe.yaml")
    return recipe


def prepare_run_dir(recipe, run_dir: Path, resume: bool, overwrite: bool, load: Callable, dump: Callable):
    """Check that ``run_dir`` may be used: ``resume`` needs a checkpoint (and returns the stored recipe); a
    run directory that holds a run is replaced only with ``overwrite``, its best model kept until a new one is
    written. ``load``/``dump`` read and write the recipe kind (parser or generator)."""
    saved = run_dir / "recipe.yaml"
    if resume:
        if not list_checkpoints(run_dir):
            raise RecipeError(
                [f"{run_dir}: nothing to resume (no complete checkpoint in {run_dir / 'checkpoints'})"]
            )
        stored = load(saved)
        if dump(stored) != dump(recipe):
            logger.warning("--resume: using the recipe stored in %s, not the one given", saved)
        return stored
    if run_dir_holds_a_run(run_dir):
        if not overwrite:
            raise RecipeError(
                [
                    f"{run_dir}: the run directory already holds a run. Continue it with --resume, choose another "
                    "with --output DIR, or replace it with --overwrite"
                ]
            )
        # The old best model stays until the new run writes a better one; the rest is stale.
        for stale in ("checkpoints", "metrics.jsonl", "report"):
            path = run_dir / stale
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    return recipe


class _Parser:
    """Parser recipes (no ``task`` key): a joint model, or a prompted LLM."""

    @staticmethod
    def load(path, overrides=None):
        from nlu.training.recipe import load_recipe

        return load_recipe(path, overrides)

    @staticmethod
    def dump(recipe) -> str:
        from nlu.training.recipe import dump_recipe

        return dump_recipe(recipe)

    @staticmethod
    def task(recipe, run_dir: Path, resume: bool, accelerator: Accelerator):
        from nlu.training.parser_task import ParserTask, load_data

        if recipe.data.tasks:  # several data sets in one model
            from nlu.training.multitask import MultiTaskParserTask, load_task_data

            return MultiTaskParserTask(recipe, load_task_data(recipe), accelerator, resume)
        data = load_data(recipe)  # everything is read and checked before any model is built
        if recipe.model.architecture == "prompting" and recipe.model.prompting.finetune is not None:
            from nlu.prompting.finetune import GenerativeTask

            return GenerativeTask(recipe, data, accelerator, resume)
        if recipe.model.architecture == "prompting":
            from nlu.prompting.model_dir import write_prompt_run

            write_prompt_run(
                recipe, run_dir, data.train, data.labels, accelerator.is_main_process, rules=data.rules
            )
            return None
        return ParserTask(recipe, data, accelerator, resume)


class _Generator:
    """Generator recipes (``task: kb_describe`` or ``ntrd``)."""

    @staticmethod
    def load(path, overrides=None):
        from nlu.generation.recipe import load_generation_recipe

        return load_generation_recipe(path, overrides)

    @staticmethod
    def dump(recipe) -> str:
        from nlu.generation.recipe import dump_generation_recipe

        return dump_generation_recipe(recipe)

    @staticmethod
    def task(recipe, run_dir: Path, resume: bool, accelerator: Accelerator):
        from nlu.generation.training import GeneratorTask

        return GeneratorTask(recipe, run_dir, resume, accelerator)


def _kind(recipe_path: str | Path):
    from nlu.generation.recipe import recipe_task

    return _Generator if recipe_task(recipe_path) is not None else _Parser


def _kind_of(recipe):
    return _Generator if hasattr(recipe, "task") else _Parser
