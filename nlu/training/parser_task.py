"""Training a joint intent/slot parser from its recipe: the :class:`~nlu.training.loop.Task` that
:func:`nlu.training.loop.fit` trains, set up in the steps a recipe reads in (data, model, batches, optimizer).

The run directory gets, besides the loop's files, ``intent_labels.txt``/``slot_labels.txt`` (the vocabularies
of the training split), ``augmentation.json`` when the recipe augments the data, and ``report/``: the best
model's evaluation on dev (report.md, metrics.json, plots).
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import AutoTokenizer

from nlu.data.alignment import detect_word_split
from nlu.data.example import Example
from nlu.data.formats import read_examples
from nlu.data.labels import LabelVocab
from nlu.data.lexicon import Gazetteer
from nlu.data.registry import data_root, has_split, load_split, resolve
from nlu.errors import RecipeError
from nlu.models import build_model, save_model
from nlu.models.backbones import resolve_backbone
from nlu.rules import ParseRules
from nlu.training.auxiliary import AuxiliaryTask, MultiTaskModel, pretrain_encoder
from nlu.training.data import BucketBatchSampler, Collator, count_truncated, encode_examples, warn_truncated
from nlu.training.loop import TrainerState, prepare_run
from nlu.training.recipe import CodeSwitchSection, LexiconSection, NoiseSection, Recipe, dump_recipe

logger = logging.getLogger(__name__)


@dataclass
class ParserData:
    """A recipe's data, read and checked before any model is built."""

    source_name: str  # for the dev report's title
    train: list[Example]
    dev: list[Example]
    labels: LabelVocab
    word_split: str  # how typed text is split: as the training split writes words (nlu.data.alignment)
    augmentation: dict | None = None
    rules: ParseRules = ParseRules()  # the training data's synonyms and regexes, applied at every parse
    lookups: dict[str, list[str]] | None = (
        None  # the training data's lookup tables (model.lexicon.lookup_tables)
    )


def load_data(recipe: Recipe) -> ParserData:
    """The train and dev splits (dev may be absent), intents renamed by ``data.intent_map``, the train split
    sampled (``data.train_sample``) and augmented (``data.augment``), and the label vocabularies of the result;
    the synonyms, regexes and lookup tables of Rasa training data (read before sampling: they ride on its first
    example's meta)."""
    from nlu.data.rasa_yaml import training_extras

    data, seed = recipe.data, recipe.training.seed
    source = data.source()
    train = load_split(source, data.train_split)
    extras = training_extras(train)
    rules = ParseRules.from_training_data(extras.synonyms, extras.regexes)
    if extras.lookups and not (recipe.model.lexicon and recipe.model.lexicon.lookup_tables):
        logger.info(
            "the training data has %d lookup table(s) (%s); set model.lexicon.lookup_tables: true to use them as "
            "gazetteer features",
            len(extras.lookups),
            ", ".join(extras.lookups),
        )
    dev = load_split(source, data.dev_split) if data.dev_split and has_split(source, data.dev_split) else []
    if data.intent_map:  # one label scheme for data sets that name the same intent differently
        for ex in (*train, *dev):
            ex.intent = data.intent_map.get(ex.intent, ex.intent)
    if data.train_sample and data.train_sample < len(train):
        # sampled before augmentation, so code-switched copies come from the sampled utterances only
        train = random.Random(seed).sample(train, data.train_sample)
    word_split = detect_word_split(ex.tokens for ex in train)
    augmentation: dict = {}
    if data.augment and data.augment.code_switch:
        train, augmentation["code_switch"] = code_switch(data.augment.code_switch, train, seed)
    if data.augment and data.augment.noise:
        train, augmentation["noise"] = add_noise(data.augment.noise, train, seed, word_split)
    labels = LabelVocab.from_examples(train)
    return ParserData(
        source.describe(), train, dev, labels, word_split, augmentation or None, rules, extras.lookups
    )


def add_noise(section: NoiseSection, examples: list, default_seed: int, rule: str) -> tuple[list, dict]:
    """The train split with perturbed copies added, typed the way people type, and the augmentation's report."""
    from nlu.data.augment.noise import NoiseAugmenter

    seed = default_seed if section.seed is None else section.seed
    augmented = NoiseAugmenter(section.rates(), section.copies, seed, rule).augment(examples)
    logger.info("noise: %d utterances -> %d (%s)", len(examples), len(augmented), section.rates())
    return augmented, {
        "rates": section.rates(),
        "copies": section.copies,
        "seed": seed,
        "added": len(augmented) - len(examples),
    }


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


def build_gazetteer(
    lexicon: LexiconSection, train_examples: list, lookups: dict[str, list[str]] | None = None
) -> Gazetteer:
    """The recipe's phrase lists: from files, the listed slot types' values in the train split, or the lookup
    tables of the (Rasa) training data."""
    if lexicon.files:
        return Gazetteer.from_files(lexicon.files)
    if lexicon.lookup_tables:
        if not lookups:
            raise RecipeError(
                [
                    "model.lexicon.lookup_tables: the training data has no lookup tables (Rasa `- lookup:` "
                    "sections); name phrase files with model.lexicon.files instead"
                ]
            )
        return Gazetteer(lookups)
    return Gazetteer.from_examples(train_examples, lexicon.from_train or [])


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


def parameter_groups(model: torch.nn.Module, recipe: Recipe) -> list[dict]:
    """AdamW's groups: no weight decay on biases and LayerNorm; heads (and CRF) may learn faster than the
    encoder (``training.head_learning_rate``), and lower encoder layers slower than upper ones
    (``training.layer_lr_decay``)."""
    t = recipe.training
    groups: dict[tuple[bool, bool, int], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_head = not name.startswith(("encoder.", "main.encoder."))  # main.: inside a MultiTaskModel
        no_decay = param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
        steps_down = 0 if is_head or t.layer_lr_decay == 1.0 else _layers_below_the_top(model, name)
        groups.setdefault((is_head, no_decay, steps_down), []).append(param)
    return [
        {
            "params": params,
            "lr": (t.head_learning_rate or t.learning_rate)
            if is_head
            else t.learning_rate * t.layer_lr_decay**steps_down,
            "weight_decay": 0.0 if no_decay else t.weight_decay,
        }
        for (is_head, no_decay, steps_down), params in sorted(groups.items())
    ]


_LAYER_INDEX = re.compile(r"\.layers?\.(\d+)\.")


def _layers_below_the_top(model: torch.nn.Module, name: str) -> int:
    """How many decay steps an encoder parameter is below the heads: L + 1 - k for layer k (1-based) of L, L + 1
    for the embeddings, 1 for what sits above the layers (a pooler, a final norm): ELECTRA's depths."""
    encoder = model.main.encoder if name.startswith("main.") else model.encoder
    num_layers = encoder.config.num_hidden_layers
    match = _LAYER_INDEX.search(name)
    if match:
        return num_layers - int(match.group(1))
    return num_layers + 1 if "embed" in name else 1


class ParserTask:
    """A joint parser as the loop trains it: the model (with auxiliary heads under the joint schedule), its
    length-bucketed batches, the dev evaluation that picks the best model, and what ``best/`` holds."""

    def __init__(self, recipe: Recipe, data: ParserData, accelerator: Accelerator, resume: bool):
        self.recipe, self.data, self.accelerator = recipe, data, accelerator
        m, t = recipe.model, recipe.training
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_backbone(m.backbone))
        if not getattr(self.tokenizer, "is_fast", False):
            raise RecipeError(
                [f"model.backbone: {m.backbone!r} has no fast tokenizer; word alignment needs one"]
            )
        self.gazetteer = build_gazetteer(m.lexicon, data.train, data.lookups) if m.lexicon else None
        self.last_dev: dict | None = None  # the latest dev scores, for the model card of best/
        self.main_model = build_model(
            m.architecture,
            backbone=m.backbone,
            labels=data.labels,
            lexicon_types=self.gazetteer.types if self.gazetteer else None,
            word_split=data.word_split,
            **m.architecture_options(),
        )
        if m.init_from is not None or m.encoder_layers is not None:
            from nlu.models.shrinking import start_from

            start_from(self.main_model, m.init_from, m.encoder_layers)
        if m.freeze_embeddings:
            self.main_model.encoder.get_input_embeddings().weight.requires_grad_(False)
        self.teacher = None
        if (
            t.distillation is not None
        ):  # after the student is built: its initialisation is the same either way
            from nlu.training.distill import teacher_targets

            d = t.distillation
            self.teacher = teacher_targets(
                d.teachers, data.train, data.labels.intents, data.labels.slots, d.temperature
            )
        self._batches(resume)
        self.model = self.main_model
        if self.auxiliary and t.auxiliary_schedule == "joint":
            self.model = MultiTaskModel(self.main_model, self.auxiliary, m.classifier_dropout)

    def _batches(self, resume: bool) -> None:
        """The training split encoded and bucketed by length, the auxiliary tasks, and the intermediate
        schedule's first stage (not again on resume: the checkpoint holds the encoder it trained)."""
        m, t, train = self.recipe.model, self.recipe.training, self.data.train
        train_set = encode_examples(
            train, self.tokenizer, self.data.labels, m.max_length, gazetteer=self.gazetteer
        )
        if self.teacher is not None:
            train_set = train_set.add_column("index", list(range(len(train))))
        if self.data.dev and self.accelerator.is_main_process:
            truncated, longest = count_truncated(self.data.dev, self.tokenizer, m.max_length)
            warn_truncated(truncated, len(self.data.dev), longest, m.max_length, "dev")
        self.collator = Collator(self.tokenizer.pad_token_id or 0)
        self.sampler = BucketBatchSampler(
            [len(ids) for ids in train_set["input_ids"]], t.batch_size, seed=t.seed
        )
        self.loader = torch.utils.data.DataLoader(
            train_set.with_format(None),
            batch_sampler=self.sampler,
            collate_fn=self.collator,
            # A private generator: creating the iterator must not draw from the global RNG, or a resumed run's
            # dropout masks would differ from the uninterrupted run's.
            generator=torch.Generator().manual_seed(t.seed),
        )
        self.auxiliary = load_auxiliary_tasks(self.recipe.data.auxiliary or [], self.tokenizer, m.max_length)
        if self.auxiliary and t.auxiliary_schedule == "intermediate" and not resume:
            first_stage = MultiTaskModel(self.main_model, self.auxiliary, m.classifier_dropout)
            lr = t.head_learning_rate or t.learning_rate
            pretrain_encoder(
                first_stage, self.auxiliary, self.collator, t.auxiliary_epochs, t.batch_size, lr, t.seed,
                self.accelerator.device,
            )  # fmt: skip

    def prepare(self) -> tuple[torch.optim.Optimizer, object, int]:
        """The optimizer and the linear warm-up/decay schedule over the whole run, everything handed to
        accelerate, and the optimizer steps this process takes (``max_steps`` counts batches over all
        processes: N processes take max_steps / N each)."""
        t = self.recipe.training
        total_steps = t.max_steps or t.epochs * len(self.loader)
        optimizer = torch.optim.AdamW(parameter_groups(self.model, self.recipe))
        return prepare_run(self, optimizer, total_steps)

    def save_run_files(self, run_dir: Path) -> None:
        (run_dir / "recipe.yaml").write_text(dump_recipe(self.recipe), encoding="utf-8")
        self.data.labels.save(run_dir)
        if self.data.augmentation is not None:
            (run_dir / "augmentation.json").write_text(
                json.dumps(self.data.augmentation, indent=2), encoding="utf-8"
            )

    def batches(self, epoch: int):
        # The prepared loader re-sets its sampler's epoch from a counter of its own each time it is iterated,
        # and that counter restarts at 0 in a resumed run: set both, or a run resumed in epoch 2 replays epoch
        # 1's batch order.
        self.sampler.set_epoch(epoch)
        self.loader.set_epoch(epoch)
        return self.loader

    def loss(self, model: torch.nn.Module, batch: dict, step: int) -> torch.Tensor:
        t, device = self.recipe.training, self.accelerator.device
        if self.auxiliary and t.auxiliary_schedule == "joint":
            batch["auxiliary"] = {
                task.name: {
                    k: v.to(device) for k, v in task.batch(t.seed, step, t.batch_size, self.collator).items()
                }
                for task in self.auxiliary
            }
        index = batch.pop("index", None)
        out = model(**batch)
        if self.teacher is None:
            return out.loss
        from nlu.training.distill import distillation_loss

        d = t.distillation
        intents, tags = self.teacher.batch(index)
        kd = distillation_loss(
            out.intent_logits, out.slot_logits, batch["slot_labels"], intents, tags, d.temperature
        )
        return out.loss + d.weight * kd

    def evaluate(self, model: torch.nn.Module, record: dict) -> tuple[dict, float | None]:
        """The dev split's scores; ``training.metric`` of them picks the best model (none without dev)."""
        from nlu.evaluation.evaluate import evaluate_parser
        from nlu.inference import TorchParser

        if not self.data.dev:
            return {}, None
        parser = TorchParser(self.main_model, self.tokenizer, gazetteer=self.gazetteer)
        summary = evaluate_parser(parser, self.data.dev, bootstrap=0)[0].to_dict()["summary"]
        self.last_dev = summary
        return {"dev": summary}, summary[self.recipe.training.metric]

    def save(self, folder: Path, state: TrainerState) -> None:
        """The joint model only (auxiliary heads are scaffolding; with ``auto_map`` and the intents'
        ``id2label``), its tokenizer, labels, gazetteer, synonyms and regexes, and its model card."""
        from nlu.model_card import CARD_FILE, training_card

        save_model(self.main_model, folder)
        self.tokenizer.save_pretrained(folder)
        self.data.labels.save(folder)
        if self.gazetteer is not None:
            self.gazetteer.save(folder)
        self.data.rules.save(folder)
        config = self.main_model.config
        card = training_card(
            folder.parent.name,  # the run directory's name (``folder`` is a temporary folder inside it)
            self.recipe.model.architecture,
            self.recipe.model_dump(mode="json"),
            list(config.intent_labels),
            list(config.slot_labels),
            int(config.max_seq_length),
            sorted({ex.lang for ex in self.data.train}),
            self.last_dev,
            len(self.data.train),
            extras={
                "entity synonyms": len(self.data.rules.synonyms.table),
                "regexes": len(self.data.rules.regexes.patterns),
                "gazetteer types": len(self.gazetteer.types) if self.gazetteer else 0,
            },
            word_split=config.word_split,
        )
        (folder / CARD_FILE).write_text(card, encoding="utf-8")
        info = {
            "epoch": state.epoch + 1,
            "step": state.global_step,
            "metric": self.recipe.training.metric,
            "value": state.best_metric,
            "num_processes": self.accelerator.num_processes,
            "recipe": self.recipe.model_dump(mode="json"),
        }
        (folder / "training_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")

    def finish(self, run_dir: Path, state: TrainerState) -> dict:
        """The best model evaluated on dev, with a report in ``run_dir/report``; its summary."""
        from nlu.evaluation.evaluate import evaluate_parser, write_evaluation
        from nlu.inference import TorchParser

        if not self.data.dev:
            return {}
        result, predictions = evaluate_parser(TorchParser.load(run_dir / "best"), self.data.dev)
        write_evaluation(
            result,
            self.data.dev,
            predictions,
            run_dir / "report",
            title=f"{self.data.source_name} / {self.recipe.data.dev_split} — best model of {run_dir}",
            extra={"train_seconds": state.train_seconds, "best_epoch": state.best_epoch},
        )
        return result.to_dict()["summary"]
