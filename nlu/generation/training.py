"""Training a knowledge-base describer from a recipe: plain code on ``accelerate``, with the parser trainer's
run-directory contract (``recipe.yaml``, ``metrics.jsonl``, resumable ``checkpoints/step-N/``, an atomically
swapped ``best/``)."""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import get_constant_schedule_with_warmup

from nlu.errors import InterruptedRun
from nlu.generation.describe import KBDescriber
from nlu.generation.dialogues import ITEM
from nlu.generation.kb_describe import KBDescribeConfig, KBDescribeForGeneration
from nlu.generation.kb_describe.features import collate, encode_record
from nlu.generation.metrics import bleu
from nlu.generation.recipe import (
    GenerationRecipe,
    KBDescribeRecipe,
    NTRDRecipe,
    catalogue_file,
    dump_generation_recipe,
    load_generation_recipe,
    split_file,
)
from nlu.generation.records import RecordText, Vocab, group_references, read_records
from nlu.training.checkpoints import (
    damaged_checkpoint,
    list_checkpoints,
    prune_checkpoints,
    run_dir_lock,
    write_dir_atomically,
)
from nlu.training.trainer import TrainerState, TrainResult, prepare_run_dir, write_metrics

logger = logging.getLogger(__name__)


def train_generator(
    recipe_path: str | Path,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainResult:
    """Train the generator a recipe with a ``task`` key describes; ``overrides`` as ``--set`` takes them."""
    recipe = load_generation_recipe(recipe_path, list(overrides))
    run_dir = Path(output_dir or recipe.output_dir)
    with run_dir_lock(run_dir):
        return run_generator(recipe, run_dir, resume=resume, overwrite=overwrite)


def _batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffled batches of similar target length (fewer padded decoder steps), the same for a seed and epoch."""
    rng = random.Random(seed * 1_000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def evaluate_describer(
    describer: KBDescriber,
    items: list[RecordText],
    sample: int | None = None,
    seed: int = 0,
    beam_size: int | None = 1,
) -> dict:
    """BLEU of the texts generated for the distinct records of ``items`` against all their references."""
    groups = group_references(items)
    if sample and sample < len(groups):
        groups = random.Random(seed).sample(groups, sample)
    texts = describer.describe([RecordText(g[0]) for g in groups], beam_size=beam_size)
    return {"bleu": bleu(texts, [g[1] for g in groups]), "records": len(groups)}


def _dev_loss(model, encoded: list, batch_size: int, collate_fn: Callable[[list], dict]) -> float:
    """Mean loss per target word over ``encoded``, teacher-forced, without dropout."""
    model.eval()
    total, words = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = collate_fn(encoded[start : start + batch_size])
            n = int((batch["labels"] != -100).sum())
            total += model(**batch).loss.item() * n
            words += n
    model.train()
    return total / max(words, 1)


@dataclass
class GeneratorJob:
    """What the loop needs from a task: the model, encoded data, how to batch it, how to score dev and how to
    write the best model. ``lengths`` (target lengths) let batches group similar lengths."""

    model: torch.nn.Module
    train_set: list
    dev_set: list
    lengths: list[int]
    collate: Callable[[list], dict]
    dev_scores: Callable[[torch.nn.Module], dict]  # extra dev metrics (e.g. bleu), given the unwrapped model
    save: Callable[[torch.nn.Module, Path], None]
    save_run_files: Callable[[Path], None]  # vocabularies etc. written once into the run directory


def _kb_describe_job(recipe: KBDescribeRecipe, run_dir: Path, resume: bool) -> GeneratorJob:
    t, m = recipe.training, recipe.model
    train_items = read_records(split_file(recipe.data, recipe.data.train_split))
    dev_items = read_records(split_file(recipe.data, recipe.data.dev_split)) if recipe.data.dev_split else []
    if recipe.data.train_sample and recipe.data.train_sample < len(train_items):
        train_items = random.Random(t.seed).sample(train_items, recipe.data.train_sample)
    vocab = Vocab.load(run_dir) if resume else Vocab.build(train_items, m.min_word_count)
    options = m.model_dump(exclude={"min_word_count"})
    config = KBDescribeConfig(vocab_size=len(vocab.words), num_slot_types=len(vocab.slot_types), **options)
    train_set = [encode_record(it, vocab, m.max_position) for it in train_items]

    def dev_scores(model) -> dict:
        if t.metric != "bleu" or not dev_items:
            return {}
        return evaluate_describer(KBDescriber(model, vocab), dev_items, recipe.data.dev_sample, t.seed)

    return GeneratorJob(
        model=KBDescribeForGeneration(config),
        train_set=train_set,
        dev_set=[encode_record(it, vocab, m.max_position) for it in dev_items],
        lengths=[len(e.target_ids or []) for e in train_set],
        collate=collate,
        dev_scores=dev_scores,
        save=lambda model, folder: KBDescriber(model, vocab).save(folder),
        save_run_files=vocab.save,
    )


def _ntrd_job(recipe: NTRDRecipe, run_dir: Path, resume: bool) -> GeneratorJob:
    from nlu.generation.dialogues import read_catalogue, read_dialogues, reply_instances
    from nlu.generation.ntrd import NTRDConfig, NTRDForTemplateFilling
    from nlu.generation.ntrd.features import build_vocab, encode_reply, title_ids
    from nlu.generation.ntrd.features import collate as collate_replies
    from nlu.generation.respond import Recommender, evaluate_recommender

    t, m = recipe.training, recipe.model
    dialogues = read_dialogues(split_file(recipe.data, recipe.data.train_split))
    if recipe.data.dev_split:
        dev_dialogues = read_dialogues(split_file(recipe.data, recipe.data.dev_split))
    else:  # hold out whole dialogues of the train split, so no context is shared
        shuffled = random.Random(t.seed).sample(dialogues, len(dialogues))
        cut = max(1, int(len(shuffled) * recipe.data.dev_fraction))
        dev_dialogues, dialogues = shuffled[:cut], shuffled[cut:]
    catalogue = read_catalogue(catalogue_file(recipe.data))
    for d in dialogues:  # movies of the training dialogues are candidates even if the catalogue lacks them
        for movie, title in d.titles.items():
            catalogue.setdefault(movie, " ".join(title.split()))
    items = sorted(catalogue.items(), key=lambda kv: int(kv[0][1:]) if kv[0][1:].isdigit() else 0)
    if resume:
        items = [tuple(x) for x in json.loads((run_dir / "items.json").read_text(encoding="utf-8"))]
    train_instances = reply_instances(dialogues, m.max_context_length)
    dev_instances = reply_instances(dev_dialogues, m.max_context_length)
    vocab = (
        Vocab.load(run_dir)
        if resume
        else build_vocab(train_instances, [x[1] for x in items], m.min_word_count)
    )
    item_index = {item_id: k + 1 for k, (item_id, _) in enumerate(items)}
    options = m.model_dump(exclude={"min_word_count"})
    config = NTRDConfig(
        vocab_size=len(vocab.words), item_token_id=vocab.word_id(ITEM), num_items=len(items) + 1, **options
    )
    model = NTRDForTemplateFilling(config)
    model.item_titles.copy_(title_ids([x[1] for x in items], vocab, m.title_length))

    def encode(instances):
        return [
            encode_reply(i, vocab, item_index, m.max_context_length, m.max_reply_length) for i in instances
        ]

    def dev_scores(model) -> dict:
        if t.metric != "bleu" or not dev_instances:
            return {}
        sample = dev_instances[: recipe.data.dev_sample] if recipe.data.dev_sample else dev_instances
        scores = evaluate_recommender(Recommender(model, vocab, items), sample)
        return {"bleu": scores["bleu_2"], "recall_at_10": scores["recall_at_10"]}

    def save_run_files(folder: Path) -> None:
        vocab.save(folder)
        (folder / "items.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")

    train_set = encode(train_instances)
    return GeneratorJob(
        model=model,
        train_set=train_set,
        dev_set=encode(dev_instances),
        lengths=[len(e.template_ids) for e in train_set],
        collate=lambda batch: collate_replies(batch, config.item_token_id),
        dev_scores=dev_scores,
        save=lambda model, folder: Recommender(model, vocab, items).save(folder),
        save_run_files=save_run_files,
    )


JOBS: dict[str, Callable] = {"kb_describe": _kb_describe_job, "ntrd": _ntrd_job}


def run_generator(recipe: GenerationRecipe, run_dir: Path, resume: bool = False, overwrite: bool = False):
    accelerator = Accelerator()
    recipe = prepare_run_dir(
        recipe, run_dir, resume, overwrite, load=load_generation_recipe, dump=dump_generation_recipe
    )
    t = recipe.training
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    set_seed(t.seed)
    job = JOBS[recipe.task](recipe, run_dir, resume)  # reads and checks all data before any training
    lengths = job.lengths
    max_steps = t.max_steps or t.epochs * len(_batches(lengths, t.batch_size, t.seed, 0))
    optimizer = torch.optim.Adam(job.model.parameters(), lr=t.learning_rate)
    scheduler = get_constant_schedule_with_warmup(optimizer, int(t.warmup_ratio * max_steps))
    model, optimizer, scheduler = accelerator.prepare(job.model, optimizer, scheduler)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "recipe.yaml").write_text(dump_generation_recipe(recipe), encoding="utf-8")
    job.save_run_files(run_dir)

    state = TrainerState()
    if resume:
        checkpoint = list_checkpoints(run_dir)[-1]
        try:
            accelerator.load_state(str(checkpoint))
            state = TrainerState.load(checkpoint / "trainer_state.json")
        except Exception as err:  # torch, safetensors, pickle and json each raise their own error types
            raise damaged_checkpoint(run_dir, checkpoint, err) from None
        logger.info("resuming from %s (epoch %d, step %d)", checkpoint, state.epoch + 1, state.global_step)
        write_metrics(run_dir, state.history)  # what the checkpoint knows; a later evaluation is repeated

    def save_checkpoint() -> None:
        final = run_dir / "checkpoints" / f"step-{state.global_step:07d}"
        tmp = run_dir / "checkpoints" / f".step-{state.global_step:07d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        accelerator.save_state(str(tmp))
        state.train_seconds = training_time()
        state.save(tmp / "trainer_state.json")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        prune_checkpoints(run_dir, t.keep_checkpoints)

    def save_best(metrics: dict) -> None:
        def write(folder: Path) -> None:
            job.save(accelerator.unwrap_model(model), folder)
            (folder / "training_info.json").write_text(
                json.dumps(
                    {"epoch": state.epoch + 1, "step": state.global_step, "metric": t.metric, "dev": metrics,
                     "recipe": recipe.model_dump(mode="json")},
                    indent=2,
                ),
                encoding="utf-8",
            )  # fmt: skip

        write_dir_atomically(run_dir / "best", write)

    def evaluate_epoch() -> dict:
        metrics: dict = {"epoch": state.epoch + 1, "step": state.global_step}
        metrics["seconds"] = training_time()
        metrics["train_loss"] = state.epoch_loss_sum / max(state.step_in_epoch, 1)
        if job.dev_set:
            metrics["dev_loss"] = _dev_loss(model, job.dev_set, t.batch_size, job.collate)
            metrics.update(job.dev_scores(accelerator.unwrap_model(model)))
            model.train()
        return metrics

    progress = Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    started, seconds_before = time.perf_counter(), state.train_seconds

    def training_time() -> float:
        """Training time so far, the time of the processes before a resume included."""
        return seconds_before + time.perf_counter() - started

    model.train()
    with progress:
        task = progress.add_task("train", total=max_steps, completed=state.global_step, epoch=1, loss=0.0)
        try:
            while not state.finished and state.epoch < t.epochs:
                progress.update(task, epoch=state.epoch + 1)
                for step_in_epoch, indices in enumerate(_batches(lengths, t.batch_size, t.seed, state.epoch)):
                    if step_in_epoch < state.step_in_epoch:
                        continue  # trained on before the interruption
                    batch = {
                        k: v.to(accelerator.device)
                        for k, v in job.collate([job.train_set[i] for i in indices]).items()
                    }
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                    state.global_step += 1
                    state.step_in_epoch = step_in_epoch + 1
                    state.epoch_loss_sum += loss.item()
                    progress.update(task, advance=1, loss=loss.item())
                    if state.global_step % t.checkpoint_every == 0:
                        save_checkpoint()
                    if state.global_step >= max_steps:
                        state.finished = True
                        break
                metrics = evaluate_epoch()
                if t.metric == "bleu" and "bleu" in metrics:
                    score = metrics["bleu"]
                else:  # lower loss is better; without dev data the training loss is all there is
                    score = -metrics.get("dev_loss", metrics["train_loss"])
                improved = state.best_metric is None or score > state.best_metric
                if improved:
                    state.best_metric, state.best_epoch = score, state.epoch + 1
                    state.epochs_without_improvement = 0
                    save_best(metrics)
                else:
                    state.epochs_without_improvement += 1
                metrics["best"] = improved
                state.history.append(metrics)
                write_metrics(run_dir, [metrics], append=True)
                shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
                progress.console.print(f"epoch {state.epoch + 1}: {shown}" + (" (best)" if improved else ""))
                state.epoch += 1
                state.step_in_epoch, state.epoch_loss_sum = 0, 0.0
                if (
                    t.early_stopping_patience
                    and state.epochs_without_improvement >= t.early_stopping_patience
                ):
                    state.finished = True
                save_checkpoint()
        except KeyboardInterrupt:
            save_checkpoint()
            raise InterruptedRun(
                f"checkpoint written at step {state.global_step}; continue with "
                f"`nlu train {run_dir / 'recipe.yaml'} --output {run_dir} --resume`"
            ) from None
    train_seconds = training_time()
    best = state.history[state.best_epoch - 1] if state.best_epoch and state.history else {}
    return TrainResult(run_dir, run_dir / "best", state.best_metric, best, train_seconds)
