"""Choosing the demonstrations of a few-shot prompt: the training utterances most similar to the one being parsed
(cosine similarity of sentence embeddings), or a balanced set of typical examples per intent.

Sentence embeddings are the mean of the encoder's last hidden states over the utterance's tokens, L2-normalised,
from the packaged MiniLM (``all-MiniLM-L6-v2``, a sentence-similarity model) unless another folder is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nlu.data.example import Example
from nlu.modules.pooling import mean_pool
from nlu.prompting.prompts import utterance_text


class ExampleRetriever:
    """Nearest training examples by sentence similarity.

    ``examples``: the pool demonstrations are drawn from (usually the train split); ``encoder_dir``: a
    transformers encoder folder with its tokenizer (default: the packaged MiniLM). The pool is embedded once, on
    first use, and kept in memory; so are the embeddings of the last ``query_cache_size`` queries, since the intent
    and the slot prompt of one utterance ask for the same neighbours.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        encoder_dir: str | None = None,
        *,
        batch_size: int = 64,
        max_length: int = 128,
        query_cache_size: int = 4096,
    ):
        from nlu.models.backbones import resolve_backbone

        self.examples = list(examples)
        self.encoder_dir = str(encoder_dir) if encoder_dir is not None else resolve_backbone("minilm")
        self.batch_size = batch_size
        self.max_length = max_length
        self.query_cache_size = query_cache_size
        self._tokenizer = None
        self._model = None
        self._pool: torch.Tensor | None = None
        self._queries: dict[str, torch.Tensor] = {}

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.encoder_dir)
        self._model = AutoModel.from_pretrained(self.encoder_dir).eval()

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """``(len(texts), hidden)`` L2-normalised mean-pooled embeddings, computed in batches."""
        if self._model is None:
            self._load()
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = self._tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            states = self._model(**batch).last_hidden_state  # (batch, seq_len, hidden)
            pooled = mean_pool(states, batch["attention_mask"])
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
        if not chunks:
            return torch.zeros(0, self._model.config.hidden_size)
        return torch.cat(chunks)

    @property
    def pool_embeddings(self) -> torch.Tensor:
        """``(len(examples), hidden)``: the pool's embeddings, computed on first use."""
        if self._pool is None:
            self._pool = self.embed([utterance_text(example) for example in self.examples])
        return self._pool

    def _query(self, text: str) -> torch.Tensor:
        text = " ".join(text.split())
        if text not in self._queries:
            if len(self._queries) >= self.query_cache_size:
                self._queries.pop(next(iter(self._queries)))  # the oldest
            self._queries[text] = self.embed([text])[0]
        return self._queries[text]

    def nearest(self, text: str, k: int, exclude_id: str | None = None) -> list[Example]:
        """The ``k`` pool examples most similar to ``text``, most similar first (ties in pool order); an example
        whose id is ``exclude_id`` is skipped (the utterance itself, when it comes from the pool)."""
        if k <= 0 or not self.examples:
            return []
        scores = self.pool_embeddings @ self._query(text)  # (len(examples),) cosine similarities
        order = torch.argsort(-scores, stable=True).tolist()
        picked = [self.examples[i] for i in order if exclude_id is None or self.examples[i].id != exclude_id]
        return picked[:k]

    def by_intent(self, k_per_intent: int) -> list[Example]:
        """A balanced set of demonstrations: for each intent, the ``k_per_intent`` examples closest to the mean
        embedding of that intent's examples (the most typical ones), interleaved round-robin over the intents in
        sorted order so that no intent's examples all come last."""
        if k_per_intent <= 0 or not self.examples:
            return []
        groups: dict[str, list[int]] = {}
        for i, example in enumerate(self.examples):
            groups.setdefault(example.intent, []).append(i)
        pool = self.pool_embeddings
        ranked: list[list[int]] = []
        for intent in sorted(groups):
            members = torch.tensor(groups[intent])
            centre = torch.nn.functional.normalize(pool[members].mean(0), dim=-1)
            order = torch.argsort(-(pool[members] @ centre), stable=True).tolist()
            ranked.append([groups[intent][j] for j in order[:k_per_intent]])
        return [self.examples[group[r]] for r in range(k_per_intent) for group in ranked if r < len(group)]
