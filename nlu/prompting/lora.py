"""LoRA fine-tuning of a local causal LM on a few examples per intent (ILLUMINER's parameter-efficient variant).

Each training utterance gives two (prompt, answer) pairs, the same prompts the predictor uses: the intent prompt
answered with the intent's description, and the slot prompt answered with its ``slot: value`` lines (or
``none``). The loss is on the answer tokens only. Only the low-rank adapters train (``peft``); they are saved in
the prompt model's ``lora/`` folder and merged into the weights when the model is loaded.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from nlu.data.example import Example
from nlu.errors import MissingDependency
from nlu.prompting.prompts import NO_SLOTS, describe, intent_prompt, slot_lines, slot_prompt, utterance_text

logger = logging.getLogger(__name__)


def few_per_intent(examples: Sequence[Example], k: int, seed: int) -> list[Example]:
    """``k`` examples of each intent, drawn with ``seed``."""
    rng = random.Random(seed)
    by_intent: dict[str, list[Example]] = {}
    for ex in examples:
        by_intent.setdefault(ex.intent, []).append(ex)
    picked = []
    for intent in sorted(by_intent):
        pool = by_intent[intent]
        picked += rng.sample(pool, min(k, len(pool)))
    return picked


def training_pairs(
    examples: Sequence[Example], intents: Mapping[str, str], slot_types: Mapping[str, str]
) -> list[tuple[str, str]]:
    pairs = []
    for ex in examples:
        text = utterance_text(ex)
        prompt, _ = intent_prompt(text, intents)
        pairs.append((prompt, " " + describe(ex.intent, intents)))
        pairs.append((slot_prompt(text, slot_types), "\n".join(slot_lines(ex)) or NO_SLOTS))
    return pairs


def train_lora(
    backend,
    pairs: Sequence[tuple[str, str]],
    out_dir: Path,
    *,
    rank: int = 8,
    alpha: int = 16,
    epochs: int = 3,
    learning_rate: float = 3e-4,
    seed: int = 1,
) -> list[float]:
    """Fit LoRA adapters of ``backend.model`` (a :class:`TransformersBackend`) on the pairs; save them in
    ``out_dir``. Returns the mean loss of each epoch."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise MissingDependency("LoRA needs peft: pip install 'nlu-toolkit[llm]'") from None
    torch.manual_seed(seed)
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in backend.model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    targets = [n for n in ("q_proj", "v_proj", "c_attn", "query", "value") if n in names] or sorted(
        names - {"lm_head"}
    )
    model = get_peft_model(
        backend.model, LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.05)
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    order = list(range(len(pairs)))
    rng = random.Random(seed)
    losses = []
    model.train()
    for epoch in range(epochs):
        rng.shuffle(order)
        total = 0.0
        for i in order:
            prompt, answer = pairs[i]
            context = backend._prompt_ids(prompt, None)
            target = backend.tokenizer(answer, add_special_tokens=False)["input_ids"] + [
                backend.tokenizer.eos_token_id
            ]
            ids = torch.tensor([context + target])
            labels = torch.tensor([[-100] * len(context) + target])
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            total += loss.item()
        losses.append(total / max(len(pairs), 1))
        logger.info("LoRA epoch %d: loss %.4f", epoch + 1, losses[-1])
    model.eval()
    model.save_pretrained(str(out_dir))
    backend.model = model.merge_and_unload()
    return losses


def load_adapter(backend, adapter_dir: Path) -> None:
    """Merge saved adapters into ``backend.model``."""
    from peft import PeftModel

    backend.model = PeftModel.from_pretrained(backend.model, str(adapter_dir)).merge_and_unload().eval()
