"""Generative fine-tuning of a local LLM on the training split (``model.prompting.finetune``): the model learns
to answer one short prompt per utterance with the intent's name, then one ``slot: value`` line per slot (or
``none``), and parses as :class:`nlu.prompting.predictor.FinetunedPromptParser` (the intent by likelihood, the
slot lines decoded within the grammar of spans of the utterance). It trains in the one loop
(:func:`nlu.training.loop.fit`) as a :class:`GenerativeTask`: ``training.epochs``, ``batch_size``,
``learning_rate``, ``warmup_ratio``, checkpoints, ``--resume`` and the best-model swap are the loop's.

The packaged SmolLM2 starts from the folder the ``smollm2`` backbone of the joint models starts from
(``nlu.models.backbones.converted_decoder``: the GGUF's weights de-quantised once), so the heads and the generation
are compared on the same weights. ``method: full`` trains every weight; ``lora`` trains low-rank adapters on every
linear layer (``peft``), merged into the weights when the model is loaded. The loss is on the reply's tokens
only; the best epoch is the one with the lowest loss on the dev split's replies (teacher-forced: parsing dev
with generation each epoch would cost more than the epoch on a CPU).

``best/`` is a prompt model directory (``prompting.json``, ``pool.jsonl``) with the weights: ``llm/`` (the
fine-tuned model and its tokenizer) or ``lora/`` (the adapters).
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import torch
from accelerate import Accelerator

from nlu.data.example import Example
from nlu.errors import ModelError
from nlu.prompting.prompts import parse_prompt, parse_reply, slot_lines, utterance_text
from nlu.training.data import IGNORE, BucketBatchSampler
from nlu.training.loop import TrainerState, prepare_run

logger = logging.getLogger(__name__)

FULL_FOLDER, LORA_FOLDER = "llm", "lora"


def base_backend(spec: dict):
    """The local LLM a fine-tune starts from, as a :class:`~nlu.prompting.local_backend.TransformersBackend`: the
    packaged SmolLM2 read from its converted folder (the float32 weights its GGUF de-quantises to, with the GGUF's
    own tokenizer and chat template), or the backend a ``transformers`` spec names."""
    from nlu.prompting.local_backend import TransformersBackend
    from nlu.prompting.model_dir import build_backend

    if spec.get("type") == "packaged":
        from nlu.models.backbones import converted_decoder

        name = spec.get("name") or "smollm2"
        folder = converted_decoder(name)
        return TransformersBackend(folder, tokenizer=folder / "chat", name=f"packaged:{name}")
    if spec.get("type") != "transformers":
        raise ModelError("model.prompting.finetune: needs a local backend (packaged or transformers)")
    return build_backend(spec)


def example_ids(backend, example: Example) -> tuple[list[int], list[int]]:
    """(prompt ids, reply ids): the fine-tuned format's prompt as the backend reads it (its chat template), and the
    reply (intent name, slot lines) with the end-of-sequence token after it."""
    user, system = parse_prompt(utterance_text(example))
    prompt = backend._prompt_ids(user, system)
    reply = backend.tokenizer(parse_reply(example.intent, slot_lines(example)), add_special_tokens=False)
    return prompt, [*reply["input_ids"], backend.tokenizer.eos_token_id]


class ReplyCollator:
    """(prompt ids, reply ids) rows -> a right-padded batch: ``input_ids``, ``attention_mask`` (batch, seq_len)
    and ``labels`` (batch, seq_len), the reply's ids and -100 on the prompt and the padding."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(prompt) + len(reply) for prompt, reply in rows)
        ids, mask, labels = [], [], []
        for prompt, reply in rows:
            pad = width - len(prompt) - len(reply)
            ids.append(prompt + reply + [self.pad_token_id] * pad)
            mask.append([1] * (len(prompt) + len(reply)) + [0] * pad)
            labels.append([IGNORE] * len(prompt) + reply + [IGNORE] * pad)
        return {
            "input_ids": torch.tensor(ids, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
        }


def _sample(examples: list[Example], size: int | str, seed: int) -> list[Example]:
    if size == "all" or size >= len(examples):
        return list(examples)
    return random.Random(seed).sample(examples, size)


class GenerativeTask:
    """A local LLM fine-tuned to answer with the intent and the slot lines, as the loop trains it."""

    def __init__(self, recipe, data, accelerator: Accelerator, resume: bool):
        from nlu.data.label_files import load_label_file

        self.recipe, self.data, self.accelerator = recipe, data, accelerator
        section, t = recipe.model.prompting, recipe.training
        self.section, self.options = section, section.finetune
        described_intents, described_slots = load_label_file(section.labels)
        # the labels the model learns are the training split's, named as it names them
        self.intents = {name: described_intents.get(name, "") for name in data.labels.known_intents}
        self.slot_types = {name: described_slots.get(name, "") for name in sorted(data.labels.slot_types)}
        self.backend_spec = section.backend.model_dump(exclude_none=True)
        self.backend = base_backend(self.backend_spec)
        self.lm = self.backend.model
        if self.options.method == "lora":
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=self.options.rank,
                lora_alpha=self.options.alpha,
                target_modules="all-linear",
                lora_dropout=0.05,
                task_type="CAUSAL_LM",
            )
            self.lm = get_peft_model(self.lm, config)
        self.model = self.lm
        train = _sample(data.train, self.options.examples, t.seed)
        self.train_rows = [example_ids(self.backend, ex) for ex in train]
        self.dev_rows = [example_ids(self.backend, ex) for ex in data.dev]
        self.collator = ReplyCollator(self.backend.tokenizer.pad_token_id or 0)
        self.sampler = BucketBatchSampler(
            [len(p) + len(r) for p, r in self.train_rows], t.batch_size, seed=t.seed
        )
        self.loader = torch.utils.data.DataLoader(
            self.train_rows,
            batch_sampler=self.sampler,
            collate_fn=self.collator,
            generator=torch.Generator().manual_seed(t.seed),
        )
        logger.info(
            "generative fine-tuning (%s) on %d utterances; %d trainable parameters",
            self.options.method,
            len(train),
            sum(p.numel() for p in self.lm.parameters() if p.requires_grad),
        )

    def prepare(self) -> tuple[torch.optim.Optimizer, object, int]:
        """AdamW (no weight decay on norms and biases) and the linear warm-up/decay schedule, handed to
        accelerate; the optimizer steps this process takes."""
        t = self.recipe.training
        total_steps = t.max_steps or t.epochs * len(self.loader)
        decay, no_decay = [], []
        for param in self.lm.parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=t.learning_rate,
        )
        return prepare_run(self, optimizer, total_steps)

    def save_run_files(self, run_dir: Path) -> None:
        from nlu.training.recipe import dump_recipe

        (run_dir / "recipe.yaml").write_text(dump_recipe(self.recipe), encoding="utf-8")
        self.data.labels.save(run_dir)

    def batches(self, epoch: int):
        self.sampler.set_epoch(epoch)
        self.loader.set_epoch(epoch)
        return self.loader

    def loss(self, model: torch.nn.Module, batch: dict, step: int) -> torch.Tensor:
        return model(**batch).loss

    @torch.no_grad()
    def dev_loss(self, model: torch.nn.Module) -> float | None:
        """Mean cross-entropy per reply token on the dev split, teacher-forced (None without dev)."""
        if not self.dev_rows:
            return None
        model.eval()
        device = self.accelerator.device
        total, tokens = 0.0, 0
        batch_size = self.recipe.training.batch_size
        order = sorted(
            range(len(self.dev_rows)), key=lambda i: len(self.dev_rows[i][0]) + len(self.dev_rows[i][1])
        )
        for start in range(0, len(order), batch_size):
            batch = self.collator([self.dev_rows[i] for i in order[start : start + batch_size]])
            batch = {k: v.to(device) for k, v in batch.items()}
            count = int((batch["labels"][:, 1:] != IGNORE).sum())  # the model shifts labels by one
            total += float(model(**batch).loss) * count
            tokens += count
        return total / max(tokens, 1)

    def evaluate(self, model: torch.nn.Module, record: dict) -> tuple[dict, float | None]:
        """The dev replies' loss; the lowest is the best model."""
        loss = self.dev_loss(model)
        if loss is None:
            return {}, None
        return {"dev_loss": loss}, -loss

    def save(self, folder: Path, state: TrainerState) -> None:
        """A prompt model directory (``prompting.json``: the fine-tuned format; ``pool.jsonl``: the training
        split, for the slot types seen with each intent; the training data's synonyms and regexes) and the
        weights: ``llm/`` or the ``lora/`` adapters."""
        from nlu.prompting.model_dir import set_finetuned, write_prompt_model

        write_prompt_model(
            folder,
            self.backend_spec,
            self.intents,
            self.slot_types,
            0,
            self.data.train,
            self.section.slots_by_intent,
            calibrate=False,
        )
        self.data.rules.save(folder)  # the training data's synonyms and regexes, where it had them
        from transformers.utils import logging as hf_logging

        lm = self.accelerator.unwrap_model(self.model)
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the tied LM head is saved once, as it should be; no news
        try:
            if self.options.method == "lora":
                lm.save_pretrained(str(folder / LORA_FOLDER))
                weights = LORA_FOLDER
            else:
                lm.save_pretrained(str(folder / FULL_FOLDER), safe_serialization=True)
                self.backend.tokenizer.save_pretrained(str(folder / FULL_FOLDER))
                weights = FULL_FOLDER
        finally:
            hf_logging.set_verbosity(level)
        info = {
            "method": self.options.method,
            "folder": weights,
            "examples": len(self.train_rows),
            "max_reply_tokens": self.options.max_reply_tokens,
            "epoch": state.epoch + 1,
            "step": state.global_step,
            "dev_loss": -state.best_metric if state.best_metric is not None else None,
        }
        if self.options.method == "lora":
            info |= {"rank": self.options.rank, "alpha": self.options.alpha}
        set_finetuned(folder, info)
        training = {"recipe": self.recipe.model_dump(mode="json"), **info}
        (folder / "training_info.json").write_text(json.dumps(training, indent=2), encoding="utf-8")

    def finish(self, run_dir: Path, state: TrainerState) -> dict:
        """The best epoch's dev loss (the test split is scored by ``nlu evaluate``: generation is slow)."""
        return {} if state.best_metric is None else {"loss": -state.best_metric}
