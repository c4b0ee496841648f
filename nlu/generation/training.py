"""Training a knowledge-base describer from a recipe: plain code on ``accelerate``, with the parser trainer's
run-directory contract (``recipe.yaml``, ``metrics.jsonl``, resumable ``checkpoints/step-N/``, an atomically
swapped ``best/``)."""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from nlu.data.registry import data_root
from nlu.errors import InterruptedRun, RecipeError
from nlu.generation.describe import KBDescriber
from nlu.generation.kb_describe import KBDescribeConfig, KBDescribeForGeneration
from nlu.generation.kb_describe.features import EncodedRecord, collate, encode_record
from nlu.generation.metrics import bleu
from nlu.generation.recipe import KBDescribeRecipe, dump_generation_recipe, load_generation_recipe
from nlu.generation.records import RecordText, Vocab, group_references, read_records
from nlu.training.checkpoints import list_checkpoints, prune_checkpoints, write_dir_atomically
from nlu.training.trainer import TrainerState, TrainResult, prepare_run_dir

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
    return run_kb_describe(recipe, Path(output_dir or recipe.output_dir), resume=resume, overwrite=overwrite)


def split_file(data, split: str) -> Path:
    """The JSON-lines file of ``split``: from ``data.files``, or ``$NLU_DATA_DIR/<dataset>/<split>.jsonl``."""
    if data.files is not None:
        if split not in data.files:
            raise RecipeError(
                [f"data.files: no {split!r} file; give one, e.g. files: {{{split}: path.jsonl}}"]
            )
        return Path(data.files[split])
    path = data_root() / data.dataset / f"{split}.jsonl"
    if not path.is_file():
        raise RecipeError(
            [
                f"data.dataset: {path} does not exist; set NLU_DATA_DIR to the folder that holds {data.dataset}/"
            ]
        )
    return path


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


def _dev_loss(model, encoded: list[EncodedRecord], batch_size: int) -> float:
    model.eval()
    total, words = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = collate(encoded[start : start + batch_size])
            n = int((batch["labels"] != -100).sum())
            total += model(**batch).loss.item() * n
            words += n
    model.train()
    return total / max(words, 1)


def run_kb_describe(recipe: KBDescribeRecipe, run_dir: Path, resume: bool = False, overwrite: bool = False):
    accelerator = Accelerator()
    recipe = prepare_run_dir(
        recipe, run_dir, resume, overwrite, load=load_generation_recipe, dump=dump_generation_recipe
    )
    t, m = recipe.training, recipe.model
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    set_seed(t.seed)

    # Data: read and check everything before building the model.
    train_items = read_records(split_file(recipe.data, recipe.data.train_split))
    dev_items = read_records(split_file(recipe.data, recipe.data.dev_split)) if recipe.data.dev_split else []
    if recipe.data.train_sample and recipe.data.train_sample < len(train_items):
        train_items = random.Random(t.seed).sample(train_items, recipe.data.train_sample)
    vocab = Vocab.load(run_dir) if resume else Vocab.build(train_items, m.min_word_count)
    options = m.model_dump(exclude={"min_word_count"})
    config = KBDescribeConfig(vocab_size=len(vocab.words), num_slot_types=len(vocab.slot_types), **options)
    model = KBDescribeForGeneration(config)
    train_set = [encode_record(it, vocab, m.max_position) for it in train_items]
    dev_set = [encode_record(it, vocab, m.max_position) for it in dev_items]
    optimizer = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "recipe.yaml").write_text(dump_generation_recipe(recipe), encoding="utf-8")
    vocab.save(run_dir)
    lengths = [len(e.target_ids or []) for e in train_set]
    steps_per_epoch = len(_batches(lengths, t.batch_size, t.seed, 0))
    max_steps = t.max_steps or t.epochs * steps_per_epoch

    state = TrainerState()
    if resume:
        checkpoint = list_checkpoints(run_dir)[-1]
        accelerator.load_state(str(checkpoint))
        state = TrainerState.load(checkpoint / "trainer_state.json")
        logger.info("resuming from %s (epoch %d, step %d)", checkpoint, state.epoch + 1, state.global_step)

    def save_checkpoint() -> None:
        final = run_dir / "checkpoints" / f"step-{state.global_step:07d}"
        tmp = run_dir / "checkpoints" / f".step-{state.global_step:07d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        accelerator.save_state(str(tmp))
        state.save(tmp / "trainer_state.json")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        prune_checkpoints(run_dir, t.keep_checkpoints)

    def save_best(metrics: dict) -> None:
        def write(folder: Path) -> None:
            KBDescriber(accelerator.unwrap_model(model), vocab).save(folder)
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
        metrics["seconds"] = (
            time.perf_counter() - started
        )  # since this process started (a resume restarts it)
        metrics["train_loss"] = state.epoch_loss_sum / max(state.step_in_epoch, 1)
        if dev_set:
            metrics["dev_loss"] = _dev_loss(model, dev_set, t.batch_size)
            if t.metric == "bleu":
                describer = KBDescriber(accelerator.unwrap_model(model), vocab)
                metrics.update(evaluate_describer(describer, dev_items, recipe.data.dev_sample, t.seed))
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
    started = time.perf_counter()
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
                        for k, v in collate([train_set[i] for i in indices]).items()
                    }
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    accelerator.clip_grad_norm_(model.parameters(), t.max_grad_norm)
                    optimizer.step()
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
                with (run_dir / "metrics.jsonl").open("a", encoding="utf-8") as f:
                    f.write(json.dumps(metrics) + "\n")
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
    train_seconds = time.perf_counter() - started
    best = state.history[state.best_epoch - 1] if state.best_epoch and state.history else {}
    return TrainResult(run_dir, run_dir / "best", state.best_metric, best, train_seconds)
