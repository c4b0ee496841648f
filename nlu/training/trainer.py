"""The training loop: plain code on ``accelerate``, readable top to bottom.

The same loop runs on one CPU, on a GPU, or under ``accelerate launch`` / ``torchrun`` with several processes.
A run directory holds::

    recipe.yaml          the resolved recipe (overrides applied)
    intent_labels.txt    label vocabularies from the training split
    slot_labels.txt
    metrics.jsonl        one line per evaluation on dev
    checkpoints/step-N/  resumable state: weights, optimizer, scheduler, RNG, position in the data
    best/                the best model so far by ``training.metric`` (swapped in atomically)
    report/              evaluation of the best model on dev (report.md, metrics.json, plots)
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from nlu.data.formats import read_examples
from nlu.data.labels import LabelVocab
from nlu.data.lexicon import Gazetteer
from nlu.data.registry import data_root, has_split, load_split, resolve
from nlu.errors import InterruptedRun, RecipeError
from nlu.models import build_model
from nlu.models.backbones import resolve_backbone
from nlu.training.auxiliary import AuxiliaryTask, MultiTaskModel, pretrain_encoder
from nlu.training.checkpoints import (
    damaged_checkpoint,
    list_checkpoints,
    prune_checkpoints,
    run_dir_holds_a_run,
    run_dir_lock,
    write_dir_atomically,
)
from nlu.training.data import (
    BucketBatchSampler,
    Collator,
    count_truncated,
    encode_examples,
    warn_truncated,
)
from nlu.training.processes import check_launch, describe_processes
from nlu.training.recipe import (
    CodeSwitchSection,
    LexiconSection,
    Recipe,
    dump_recipe,
    load_recipe,
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


def train(
    recipe_path: str | Path,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_step_end: StepCallback | None = None,
) -> TrainResult:
    """Train from a recipe file. ``overrides`` are ``dotted.key=value`` strings, as ``--set`` takes them."""
    recipe = load_recipe(recipe_path, list(overrides))
    run_dir = Path(output_dir or recipe.output_dir)
    with run_dir_lock(run_dir) if is_main_process() else nullcontext():
        return run_training(recipe, run_dir, resume=resume, overwrite=overwrite, on_step_end=on_step_end)


def is_main_process() -> bool:
    """Rank 0 of a launched job (``accelerate launch``, ``torchrun``), or a process started alone."""
    return int(os.environ.get("RANK", "0")) == 0


def write_metrics(run_dir: Path, records: list[dict], append: bool = False) -> None:
    """``metrics.jsonl``: one line per evaluation on dev; ``append`` adds to it, else it is replaced."""
    with open(run_dir / "metrics.jsonl", "a" if append else "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)


def _prompt_run(
    recipe: Recipe, run_dir: Path, train_examples: list, labels: LabelVocab, is_main: bool
) -> TrainResult:
    """``model.architecture: prompting``: write ``best/`` as a prompt model directory (nlu.prompting.model_dir)."""
    from nlu.models.zeroshot import load_label_file
    from nlu.prompting.model_dir import write_prompt_model

    section = recipe.model.prompting
    intents, slot_types = load_label_file(section.labels)
    missing = [i for i in labels.known_intents if i not in intents] + sorted(
        labels.slot_types - set(slot_types)
    )
    if missing:
        logger.warning(
            "%s has no entry for %d training label(s), which the LLM will never predict: %s",
            section.labels,
            len(missing),
            ", ".join(missing[:10]),
        )
    backend = section.backend.model_dump(exclude_none=True)

    def write(folder: Path) -> None:
        write_prompt_model(
            folder,
            backend,
            intents,
            slot_types,
            section.shots,
            train_examples,
            section.slots_by_intent,
            calibrate=section.calibrate,
        )
        if section.lora is not None:
            from nlu.prompting import lora
            from nlu.prompting.model_dir import build_backend, set_adapter

            few = lora.few_per_intent(train_examples, section.lora.examples_per_intent, recipe.training.seed)
            pairs = lora.training_pairs(few, intents, slot_types)
            losses = lora.train_lora(
                build_backend(backend),
                pairs,
                folder / "lora",
                rank=section.lora.rank,
                alpha=section.lora.alpha,
                epochs=section.lora.epochs,
                learning_rate=section.lora.learning_rate,
                seed=recipe.training.seed,
            )
            set_adapter(folder, "lora", {"examples": len(few), "pairs": len(pairs), "epoch_losses": losses})

    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
        write_dir_atomically(run_dir / "best", write)
    logger.info(
        "prompt model written to %s (%d demonstrations in the pool)", run_dir / "best", len(train_examples)
    )
    return TrainResult(run_dir, run_dir / "best", None, {}, 0.0)


def load_auxiliary_tasks(sections: list, tokenizer, max_length: int) -> list[AuxiliaryTask]:
    """Read and encode each auxiliary data set; its tag vocabulary comes from its own examples."""
    tasks = []
    for section in sections:
        if section.file:
            examples = read_examples(section.file, section.format)
        else:
            examples = load_split(resolve(section.dataset, format=section.format), section.split)
        vocab = LabelVocab.from_examples(examples)
        data = encode_examples(examples, tokenizer, vocab, max_length, what=f"auxiliary {section.name}")
        tasks.append(AuxiliaryTask(section.name, section.weight, vocab.slots, data.with_format(None)))
        logger.info(
            "auxiliary task %s: %d utterances, %d tags", section.name, len(examples), len(vocab.slots)
        )
    return tasks


def code_switch(section: CodeSwitchSection, examples: list, default_seed: int) -> tuple[list, dict]:
    """The train split with code-switched copies added, and the augmentation's report (coverage per language)."""
    from nlu.data.augment.code_switch import CodeSwitcher, expand_languages, load_dictionaries

    folder = Path(section.dictionaries).expanduser()
    if not folder.is_dir():
        folder = data_root() / section.dictionaries
    languages = expand_languages(section.languages)
    dictionaries = load_dictionaries(folder, languages, section.source_language)
    seed = default_seed if section.seed is None else section.seed
    switcher = CodeSwitcher(dictionaries, section.probability, section.copies, seed)
    augmented = switcher.augment(examples)
    report = {"dictionaries": str(folder), "languages": languages, "seed": seed} | switcher.report.to_dict()
    logger.info(
        "code-switching: %d utterances -> %d; dictionary coverage %s",
        len(examples),
        len(augmented),
        ", ".join(f"{lang} {100 * c:.0f}%" for lang, c in switcher.report.coverage().items()),
    )
    return augmented, report


def build_gazetteer(lexicon: LexiconSection, train_examples: list) -> Gazetteer:
    """The recipe's phrase lists: from files, or the listed slot types' values in the train split."""
    if lexicon.files:
        return Gazetteer.from_files(lexicon.files)
    return Gazetteer.from_examples(train_examples, lexicon.from_train or [])


def prepare_run_dir(
    recipe,
    run_dir: Path,
    resume: bool,
    overwrite: bool,
    load: Callable = load_recipe,
    dump: Callable = dump_recipe,
):
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


def _optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and LayerNorm; heads (and CRF) may learn faster than the encoder."""
    t = recipe.training
    groups: dict[tuple[bool, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_head = not name.startswith(("encoder.", "main.encoder."))  # main.: inside a MultiTaskModel
        no_decay = param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
        groups.setdefault((is_head, no_decay), []).append(param)
    param_groups = [
        {
            "params": params,
            "lr": (t.head_learning_rate or t.learning_rate) if is_head else t.learning_rate,
            "weight_decay": 0.0 if no_decay else t.weight_decay,
        }
        for (is_head, no_decay), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups)


def run_training(
    recipe: Recipe,
    run_dir: Path,
    resume: bool = False,
    overwrite: bool = False,
    on_step_end: StepCallback | None = None,
) -> TrainResult:
    from nlu.evaluation.evaluate import evaluate_parser, write_evaluation
    from nlu.inference import TorchParser

    accelerator = Accelerator()
    launch_warning = check_launch(accelerator.num_processes, os.environ)
    is_main = accelerator.is_main_process
    if launch_warning and is_main:
        logger.warning(launch_warning)
    recipe = prepare_run_dir(recipe, run_dir, resume, overwrite) if is_main else recipe
    accelerator.wait_for_everyone()
    if not is_main and resume:
        recipe = load_recipe(run_dir / "recipe.yaml")
    t, m = recipe.training, recipe.model
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    set_seed(t.seed)

    # Data: everything is read and checked before any model is built.
    source = recipe.data.source()
    train_examples = load_split(source, recipe.data.train_split)
    dev_examples = (
        load_split(source, recipe.data.dev_split)
        if recipe.data.dev_split and has_split(source, recipe.data.dev_split)
        else []
    )
    if recipe.data.intent_map:  # one label scheme for data sets that name the same intent differently
        for ex in (*train_examples, *dev_examples):
            ex.intent = recipe.data.intent_map.get(ex.intent, ex.intent)
    if recipe.data.train_sample and recipe.data.train_sample < len(train_examples):
        # sampled before augmentation, so code-switched copies come from the sampled utterances only
        train_examples = random.Random(t.seed).sample(train_examples, recipe.data.train_sample)
    augmentation = None
    if recipe.data.augment and recipe.data.augment.code_switch:
        train_examples, augmentation = code_switch(recipe.data.augment.code_switch, train_examples, t.seed)
    labels = LabelVocab.from_examples(train_examples)
    if (
        m.architecture == "prompting"
    ):  # nothing to train: the run is the prompt set and its demonstration pool
        return _prompt_run(recipe, run_dir, train_examples, labels, is_main)
    backbone_path = resolve_backbone(m.backbone)
    tokenizer = AutoTokenizer.from_pretrained(backbone_path)
    if not getattr(tokenizer, "is_fast", False):
        raise RecipeError([f"model.backbone: {m.backbone!r} has no fast tokenizer; word alignment needs one"])

    gazetteer = build_gazetteer(m.lexicon, train_examples) if m.lexicon else None
    model = build_model(
        m.architecture,
        backbone=m.backbone,
        labels=labels,
        lexicon_types=gazetteer.types if gazetteer else None,
        **m.architecture_options(),
    )
    if m.freeze_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    train_set = encode_examples(train_examples, tokenizer, labels, m.max_length, gazetteer=gazetteer)
    if dev_examples and accelerator.is_main_process:
        truncated, longest = count_truncated(dev_examples, tokenizer, m.max_length)
        warn_truncated(truncated, len(dev_examples), longest, m.max_length, "dev")
    sampler = BucketBatchSampler([len(ids) for ids in train_set["input_ids"]], t.batch_size, seed=t.seed)
    loader = torch.utils.data.DataLoader(
        train_set.with_format(None),
        batch_sampler=sampler,
        collate_fn=Collator(tokenizer.pad_token_id or 0),
        # A private generator: creating the iterator must not draw from the global RNG, or a resumed run's
        # dropout masks would differ from the uninterrupted run's.
        generator=torch.Generator().manual_seed(t.seed),
    )
    collator = Collator(tokenizer.pad_token_id or 0)
    tasks = load_auxiliary_tasks(recipe.data.auxiliary or [], tokenizer, m.max_length)
    main_model = model
    if tasks and t.auxiliary_schedule == "intermediate" and not resume:
        pretrain_encoder(
            MultiTaskModel(model, tasks, m.classifier_dropout),
            tasks,
            collator,
            t.auxiliary_epochs,
            t.batch_size,
            t.head_learning_rate or t.learning_rate,
            t.seed,
            accelerator.device,
        )
    if tasks and t.auxiliary_schedule == "joint":
        model = MultiTaskModel(model, tasks, m.classifier_dropout)
    steps_per_epoch_global = len(loader)
    total_steps = t.max_steps or t.epochs * steps_per_epoch_global
    optimizer = _optimizer(model, recipe)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    steps_per_epoch = len(loader)
    max_steps = (
        math.ceil(total_steps / accelerator.num_processes) if t.max_steps else t.epochs * steps_per_epoch
    )
    if is_main:
        logger.info(describe_processes(accelerator, t.batch_size, max_steps))

    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
        labels.save(run_dir)
        if augmentation is not None:
            (run_dir / "augmentation.json").write_text(json.dumps(augmentation, indent=2), encoding="utf-8")

    state = TrainerState()
    if resume:
        checkpoint = list_checkpoints(run_dir)[-1]
        try:
            accelerator.load_state(str(checkpoint))
            state = TrainerState.load(checkpoint / "trainer_state.json")
        except Exception as err:  # torch, safetensors, pickle and json each raise their own error types
            raise damaged_checkpoint(run_dir, checkpoint, err) from None
        if is_main:
            logger.info(
                "resuming from %s (epoch %d, step %d)", checkpoint, state.epoch + 1, state.global_step
            )
            # The log holds what the checkpoint knows: an evaluation written after it (the process died
            # before the next checkpoint) is written again when the resumed run repeats it.
            write_metrics(run_dir, state.history)

    def save_checkpoint() -> None:
        final = run_dir / "checkpoints" / f"step-{state.global_step:07d}"
        tmp = run_dir / "checkpoints" / f".step-{state.global_step:07d}.tmp"
        if is_main and tmp.exists():
            shutil.rmtree(tmp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if is_main:
            state.train_seconds = training_time()
            state.save(tmp / "trainer_state.json")
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            prune_checkpoints(run_dir, t.keep_checkpoints)
        accelerator.wait_for_everyone()

    def save_best() -> None:
        unwrapped = main_model  # the joint model only: auxiliary heads are scaffolding

        def write(folder: Path) -> None:
            unwrapped.save_pretrained(folder, safe_serialization=True)
            tokenizer.save_pretrained(folder)
            labels.save(folder)
            if gazetteer is not None:
                gazetteer.save(folder)
            (folder / "training_info.json").write_text(
                json.dumps(
                    {
                        "epoch": state.epoch + 1,
                        "step": state.global_step,
                        "metric": t.metric,
                        "value": state.best_metric,
                        "num_processes": accelerator.num_processes,
                        "recipe": recipe.model_dump(mode="json"),
                    },
                    indent=2,
                ),
                encoding="utf-8",
            )

        if is_main:
            write_dir_atomically(run_dir / "best", write)
        accelerator.wait_for_everyone()

    progress = Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[speed]:.1f} it/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not is_main,
    )
    started, seconds_before = time.perf_counter(), state.train_seconds

    def training_time() -> float:
        """Training time so far, the time of the processes before a resume included."""
        return seconds_before + time.perf_counter() - started

    model.train()
    with progress:
        task = progress.add_task(
            "train", total=max_steps, completed=state.global_step, epoch=state.epoch + 1, loss=0.0, speed=0.0
        )
        try:
            while not state.finished and state.epoch < t.epochs:
                # The prepared loader re-sets its sampler's epoch from a counter of its own each time it is
                # iterated, and that counter restarts at 0 in a resumed run: set both, or a run resumed in
                # epoch 2 replays epoch 1's batch order.
                sampler.set_epoch(state.epoch)
                loader.set_epoch(state.epoch)
                progress.update(task, epoch=state.epoch + 1)
                seen, tick = 0, time.perf_counter()
                for step_in_epoch, batch in enumerate(loader):
                    if step_in_epoch < state.step_in_epoch:
                        continue  # already trained on before the interruption
                    if state.global_step >= max_steps:  # resumed from the checkpoint of the last step
                        state.finished = True
                        break
                    if tasks and t.auxiliary_schedule == "joint":
                        batch["auxiliary"] = {
                            task.name: {
                                k: v.to(accelerator.device)
                                for k, v in task.batch(
                                    t.seed, state.global_step, t.batch_size, collator
                                ).items()
                            }
                            for task in tasks
                        }
                    out = model(**batch)
                    accelerator.backward(out.loss)
                    accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                    state.global_step += 1
                    state.step_in_epoch = step_in_epoch + 1
                    state.epoch_loss_sum += out.loss.item()
                    seen += 1
                    elapsed = time.perf_counter() - tick
                    progress.update(
                        task,
                        advance=1,
                        loss=state.epoch_loss_sum / state.step_in_epoch,
                        speed=seen / max(elapsed, 1e-9),
                    )
                    if state.global_step % t.checkpoint_every == 0:
                        save_checkpoint()
                    if on_step_end is not None:
                        on_step_end(state)
                    if state.global_step >= max_steps:
                        state.finished = True
                        break
                # End of an epoch (or of max_steps): evaluate on dev, keep the best, maybe stop early.
                record = {
                    "epoch": state.epoch + 1,
                    "step": state.global_step,
                    "train_loss": state.epoch_loss_sum / max(state.step_in_epoch, 1),
                    "seconds": training_time(),
                }
                improved = True
                if dev_examples:
                    model.eval()
                    parser = TorchParser(main_model, tokenizer, gazetteer=gazetteer)
                    summary = evaluate_parser(parser, dev_examples, bootstrap=0)[0].to_dict()["summary"]
                    model.train()
                    value = summary[t.metric]
                    record["dev"] = summary
                    improved = state.best_metric is None or value > state.best_metric
                    if improved:
                        state.best_metric, state.best_epoch = value, state.epoch + 1
                        state.epochs_without_improvement = 0
                    else:
                        state.epochs_without_improvement += 1
                state.history.append(record)
                if is_main:
                    write_metrics(run_dir, [record], append=True)
                    dev_text = f" dev {t.metric}={record['dev'][t.metric]:.4f}" if dev_examples else ""
                    progress.console.print(
                        f"epoch {state.epoch + 1}: loss={record['train_loss']:.4f}{dev_text}"
                        + (" (best)" if improved and dev_examples else "")
                    )
                if improved:
                    save_best()
                state.epoch += 1
                state.step_in_epoch, state.epoch_loss_sum = 0, 0.0
                patience = t.early_stopping_patience
                if patience is not None and state.epochs_without_improvement >= patience:
                    if is_main:
                        progress.console.print(f"early stop: no better dev {t.metric} for {patience} epochs")
                    state.finished = True
                save_checkpoint()
        except KeyboardInterrupt:
            save_checkpoint()
            raise InterruptedRun(
                f"training interrupted at step {state.global_step}; a checkpoint is in {run_dir / 'checkpoints'}. "
                f"Continue with: nlu train RECIPE --output {run_dir} --resume"
            ) from None
    train_seconds = training_time()
    state.finished = True

    dev_metrics: dict = {}
    if is_main and dev_examples:
        result, predictions = evaluate_parser(TorchParser.load(run_dir / "best"), dev_examples)
        write_evaluation(
            result,
            dev_examples,
            predictions,
            run_dir / "report",
            title=f"{source.describe()} / {recipe.data.dev_split} — best model of {run_dir}",
            extra={"train_seconds": train_seconds, "best_epoch": state.best_epoch},
        )
        dev_metrics = result.to_dict()["summary"]
    accelerator.wait_for_everyone()
    return TrainResult(
        run_dir=run_dir,
        best_model_dir=run_dir / "best",
        best_metric=state.best_metric,
        dev_metrics=dev_metrics,
        train_seconds=train_seconds,
    )
