"""The label set of a model that reads its labels' texts: what the label-embedding model (``zeroshot``) and the
question-answering model (``zeroshot_qa``) share. Both keep their labels in the config (names, descriptions, the
label texts' sub-token ids), can swap in a new label set without touching a weight (:meth:`set_labels`), and in
eval mode read the label encodings from a cache that ``eval()`` fills (:meth:`prepare_labels`).

A model using :class:`LabelSetMixin` defines ``_label_texts`` (the texts its config's labels are read as),
``_label_caches`` (the names of its eval-mode buffers) and ``_fill_label_cache`` (encode the labels into them),
and may extend ``_index_more`` (per-tag tables) and ``_slot_examples_of`` (example values it reads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

from nlu.errors import ModelError
from nlu.models.zeroshot.configuration_zeroshot import UNK, check_unseen_bonus, slot_types_of

INITIAL_SCALE = 10.0  # temperature 0.1
MIN_SCALE, MAX_SCALE = 1.0, 100.0

_Model = TypeVar("_Model", bound="LabelSetMixin")


def tokenize_label_texts(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Sub-token ids of each text, special tokens included, at most ``max_length`` each."""
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]


class LabelSetMixin:
    """Label-set handling for a ``PreTrainedModel`` with ``config``, ``encoder``, ``log_logit_scale`` and
    ``label_tokenizer`` (the backbone's tokenizer, needed only to tokenise label texts the config lacks)."""

    _label_texts: Callable[
        [Any], list[str]
    ]  # a staticmethod: the config's labels as the texts the model reads
    _label_caches: tuple[str, ...] = ()

    def _fill_label_cache(self) -> None:
        """Encode the labels into the buffers named in ``_label_caches`` (the encoder is in eval mode)."""
        raise NotImplementedError

    def _index_more(self, types: list[str], position: dict[str, int]) -> None:
        """Per-tag tables beyond the slot columns (``types``: the slot types, ``position``: type -> index)."""

    def _slot_examples_of(self, slot_examples: dict | None, slot_types: list[str]) -> dict | None:
        """The example values ``set_labels`` keeps in the config, or None when the model does not read them;
        raises ValueError when they are malformed."""
        return None

    # --- the label set -----------------------------------------------------------------------------------------

    def _index_labels(self) -> None:
        """Where each slot vocabulary column comes from, in the concatenation ``[UNK, O, B-scores, I-scores]``
        that forward computes: ``UNK`` -> 0, ``O`` -> 1, ``B-X`` -> 2 + k, ``I-X`` -> 2 + n + k for the k-th of
        n slot types (any vocabulary order works); the calibration bonus of each label; how intents are
        scored."""
        types = slot_types_of(self.config.slot_labels)
        position = {t: k for k, t in enumerate(types)}
        columns = []
        for tag in self.config.slot_labels:
            if tag in (UNK, "O"):
                columns.append(0 if tag == UNK else 1)
            else:
                columns.append(2 + position[tag[2:]] + (len(types) if tag.startswith("I-") else 0))
        self.slot_types = types
        self._slot_columns = tuple(columns)
        self._label_batch: tuple[torch.Tensor, torch.Tensor] | None = None
        # calibrated stacking: the bonus of each intent and slot type, 0 for the trained ones
        new_intents, new_types = (set(names) for names in self.new_labels())
        self._intent_bonus = tuple(
            self.config.unseen_intent_bonus if name in new_intents else 0.0
            for name in self.config.intent_labels[1:]
        )
        self._slot_type_bonus = tuple(self.config.unseen_slot_bonus if t in new_types else 0.0 for t in types)
        mode = self.config.intent_scoring
        self._intents_in_encoder_space = mode == "encoder" or (mode == "auto" and bool(new_intents))
        self._index_more(types, position)

    def new_labels(self) -> tuple[list[str], list[str]]:
        """The intents and slot types of the current label set that training never saw."""
        trained_intents, trained_types = set(self.config.trained_intents), set(self.config.trained_slot_types)
        return (
            [name for name in self.config.intent_labels[1:] if name not in trained_intents],
            [t for t in slot_types_of(self.config.slot_labels) if t not in trained_types],
        )

    def set_labels(
        self,
        intents: dict[str, str],
        slot_types: dict[str, str],
        tokenizer=None,
        unseen_intent_bonus: float | None = None,
        unseen_slot_bonus: float | None = None,
        slot_examples: dict[str, list[str]] | None = None,
    ) -> None:
        """Replace the label set. ``intents``: intent name -> description; ``slot_types``: slot type ->
        description (``""`` for none); ``slot_examples``: slot type -> example values (None: no type has any),
        which the question-answering model puts in its questions and the label-embedding model does not read (it
        encodes a label's name and description only, as it was trained). The vocabularies become ``["UNK",
        *intents]`` and ``["UNK", "O", "B-t1", "I-t1", ...]`` in the given order; the weights do not change.
        ``tokenizer`` (default: ``self.label_tokenizer``) tokenises the new label texts; it must be the
        backbone's own. ``unseen_intent_bonus``, ``unseen_slot_bonus``: added to the scores of the intents and
        slot types training never saw (None: keep the config's)."""
        problems = [f"intent {name!r}: reserved name" for name in intents if name == UNK]
        bonuses = {"unseen_intent_bonus": unseen_intent_bonus, "unseen_slot_bonus": unseen_slot_bonus}
        for name, value in bonuses.items():
            try:
                if value is not None:
                    check_unseen_bonus(name, value)
            except ValueError as err:
                problems.append(str(err))
        problems += [
            f"{kind} {name!r}: a name must be a non-empty string and a description a string"
            for kind, labels in (("intent", intents), ("slot type", slot_types))
            for name, description in labels.items()
            if not isinstance(name, str) or not name.strip() or not isinstance(description, str)
        ]
        if not intents:
            problems.append("at least one intent is needed")
        examples = None
        try:
            examples = self._slot_examples_of(slot_examples, list(slot_types))
        except ValueError as err:
            problems.append(str(err))
        if problems:
            raise ValueError("set_labels: " + "; ".join(problems))
        tokenizer = self._require_tokenizer(tokenizer, "set_labels")
        self.config.intent_labels = [UNK, *intents]
        self.config.slot_labels = [UNK, "O", *[f"{p}-{t}" for t in slot_types for p in ("B", "I")]]
        self.config.intent_descriptions = dict(intents)
        self.config.slot_descriptions = dict(slot_types)
        if examples is not None:
            self.config.slot_examples = examples
        for name, value in bonuses.items():
            if value is not None:
                setattr(self.config, name, float(value))
        self._tokenize_labels(tokenizer)
        self._index_labels()
        self._refresh_cache()

    @torch.no_grad()
    def prepare_labels(self, tokenizer=None) -> None:
        """Fill the eval-mode cache of label encodings from the current weights, without gradients; ``eval()``
        calls it. Given a ``tokenizer``, the label texts are tokenised again first (else the ids kept in the
        config are used, or ``self.label_tokenizer`` when there are none). Call it again after changing weights
        in eval mode."""
        if tokenizer is not None:
            self._tokenize_labels(tokenizer)
            self._index_labels()
        was_training = self.encoder.training
        self.encoder.eval()  # no dropout in the cached encodings
        try:
            self._fill_label_cache()
        finally:
            self.encoder.train(was_training)

    def train(self: _Model, mode: bool = True) -> _Model:
        """Train mode drops the label cache (labels are re-encoded at each step); eval mode fills it."""
        super().train(mode)
        if hasattr(self, "_slot_columns"):  # not during __init__
            self._refresh_cache()
        return self

    def _refresh_cache(self) -> None:
        for name in self._label_caches:
            setattr(self, name, None)
        on_meta = (
            self.log_logit_scale.device.type == "meta"
        )  # from_pretrained builds the model before loading
        can_tokenize = self.config.label_token_ids is not None or self.label_tokenizer is not None
        if not self.training and not on_meta and can_tokenize:
            self.prepare_labels()

    def _require_tokenizer(self, tokenizer, needed_by: str):
        tokenizer = tokenizer if tokenizer is not None else self.label_tokenizer
        if tokenizer is None:
            raise ModelError(
                f"{needed_by} needs the backbone's tokenizer to tokenise label texts: pass tokenizer=..., or "
                "attach it with model.label_tokenizer = AutoTokenizer.from_pretrained(model_dir)"
            )
        return tokenizer

    def _tokenize_labels(self, tokenizer) -> None:
        self.config.label_token_ids = tokenize_label_texts(
            tokenizer, self._label_texts(self.config), self.config.label_max_length
        )

    def _label_token_ids(self) -> list[list[int]]:
        """The label texts' sub-token ids, tokenised with ``label_tokenizer`` when the config has none."""
        if self.config.label_token_ids is None:
            self._tokenize_labels(self._require_tokenizer(None, "encoding the label texts"))
            self._label_batch = None
        return self.config.label_token_ids

    def _padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Sub-token id lists -> right-padded ids and mask, (rows, longest), on the model's device."""
        width = max((len(ids) for ids in rows), default=1)
        ids = torch.full((len(rows), width), self._pad_id(), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        device = self.log_logit_scale.device
        return ids.to(device), mask.to(device)

    def _pad_id(self) -> int:
        return getattr(self.encoder.config, "pad_token_id", None) or 0

    def logit_scale(self) -> torch.Tensor:
        """The inverse temperature that multiplies every cosine, in [1, 100]."""
        return self.log_logit_scale.exp().clamp(MIN_SCALE, MAX_SCALE)
