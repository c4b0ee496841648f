"""``TorchParser``: a trained torch model directory as a :class:`nlu.parser.Parser`.

The encoder and heads run in torch; the model inputs, decoding and predictions are the runtime's own
(``nlu.parser``, ``nlu.decoding``), so a model and its exported artifact answer alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import PreTrainedModel

from nlu.data.lexicon import Gazetteer
from nlu.decoding import decoding_of, slot_decoder
from nlu.errors import ModelError
from nlu.parser import LogitsParser, encode_words


class TorchParser(LogitsParser):
    """A trained joint model and its tokenizer (and gazetteer, for a model with lexicon features)."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer,
        batch_size: int = 64,
        gazetteer: Gazetteer | None = None,
    ):
        from nlu.models import model_input_names

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.input_names = model_input_names(model)
        if "lexicon_features" in self.input_names and gazetteer is None:
            raise ModelError("the model takes gazetteer features: give the gazetteer it was trained with")
        self.gazetteer = gazetteer
        self.batch_size = batch_size
        self.intent_labels: list[str] = list(model.config.intent_labels)
        self.slot_labels: list[str] = list(model.config.slot_labels)
        self.max_length: int = int(model.config.max_seq_length)
        self.word_split: str = model.config.word_split
        self.crf = slot_decoder(decoding_of(model))
        # the fast tokenizer's own backend, truncating as the model does: the runtime's tokenizer.json
        self._backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self._backend.no_padding()
        self._backend.enable_truncation(max_length=self.max_length)
        self.pad_id = tokenizer.pad_token_id or 0

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        batch_size: int = 64,
        labels: str | Path | None = None,
        unseen_intent_bonus: float | None = None,
        unseen_slot_bonus: float | None = None,
        task: str | None = None,
        fallback_threshold: float | None = None,
        ambiguity_threshold: float | None = None,
    ) -> TorchParser:
        """``labels``: a YAML label file that replaces a zero-shot model's intents and slot types; with it,
        ``unseen_intent_bonus``/``unseen_slot_bonus`` replace the cosines that the intents/slot types training
        never saw get (None: the model's). ``task``: which task of a multi-task model to parse with (required
        for one; see ``nlu.models.select_task``). The synonyms and regexes saved beside the model apply to every
        parse; ``fallback_threshold``/``ambiguity_threshold`` turn the fallback intent on (:mod:`nlu.rules`)."""
        from nlu.models import apply_label_file, load_gazetteer, load_model, load_tokenizer, select_task
        from nlu.rules import ParseRules

        model = select_task(load_model(model_dir), task)
        tokenizer = load_tokenizer(model_dir, model)
        if (unseen_intent_bonus, unseen_slot_bonus) != (None, None) and labels is None:
            raise ModelError("an unseen-label bonus applies to a new label set: give the label file too")
        if labels is not None:
            apply_label_file(model, tokenizer, labels, unseen_intent_bonus, unseen_slot_bonus)
        parser = cls(model, tokenizer, batch_size=batch_size, gazetteer=load_gazetteer(model_dir, model))
        parser.rules = ParseRules.load(model_dir).with_fallback(fallback_threshold, ambiguity_threshold)
        return parser

    def encode(
        self, words_batch: Sequence[Sequence[str]]
    ) -> tuple[dict[str, np.ndarray], list[list[int | None]]]:
        """The model's inputs for a batch of word lists (``nlu.parser.encode_words``), as the runtime builds
        them, and the word index of every sub-token."""
        return encode_words(self._backend, words_batch, self.input_names, self.pad_id, self.gazetteer)

    @torch.no_grad()
    def logits(
        self, words_batch: Sequence[Sequence[str]]
    ) -> tuple[np.ndarray, np.ndarray, list[list[int | None]]]:
        """intent_logits (batch, num_intents), slot_logits (batch, seq_len, num_tags) as float32 numpy, and the
        word index of every sub-token."""
        feeds, word_ids = self.encode(words_batch)
        device = self.model.device
        out = self.model(**{name: torch.from_numpy(value).to(device) for name, value in feeds.items()})
        return out.intent_logits.float().cpu().numpy(), out.slot_logits.float().cpu().numpy(), word_ids


Predictor = TorchParser  # the name this class had before the Parser protocol
