"""Template filling for recommender dialogue (NTRD, Liang et al. 2021): a reply template generator and an item
selector that fills its placeholders.

* Template generator: a Transformer encoder over the dialogue context (earlier turns, movies as the placeholder
  word) and a Transformer decoder that writes the reply with the placeholder ``__item__`` where a movie goes.
* Item selector: at each placeholder, the decoder state that wrote it, together with an attention summary of
  the movies mentioned so far, queries every movie of the catalogue. A movie is represented by a learned
  embedding plus its encoded title, so movies never seen in training can still be chosen; movies already in
  the context get a learned bonus (they are often recommended back or compared with).

The item loss is added to the word loss; the placeholder is an ordinary word for the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from nlu.generation.ntrd.configuration_ntrd import NTRDConfig


@dataclass
class NTRDOutput(ModelOutput):
    """``loss``: word loss + item loss (with labels); ``word_logits``: ``(batch, reply_len, vocab)``;
    ``item_scores``: ``(placeholders, num_items)`` for the gold placeholders of the batch, in reading order;
    ``item_targets``: their catalogue indices (-100 for a movie not in the catalogue)."""

    loss: torch.Tensor | None = None
    word_logits: torch.Tensor | None = None
    item_scores: torch.Tensor | None = None
    item_targets: torch.Tensor | None = None


class NTRDForTemplateFilling(PreTrainedModel):
    config_class = NTRDConfig
    base_model_prefix = "ntrd"
    main_input_name = "context_ids"

    def __init__(self, config: NTRDConfig):
        super().__init__(config)
        c = config
        d = c.hidden_size
        self.word_embeddings = nn.Embedding(c.vocab_size, d, padding_idx=0)
        self.positions = nn.Embedding(max(c.max_context_length, c.max_reply_length) + 2, d)
        # Pre-LN layers with a final LayerNorm: trained from scratch on a few thousand replies, the post-LN
        # encoder collapsed (its outputs became nearly the same for every context, so every reply was the same).
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(
                d, c.attention_heads, c.feedforward_size, c.dropout, batch_first=True, norm_first=True
            ),
            c.encoder_layers,
            norm=nn.LayerNorm(d),
            enable_nested_tensor=False,
        )
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(
                d, c.attention_heads, c.feedforward_size, c.dropout, batch_first=True, norm_first=True
            ),
            c.decoder_layers,
            norm=nn.LayerNorm(d),
        )
        self.vocab_out = nn.Linear(d, c.vocab_size)
        self.item_embeddings = nn.Embedding(c.num_items, d, padding_idx=0)
        self.title_proj = nn.Linear(d, d)
        self.item_query = nn.Linear(2 * d, d)
        self.context_bonus = nn.Parameter(torch.zeros(1))
        self.dropout = nn.Dropout(c.dropout)
        # The catalogue's titles as word ids, (num_items, title_length): part of the saved weights.
        self.register_buffer("item_titles", torch.zeros(c.num_items, c.title_length, dtype=torch.long))
        self.post_init()

    def item_representations(self) -> torch.Tensor:
        """``(num_items, hidden)``: learned embedding + the projected mean of the title's word embeddings."""
        titles = self.word_embeddings(self.item_titles)
        mask = (self.item_titles != 0).unsqueeze(-1).float()
        mean = (titles * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.item_embeddings.weight + self.title_proj(mean)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        return self.dropout(self.word_embeddings(ids) + self.positions(positions))

    def encode(self, context_ids: torch.Tensor, context_mask: torch.Tensor) -> torch.Tensor:
        """``(batch, context_len)`` -> ``(batch, context_len, hidden)``."""
        return self.encoder(self._embed(context_ids), src_key_padding_mask=~context_mask.bool())

    def decode(
        self, memory: torch.Tensor, context_mask: torch.Tensor, reply_ids: torch.Tensor
    ) -> torch.Tensor:
        length = reply_ids.shape[1]
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=reply_ids.device), diagonal=1)
        return self.decoder(
            self._embed(reply_ids),
            memory,
            tgt_mask=causal,
            tgt_key_padding_mask=reply_ids == 0,
            memory_key_padding_mask=~context_mask.bool(),
        )

    def score_items(
        self, states: torch.Tensor, context_items: torch.Tensor, items: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Placeholder states ``(n, hidden)`` with their rows' context movies ``(n, k)`` (0 = none) ->
        scores over the catalogue ``(n, num_items)``; padding item 0 is never chosen."""
        items = self.item_representations() if items is None else items
        mentioned = items[context_items]  # (n, k, hidden)
        mask = context_items != 0
        attention = torch.einsum("nd,nkd->nk", states, mentioned).masked_fill(~mask, float("-inf"))
        weights = torch.nan_to_num(attention.softmax(-1), nan=0.0)  # rows without context movies: zeros
        preference = torch.einsum("nk,nkd->nd", weights, mentioned)
        query = self.item_query(torch.cat([states, preference], -1))
        scores = query @ items.T
        in_context = torch.zeros_like(scores, dtype=torch.bool).scatter(1, context_items, mask)
        scores = scores + self.context_bonus * in_context
        scores[:, 0] = float("-inf")
        return scores

    def forward(
        self,
        context_ids: torch.Tensor,
        context_mask: torch.Tensor,
        context_items: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        item_labels: torch.Tensor | None = None,
    ) -> NTRDOutput:
        """Teacher-forced pass. ``labels`` ``(batch, reply_len)`` are the template words (-100 padding);
        ``item_labels`` has the same shape, holding the catalogue index of the movie at each placeholder of
        ``labels`` and -100 elsewhere (and for movies outside the catalogue)."""
        memory = self.encode(context_ids, context_mask)
        states = self.decode(memory, context_mask, decoder_input_ids)
        word_logits = self.vocab_out(states)
        item_scores = item_targets = None
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(word_logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
            slots = labels == self.config.item_token_id
            if slots.any():
                rows = slots.nonzero()[:, 0]
                item_scores = self.score_items(states[slots], context_items[rows])
                item_targets = item_labels[slots] if item_labels is not None else torch.full_like(rows, -100)
                if (item_targets != -100).any():
                    loss = loss + nn.functional.cross_entropy(item_scores, item_targets, ignore_index=-100)
        return NTRDOutput(
            loss=loss, word_logits=word_logits, item_scores=item_scores, item_targets=item_targets
        )

    @torch.no_grad()
    def generate(
        self, context_ids: torch.Tensor, context_mask: torch.Tensor, context_items: torch.Tensor
    ) -> list[tuple[list[int], list[int]]]:
        """Greedy decoding: for each row, (template word ids without ``</s>``, the catalogue index chosen for
        each placeholder in order). A movie is not chosen twice in one reply."""
        c = self.config
        memory = self.encode(context_ids, context_mask)
        items = self.item_representations()
        batch = context_ids.shape[0]
        reply = torch.full((batch, 1), c.bos_token_id, dtype=torch.long, device=context_ids.device)
        words: list[list[int]] = [[] for _ in range(batch)]
        chosen: list[list[int]] = [[] for _ in range(batch)]
        done = [False] * batch
        for _ in range(c.max_reply_length):
            states = self.decode(memory, context_mask, reply)[:, -1]
            logits = self.vocab_out(states)
            logits[:, c.pad_token_id] = float("-inf")
            logits[:, c.bos_token_id] = float("-inf")
            next_ids = logits.argmax(-1)
            scores = self.score_items(states, context_items, items)
            for i in range(batch):
                if done[i]:
                    continue
                word = int(next_ids[i])
                if word == c.eos_token_id:
                    done[i] = True
                    continue
                words[i].append(word)
                if word == c.item_token_id:
                    row = scores[i].clone()
                    if chosen[i]:
                        row[chosen[i]] = float("-inf")
                    chosen[i].append(int(row.argmax()))
            if all(done):
                break
            reply = torch.cat([reply, next_ids.unsqueeze(1)], 1)
        return list(zip(words, chosen, strict=True))
