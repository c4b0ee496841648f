"""Training the generators (the knowledge-base describer, the template filler) from a recipe: each is a
:class:`GeneratorTask` that the one training loop (``nlu.training.loop.fit``) trains, with the same run
directory as a parser's (``recipe.yaml``, ``metrics.jsonl``, resumable ``checkpoints/step-N/``, an atomically
swapped ``best/``)."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import get_constant_schedule_with_warmup

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
    split_file,
)
from nlu.generation.records import RecordText, Vocab, group_references, read_records
from nlu.training.loop import TrainerState

logger = logging.getLogger(__name__)


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


class GeneratorTask:
    """A generator as the training loop (``nlu.training.loop.fit``) trains it: batches of similar target length,
    Adam with a constant rate after warm-up, the best epoch by dev BLEU (or the lowest loss)."""

    def __init__(self, recipe: GenerationRecipe, run_dir: Path, resume: bool, accelerator: Accelerator):
        self.recipe, self.accelerator = recipe, accelerator
        self.job = JOBS[recipe.task](recipe, run_dir, resume)  # reads and checks all data before any training
        self.model = self.job.model

    def prepare(self) -> tuple[torch.optim.Optimizer, object, int]:
        """Adam, a constant rate after ``warmup_ratio`` of the steps, everything handed to accelerate; the
        optimizer steps of the run."""
        t = self.recipe.training
        max_steps = t.max_steps or t.epochs * len(_batches(self.job.lengths, t.batch_size, t.seed, 0))
        optimizer = torch.optim.Adam(self.model.parameters(), lr=t.learning_rate)
        scheduler = get_constant_schedule_with_warmup(optimizer, int(t.warmup_ratio * max_steps))
        self.model, optimizer, scheduler = self.accelerator.prepare(self.model, optimizer, scheduler)
        return optimizer, scheduler, max_steps

    def save_run_files(self, run_dir: Path) -> None:
        (run_dir / "recipe.yaml").write_text(dump_generation_recipe(self.recipe), encoding="utf-8")
        self.job.save_run_files(run_dir)

    def batches(self, epoch: int):
        t, device = self.recipe.training, self.accelerator.device
        for indices in _batches(self.job.lengths, t.batch_size, t.seed, epoch):
            yield {
                k: v.to(device) for k, v in self.job.collate([self.job.train_set[i] for i in indices]).items()
            }

    def loss(self, model: torch.nn.Module, batch: dict, step: int) -> torch.Tensor:
        return model(**batch).loss

    def evaluate(self, model: torch.nn.Module, record: dict) -> tuple[dict, float]:
        """Dev loss and the task's dev scores (BLEU); BLEU picks the best epoch, else the lowest dev loss (the
        training loss without dev data)."""
        fields: dict = {}
        if self.job.dev_set:
            fields["dev_loss"] = _dev_loss(
                model, self.job.dev_set, self.recipe.training.batch_size, self.job.collate
            )
            fields.update(self.job.dev_scores(self.accelerator.unwrap_model(model)))
        if self.recipe.training.metric == "bleu" and "bleu" in fields:
            return fields, fields["bleu"]
        return fields, -fields.get("dev_loss", record["train_loss"])

    def save(self, folder: Path, state: TrainerState) -> None:
        self.job.save(self.accelerator.unwrap_model(self.model), folder)
        info = {
            "epoch": state.epoch + 1,
            "step": state.global_step,
            "metric": self.recipe.training.metric,
            "dev": state.history[-1],
            "recipe": self.recipe.model_dump(mode="json"),
        }
        (folder / "training_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")

    def finish(self, run_dir: Path, state: TrainerState) -> dict:
        """The best epoch's record."""
        return state.history[state.best_epoch - 1] if state.best_epoch and state.history else {}
