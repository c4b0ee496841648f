"""Several data sets in one joint model (``data.tasks``): one encoder, and for each data set its own intent head,
slot head and CRF (``nlu.models.jointbert``, ``config.tasks``), trained by the one loop
(:func:`nlu.training.loop.fit`) as a :class:`MultiTaskParserTask`.

Each batch holds utterances of one task and carries the task's index (``task_ids``), so its loss is that task's
joint loss on its own heads. ``training.task_schedule`` orders the batches of an epoch: ``mixed`` shuffles the
batches of every task together (each task trains as often as its share of the data), ``alternate`` takes one
batch of each task in turn (the larger tasks' batches run on alone at the end). Either way an epoch sees every
training utterance of every task once, and the order depends only on the seed and the epoch, so a resumed run
sees the batches an uninterrupted run would.

The best model is picked by the mean over the tasks of ``training.metric`` on their dev splits. ``best/`` holds
the one model, its tokenizer, and ``tasks/<name>/`` with each task's label files; ``report/<name>/`` the best
model's dev report for each task. One task of it is a single-task model (``model.for_task(name)``): that is
what ``nlu predict/evaluate/export --task NAME`` open.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
from accelerate import Accelerator
from transformers import AutoTokenizer

from nlu.data.alignment import detect_word_split
from nlu.data.example import Example
from nlu.data.labels import LabelVocab
from nlu.data.registry import has_split, load_split
from nlu.errors import RecipeError
from nlu.models import build_model, save_model
from nlu.models.backbones import resolve_backbone
from nlu.training.data import BucketBatchSampler, Collator, count_truncated, encode_examples, warn_truncated
from nlu.training.loop import TrainerState
from nlu.training.parser_task import ParserTask
from nlu.training.recipe import Recipe, dump_recipe

logger = logging.getLogger(__name__)

SCORES = ("intent_accuracy", "slot_f1", "exact_match")
TASKS_DIR = "tasks"


@dataclass
class TaskData:
    """One task's data, read and checked before any model is built."""

    name: str
    source_name: str  # for the dev report's title
    dev_split: str | None
    train: list[Example]
    dev: list[Example]
    labels: LabelVocab
    word_split: str


def load_task_data(recipe: Recipe) -> list[TaskData]:
    """Each task's train and dev splits (dev may be absent), its training sample (``train_sample``), its label
    vocabularies and its word splitting rule, in the recipe's order."""
    tasks = []
    for section in recipe.data.tasks or []:
        source = section.source()
        train = load_split(source, section.train_split)
        dev_split = section.dev_split if section.dev_split and has_split(source, section.dev_split) else None
        dev = load_split(source, dev_split) if dev_split else []
        if section.train_sample and section.train_sample < len(train):
            train = random.Random(recipe.training.seed).sample(train, section.train_sample)
        word_split = detect_word_split(ex.tokens for ex in train)
        labels = LabelVocab.from_examples(train)
        tasks.append(TaskData(section.name, source.describe(), dev_split, train, dev, labels, word_split))
        logger.info(
            "task %s: %d training utterances, %d intents, %d slot types",
            section.name,
            len(train),
            len(labels.known_intents),
            len(labels.slot_types),
        )
    return tasks


class TaskBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of one task each, as indices into the tasks' rows concatenated in task order.

    ``lengths``: per task, the sub-token length of each row. Each task's rows are bucketed by length as a
    single-task run buckets them (:class:`BucketBatchSampler`), then ``schedule`` orders the batches of all
    tasks: ``mixed`` (shuffled together) or ``alternate`` (round robin). Set ``epoch`` before iterating."""

    def __init__(self, lengths: Sequence[Sequence[int]], batch_size: int, seed: int, schedule: str = "mixed"):
        if schedule not in ("mixed", "alternate"):
            raise ValueError(f"schedule must be mixed or alternate, got {schedule!r}")
        self.tasks = [BucketBatchSampler(task_lengths, batch_size, seed=seed) for task_lengths in lengths]
        self.offsets = [0]
        for task_lengths in lengths[:-1]:
            self.offsets.append(self.offsets[-1] + len(task_lengths))
        self.seed, self.schedule, self.epoch = seed, schedule, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for sampler in self.tasks:
            sampler.set_epoch(epoch)

    def task_batches(self) -> list[list[tuple[int, list[int]]]]:
        """Per task, its batches of the epoch as (task index, row indices into the concatenation)."""
        return [
            [(t, [offset + i for i in batch]) for batch in sampler]
            for t, (sampler, offset) in enumerate(zip(self.tasks, self.offsets, strict=True))
        ]

    def ordered(self) -> list[tuple[int, list[int]]]:
        """The epoch's batches with their task, in training order."""
        per_task = self.task_batches()
        if self.schedule == "mixed":
            batches = [batch for task in per_task for batch in task]
            random.Random(self.seed * 7_919 + self.epoch).shuffle(batches)
            return batches
        order = []
        for k in range(max((len(task) for task in per_task), default=0)):
            order.extend(task[k] for task in per_task if k < len(task))
        return order

    def __iter__(self) -> Iterator[list[int]]:
        yield from (rows for _, rows in self.ordered())

    def __len__(self) -> int:
        return sum(len(sampler) for sampler in self.tasks)


class TaskCollator(Collator):
    """A :class:`Collator` that adds the batch's ``task_ids`` (batch,) from each row's ``task_id``."""

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        batch = super().__call__(rows)
        batch["task_ids"] = torch.tensor([r["task_id"] for r in rows], dtype=torch.long)
        return batch


class MultiTaskParserTask(ParserTask):
    """Several data sets in one joint model, as the loop trains it: a :class:`ParserTask` whose batches each
    hold one task (``task_ids``), whose dev score is the mean over the tasks, and whose ``best/`` and report
    hold every task. The optimizer, the schedule, the epoch's batches and the step's loss are the parent's."""

    def __init__(self, recipe: Recipe, tasks: list[TaskData], accelerator: Accelerator, resume: bool):
        if accelerator.num_processes > 1:
            # each step trains one task's heads only, which distributed data parallel takes for a bug
            raise RecipeError(
                ["data.tasks: multi-task training runs in one process for now; start it without a launcher"]
            )
        self.recipe, self.tasks, self.accelerator = recipe, tasks, accelerator
        m = recipe.model
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(m.backbone))
        if not getattr(self.tokenizer, "is_fast", False):
            raise RecipeError(
                [f"model.backbone: {m.backbone!r} has no fast tokenizer; word alignment needs one"]
            )
        self.gazetteer, self.teacher, self.auxiliary = None, None, []
        self.last_dev: dict | None = None  # the latest mean dev scores, for the model card of best/
        self.main_model = build_model(
            m.architecture,
            backbone=m.backbone,
            labels=tasks[0].labels,
            tasks={task.name: (task.labels, task.word_split) for task in tasks},
            word_split=tasks[0].word_split,
            **m.architecture_options(),
        )
        if m.freeze_embeddings:
            self.main_model.encoder.get_input_embeddings().weight.requires_grad_(False)
        self.model = self.main_model
        self._task_batches()

    def _task_batches(self) -> None:
        """Every task's training split encoded, tagged with its task's index, concatenated; batched by
        :class:`TaskBatchSampler`."""
        m, t = self.recipe.model, self.recipe.training
        encoded = []
        for index, task in enumerate(self.tasks):
            rows = encode_examples(
                task.train, self.tokenizer, task.labels, m.max_length, what=f"training ({task.name})"
            )
            encoded.append(rows.add_column("task_id", [index] * len(rows)))
            if task.dev:
                truncated, longest = count_truncated(task.dev, self.tokenizer, m.max_length)
                warn_truncated(truncated, len(task.dev), longest, m.max_length, f"dev ({task.name})")
        self.collator = TaskCollator(self.tokenizer.pad_token_id or 0)
        self.sampler = TaskBatchSampler(
            [[len(ids) for ids in rows["input_ids"]] for rows in encoded],
            t.batch_size,
            t.seed,
            t.task_schedule,
        )
        self.loader = torch.utils.data.DataLoader(
            datasets.concatenate_datasets(encoded).with_format(None),
            batch_sampler=self.sampler,
            collate_fn=self.collator,
            generator=torch.Generator().manual_seed(t.seed),  # as ParserTask: no draw from the global RNG
        )

    def save_run_files(self, run_dir: Path) -> None:
        (run_dir / "recipe.yaml").write_text(dump_recipe(self.recipe), encoding="utf-8")
        self._save_labels(run_dir)

    def _save_labels(self, folder: Path) -> None:
        for task in self.tasks:
            (folder / TASKS_DIR / task.name).mkdir(parents=True, exist_ok=True)
            task.labels.save(folder / TASKS_DIR / task.name)

    def evaluate(self, model: torch.nn.Module, record: dict) -> tuple[dict, float | None]:
        """Each task's dev scores, and their mean; the mean of ``training.metric`` picks the best model (none
        when no task has a dev split)."""
        from nlu.evaluation.evaluate import evaluate_parser
        from nlu.inference import TorchParser

        per_task = {}
        for task in self.tasks:
            if task.dev:
                parser = TorchParser(self.main_model.for_task(task.name), self.tokenizer)
                per_task[task.name] = evaluate_parser(parser, task.dev, bootstrap=0)[0].to_dict()["summary"]
        if not per_task:
            return {}, None
        metric = self.recipe.training.metric
        keys = [*SCORES, metric] if metric not in SCORES else SCORES
        mean = {k: sum(s[k] for s in per_task.values()) / len(per_task) for k in keys}
        self.last_dev = mean
        return {"dev": mean, "dev_tasks": per_task}, mean[metric]

    def save(self, folder: Path, state: TrainerState) -> None:
        """The multi-task model (``auto_map``; ``id2label`` is the first task's intents, as ``intent_labels``),
        its tokenizer, each task's labels under ``tasks/<name>/``, and its model card (every task's labels and
        mean dev scores)."""
        from nlu.model_card import CARD_FILE, training_card

        save_model(self.main_model, folder)
        self.tokenizer.save_pretrained(folder)
        self._save_labels(folder)
        recipe = self.recipe.model_dump(mode="json")
        # the card names one data set; here it is every task's
        recipe_for_card = recipe | {
            "data": {"dataset": ", ".join(f"{t.name} ({t.source_name})" for t in self.tasks)}
        }
        card = training_card(
            folder.parent.name,  # the run directory's name (``folder`` is a temporary folder inside it)
            self.recipe.model.architecture,
            recipe_for_card,
            list(dict.fromkeys(i for t in self.tasks for i in t.labels.intents)),
            list(dict.fromkeys(s for t in self.tasks for s in t.labels.slots)),
            int(self.main_model.config.max_seq_length),
            sorted({ex.lang for t in self.tasks for ex in t.train}),
            self.last_dev,
            sum(len(t.train) for t in self.tasks),
            extras={"tasks (choose one with --task NAME)": len(self.tasks)},
        )
        (folder / CARD_FILE).write_text(card, encoding="utf-8")
        info = {
            "epoch": state.epoch + 1,
            "step": state.global_step,
            "metric": f"mean over tasks of {self.recipe.training.metric}",
            "value": state.best_metric,
            "tasks": [task.name for task in self.tasks],
            "num_processes": self.accelerator.num_processes,
            "recipe": self.recipe.model_dump(mode="json"),
        }
        (folder / "training_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")

    def finish(self, run_dir: Path, state: TrainerState) -> dict:
        """The best model evaluated on each task's dev split, a report per task in ``run_dir/report/<name>``;
        their summaries by task, and their mean."""
        from nlu.evaluation.evaluate import evaluate_parser, write_evaluation
        from nlu.inference import TorchParser

        summaries = {}
        for task in self.tasks:
            if not task.dev:
                continue
            parser = TorchParser.load(run_dir / "best", task=task.name)
            result, predictions = evaluate_parser(parser, task.dev)
            write_evaluation(
                result,
                task.dev,
                predictions,
                run_dir / "report" / task.name,
                title=f"{task.source_name} / {task.dev_split} — task {task.name} of the best model of {run_dir}",
                extra={
                    "train_seconds": state.train_seconds,
                    "best_epoch": state.best_epoch,
                    "task": task.name,
                },
            )
            summaries[task.name] = result.to_dict()["summary"]
        if not summaries:
            return {}
        mean = {k: sum(s[k] for s in summaries.values()) / len(summaries) for k in SCORES}
        return mean | {"tasks": summaries}
