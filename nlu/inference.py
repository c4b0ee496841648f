"""Predictions from a trained torch model directory: raw text or pre-tokenised examples -> :class:`Prediction`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import PreTrainedModel

from nlu.data.alignment import (
    Item,
    assemble_prediction,
    first_subtoken_mask,
    items_from_texts,
    items_from_words,
    predict_in_batches,
)
from nlu.data.example import Example
from nlu.data.lexicon import Gazetteer, extra_inputs
from nlu.errors import ModelError
from nlu.prediction import Prediction

RANKING_SIZE = 10


class Predictor:
    """Wraps a trained joint model and its tokenizer. ``predict`` takes raw text and splits it into words with
    the model's word-splitting rule; ``predict_examples`` takes the words of already-tokenised examples."""

    def __init__(
        self, model: PreTrainedModel, tokenizer, batch_size: int = 64, gazetteer: Gazetteer | None = None
    ):
        from nlu.models import model_input_names

        self.model = model.eval()
        self.input_names = model_input_names(model)
        self.gazetteer = gazetteer or getattr(model, "gazetteer", None)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.intent_labels: list[str] = list(model.config.intent_labels)
        self.slot_labels: list[str] = list(model.config.slot_labels)
        self.max_length: int = int(model.config.max_seq_length)

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        batch_size: int = 64,
        labels: str | Path | None = None,
        unseen_intent_bonus: float | None = None,
        unseen_slot_bonus: float | None = None,
    ) -> Predictor:
        """``labels``: a YAML label file that replaces a zero-shot model's intents and slot types; with it,
        ``unseen_intent_bonus``/``unseen_slot_bonus`` replace the cosines that the intents/slot types training
        never saw get (None: the model's)."""
        from nlu.models import apply_label_file, load_model, load_tokenizer

        model = load_model(model_dir)
        tokenizer = load_tokenizer(model_dir, model)
        if (unseen_intent_bonus, unseen_slot_bonus) != (None, None) and labels is None:
            raise ModelError("an unseen-label bonus applies to a new label set: give the label file too")
        if labels is not None:
            apply_label_file(model, tokenizer, labels, unseen_intent_bonus, unseen_slot_bonus)
            model.eval()
        return cls(model, tokenizer, batch_size=batch_size)

    def predict(self, texts: str | Sequence[str]) -> list[Prediction]:
        """Parse raw utterances; a single string is one utterance (one prediction, not one per character)."""
        return predict_in_batches(items_from_texts(texts), self.batch_size, self._predict_batch)

    def predict_examples(self, examples: Sequence[Example]) -> list[Prediction]:
        words = [ex.tokens for ex in examples]
        return predict_in_batches(items_from_words(words), self.batch_size, self._predict_batch)

    @torch.no_grad()
    def _predict_batch(self, items: list[Item]) -> list[Prediction]:
        enc = self.tokenizer(
            [words for _, words, _ in items],
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        word_ids = [enc.word_ids(b) for b in range(len(items))]
        device = self.model.device
        word_mask = torch.tensor([first_subtoken_mask(w) for w in word_ids], dtype=torch.bool, device=device)
        inputs = {k: v.to(device) for k, v in enc.items() if k in self.input_names}
        words_batch = [words for _, words, _ in items]
        width = enc["input_ids"].shape[1]
        for name, value in extra_inputs(
            self.input_names, words_batch, word_ids, width, self.gazetteer
        ).items():
            inputs[name] = torch.from_numpy(value).to(device)
        out = self.model(**inputs)
        decoded = self.model.decode(out, word_mask)
        return [
            assemble_prediction(
                text,
                words,
                offsets,
                word_ids[b],
                decoded.intent_probs[b],
                decoded.slot_ids[b],
                decoded.slot_confidences[b],
                self.intent_labels,
                self.slot_labels,
                ranking_size=RANKING_SIZE,
            )
            for b, (text, words, offsets) in enumerate(items)
        ]
