"""Knowledge distillation: a teacher (a larger model, or several seeds of one) labels the training utterances
with soft intent and tag distributions, and the student learns from them besides the gold labels.

The teacher's outputs are computed once per teacher and training set and cached beside the teacher
(``TEACHER/distill-cache/<key>.npz``, the key a hash of the utterances' words), so several students (seeds,
settings) cost one teacher pass. Soft tags are the teacher's posterior marginals where it has a CRF, else the
softmax of its tag logits; intents are the softmax of its intent logits at a temperature. An ensemble averages
its members' distributions.

The student's loss adds ``weight`` x (intent KL + mean per-word tag KL) to its own (gold) loss, both scaled by
the temperature squared as Hinton et al. (2015) do so that the gradients keep their size.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from nlu.data.example import Example
from nlu.decoding import MASKED, softmax
from nlu.errors import RecipeError

logger = logging.getLogger(__name__)


class TeacherTargets:
    """Soft targets for every training utterance: intent distributions (n, num_intents) and, per utterance, the
    tag distributions of its words the model reads (words, num_tags)."""

    def __init__(self, intents: np.ndarray, tags: list[np.ndarray]):
        self.intents, self.tags = intents, tags

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        rows = indices.tolist()
        intents = torch.from_numpy(self.intents[rows]).float()
        return intents, [torch.from_numpy(self.tags[i]).float() for i in rows]


def _key(examples: Sequence[Example], temperature: float) -> str:
    digest = hashlib.sha256(json.dumps([ex.tokens for ex in examples]).encode("utf-8"))
    digest.update(f"T={temperature}".encode())
    return digest.hexdigest()[:16]


def _one_teacher(model_dir: Path, examples: Sequence[Example], temperature: float) -> tuple[np.ndarray, list]:
    """One teacher's distributions over the utterances, cached beside it."""
    cache = model_dir / "distill-cache" / f"{_key(examples, temperature)}.npz"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        lengths = stored["lengths"]
        tags = np.split(stored["tags"], np.cumsum(lengths)[:-1]) if len(lengths) else []
        return stored["intents"], tags
    intents, tags = _teacher_pass(model_dir, examples, temperature)
    intents_array = np.asarray(intents, dtype=np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(t) for t in tags], dtype=np.int64)
    np.savez(cache, intents=intents_array, tags=np.concatenate(tags).astype(np.float32), lengths=lengths)
    logger.info("teacher %s: soft labels for %d utterances cached in %s", model_dir, len(examples), cache)
    return intents_array, [t.astype(np.float32) for t in tags]


def _teacher_pass(model_dir: Path, examples: Sequence[Example], temperature: float) -> tuple[list, list]:
    """Run the teacher over the utterances: intent distributions and per-word tag distributions."""
    from nlu.decoding import decoding_of, slot_decoder
    from nlu.inference import TorchParser

    parser = TorchParser.load(model_dir, batch_size=64)
    crf = slot_decoder(decoding_of(parser.model))
    intents, tags = [], []
    for start in range(0, len(examples), 64):
        words = [ex.tokens for ex in examples[start : start + 64]]
        intent_logits, slot_logits, word_ids = parser.logits(words)
        intent_logits = intent_logits.astype(np.float64)
        intent_logits[:, 0] = MASKED
        intents.extend(softmax(intent_logits / temperature))
        slot_logits[..., 0] = MASKED
        for b, ids in enumerate(word_ids):
            positions = [p for p, w in enumerate(ids) if w is not None and (p == 0 or ids[p - 1] != w)]
            emissions = slot_logits[b, positions].astype(np.float64)
            tags.append(crf.marginals(emissions) if crf is not None else softmax(emissions / temperature))
    return intents, tags


def teacher_targets(
    teachers: Sequence[str | Path],
    examples: Sequence[Example],
    intent_labels: Sequence[str],
    slot_labels: Sequence[str],
    temperature: float,
) -> TeacherTargets:
    """The (averaged) soft targets of ``teachers`` for ``examples``, in the student's label order; a teacher
    whose labels differ from the student's is an error (train it on the same training split)."""
    from nlu.models import load_model

    sums: tuple[np.ndarray, list] | None = None
    for i, teacher in enumerate(Path(t).expanduser() for t in teachers):
        if not (teacher / "config.json").is_file():
            raise RecipeError(
                [f"training.distillation.teachers[{i}]: {teacher}: no trained model there; train the teacher "
                 "first (its run's best/ directory)"]
            )  # fmt: skip
        config = load_model(teacher).config
        if list(config.intent_labels) != list(intent_labels) or list(config.slot_labels) != list(slot_labels):
            raise RecipeError(
                [f"training.distillation.teachers: {teacher} was trained with other labels than this recipe's "
                 "training split gives; train the teacher on the same data (and augmentation)"]
            )  # fmt: skip
        intents, tags = _one_teacher(teacher, examples, temperature)
        sums = (
            (intents, tags)
            if sums is None
            else (sums[0] + intents, [a + b for a, b in zip(sums[1], tags, strict=True)])
        )
    assert sums is not None
    n = len(teachers)
    return TeacherTargets(sums[0] / n, [t / n for t in sums[1]])


def distillation_loss(
    intent_logits: torch.Tensor,
    slot_logits: torch.Tensor,
    slot_labels: torch.Tensor,
    intent_targets: torch.Tensor,
    tag_targets: list[torch.Tensor],
    temperature: float,
) -> torch.Tensor:
    """KL(teacher || student) on intents plus the mean over words of KL on tags, times temperature squared.

    intent_logits: (batch, num_intents); slot_logits: (batch, seq_len, num_tags); slot_labels: (batch, seq_len),
    -100 except on each word's first sub-token (the positions the teacher's tag targets stand for)."""
    log_student = torch.log_softmax(intent_logits / temperature, dim=-1)
    intent_kl = torch.nn.functional.kl_div(
        log_student, intent_targets.to(log_student.device), reduction="batchmean"
    )
    words, targets = [], []
    for b, target in enumerate(tag_targets):
        positions = (slot_labels[b] != -100).nonzero().flatten()
        words.append(slot_logits[b, positions[: len(target)]])
        targets.append(target[: len(positions)].to(slot_logits.device))
    student = torch.log_softmax(torch.cat(words) / temperature, dim=-1)
    tag_kl = torch.nn.functional.kl_div(student, torch.cat(targets), reduction="batchmean")
    return (intent_kl + tag_kl) * temperature**2
