"""The knowledge-base describer (Wang et al. 2018): a record encoder with table-position self-attention and a
pointer-generator decoder with slot-aware attention.

Record encoder. Each value word ``j`` of the record is the concatenation of its word embedding, its slot type's
embedding and two position embeddings (its position from the start and from the end of its value), read by a
bidirectional LSTM into content states ``h_j``. Table-position self-attention runs over the structure alone
(slot type and positions), so each word learns which other slots it goes with, giving ``z_j``.

Decoder. An LSTM with input feeding. Slot-aware attention scores each record word from its content and its
structure, ``e_tj = v · tanh(W_h h_j + W_z z_j + W_d d_t)``, so the decoder can look for "the value of food" as
well as for a word. The output distribution mixes generating from the vocabulary and copying record words:
``P(w) = p_gen P_vocab(w) + (1 - p_gen) Σ_{j: x_j = w} α_tj``, over the vocabulary extended with the record's own
words, so names that the vocabulary lacks are still written.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from nlu.generation.kb_describe.configuration_kb_describe import KBDescribeConfig
from nlu.generation.kb_describe.features import BOS_ID, EOS_ID, UNK_ID

_EPS = 1e-12


@dataclass
class DescribeOutput(ModelOutput):
    """``loss``: mean negative log-likelihood per target word (with labels); ``log_probs``: ``(batch, text_len,
    vocab_size + num_oov)`` over the extended vocabulary."""

    loss: torch.Tensor | None = None
    log_probs: torch.Tensor | None = None


@dataclass
class _Memory:
    states: torch.Tensor  # (batch, record_len, hidden): content of each record word
    keys: torch.Tensor  # (batch, record_len, hidden): W_h h + W_z z, what attention compares with
    mask: torch.Tensor  # (batch, record_len) bool
    extended_ids: torch.Tensor  # (batch, record_len)
    num_oov: int


class KBDescribeForGeneration(PreTrainedModel):
    config_class = KBDescribeConfig
    base_model_prefix = "kb_describe"
    main_input_name = "word_ids"

    def __init__(self, config: KBDescribeConfig):
        super().__init__(config)
        c = config
        self.word_embeddings = nn.Embedding(c.vocab_size, c.word_embedding_size, padding_idx=0)
        self.slot_embeddings = nn.Embedding(c.num_slot_types, c.slot_embedding_size)
        self.forward_positions = nn.Embedding(c.max_position + 1, c.position_embedding_size)
        self.backward_positions = nn.Embedding(c.max_position + 1, c.position_embedding_size)
        structure = c.slot_embedding_size + 2 * c.position_embedding_size
        self.record_encoder = nn.LSTM(
            c.word_embedding_size + structure, c.hidden_size // 2, batch_first=True, bidirectional=True
        )
        self.structure_proj = nn.Linear(structure, c.hidden_size)
        self.table_attention = nn.MultiheadAttention(c.hidden_size, c.attention_heads, batch_first=True)
        self.table_norm = nn.LayerNorm(c.hidden_size)
        self.content_key = nn.Linear(c.hidden_size, c.hidden_size, bias=False)
        self.structure_key = nn.Linear(c.hidden_size, c.hidden_size, bias=False)
        self.init_state = nn.Linear(c.hidden_size, 2 * c.hidden_size)
        self.decoder = nn.LSTMCell(c.word_embedding_size + c.hidden_size, c.hidden_size)
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.score = nn.Linear(c.hidden_size, 1, bias=False)
        self.combine = nn.Linear(2 * c.hidden_size, c.hidden_size)
        self.vocab_out = nn.Linear(c.hidden_size, c.vocab_size)
        self.copy_gate = nn.Linear(2 * c.hidden_size + c.word_embedding_size, 1)
        self.dropout = nn.Dropout(c.dropout)
        self.post_init()

    # --------------------------------------------------------------------------------------------- encoder
    def encode(
        self,
        word_ids: torch.Tensor,
        slot_ids: torch.Tensor,
        positions_forward: torch.Tensor,
        positions_backward: torch.Tensor,
        record_mask: torch.Tensor,
        extended_ids: torch.Tensor,
        num_oov: int | torch.Tensor = 0,
    ) -> tuple[_Memory, tuple[torch.Tensor, torch.Tensor]]:
        """Record tensors ``(batch, record_len)`` -> the attention memory and the decoder's first state."""
        structure = torch.cat(
            [
                self.slot_embeddings(slot_ids),
                self.forward_positions(positions_forward),
                self.backward_positions(positions_backward),
            ],
            dim=-1,
        )
        words = self.dropout(self.word_embeddings(word_ids))
        mask = record_mask.bool()
        lengths = mask.sum(-1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            torch.cat([words, structure], -1), lengths, batch_first=True, enforce_sorted=False
        )
        states, _ = self.record_encoder(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=word_ids.shape[1])
        z = self.structure_proj(structure)
        attended, _ = self.table_attention(z, z, z, key_padding_mask=~mask, need_weights=False)
        z = self.table_norm(z + attended)
        keys = self.content_key(states) + self.structure_key(z)
        pooled = (states * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        h0, c0 = torch.tanh(self.init_state(pooled)).chunk(2, dim=-1)
        memory = _Memory(states, keys, mask, extended_ids, int(num_oov))
        return memory, (h0.contiguous(), c0.contiguous())

    # --------------------------------------------------------------------------------------------- decoder
    def step(
        self,
        memory: _Memory,
        previous_ids: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        context: torch.Tensor,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """One decoder step for ``previous_ids`` ``(batch,)`` (extended ids; copied words are read as
        ``<unk>``) -> (log-probabilities ``(batch, vocab + num_oov)``, new state, new context)."""
        inputs = previous_ids.masked_fill(previous_ids >= self.config.vocab_size, UNK_ID)
        embedded = self.dropout(self.word_embeddings(inputs))
        h, c = self.decoder(torch.cat([embedded, context], -1), state)
        scores = self.score(torch.tanh(memory.keys + self.query(h).unsqueeze(1))).squeeze(-1)
        attention = scores.masked_fill(~memory.mask, float("-inf")).softmax(-1)  # (batch, record_len)
        context = torch.bmm(attention.unsqueeze(1), memory.states).squeeze(1)
        output = self.dropout(torch.tanh(self.combine(torch.cat([h, context], -1))))
        p_vocab = self.vocab_out(output).softmax(-1)
        p_gen = torch.sigmoid(self.copy_gate(torch.cat([context, h, embedded], -1)))
        mixed = torch.cat([p_gen * p_vocab, p_vocab.new_zeros(p_vocab.shape[0], memory.num_oov)], -1)
        mixed = mixed.scatter_add(1, memory.extended_ids, (1 - p_gen) * attention)
        return torch.log(mixed + _EPS), (h, c), context

    def forward(
        self,
        word_ids: torch.Tensor,
        slot_ids: torch.Tensor,
        positions_forward: torch.Tensor,
        positions_backward: torch.Tensor,
        record_mask: torch.Tensor,
        extended_ids: torch.Tensor,
        num_oov: int | torch.Tensor = 0,
        decoder_input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> DescribeOutput:
        """Teacher-forced pass: ``decoder_input_ids`` ``(batch, text_len)`` starts with ``<s>``; ``labels`` are
        the same words shifted left, ending with ``</s>``, -100 for padding."""
        if decoder_input_ids is None:
            raise ValueError("forward needs decoder_input_ids; use generate() to describe records")
        memory, state = self.encode(
            word_ids, slot_ids, positions_forward, positions_backward, record_mask, extended_ids, num_oov
        )
        context = memory.states.new_zeros(word_ids.shape[0], self.config.hidden_size)
        steps = []
        for t in range(decoder_input_ids.shape[1]):
            log_probs, state, context = self.step(memory, decoder_input_ids[:, t], state, context)
            steps.append(log_probs)
        log_probs = torch.stack(steps, 1)
        loss = None
        if labels is not None:
            loss = nn.functional.nll_loss(log_probs.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return DescribeOutput(loss=loss, log_probs=log_probs)

    # ------------------------------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate_ids(self, batch: dict[str, torch.Tensor], beam_size: int | None = None) -> list[list[int]]:
        """Extended word ids of the best text for each record of ``batch`` (no ``</s>``)."""
        beam_size = beam_size or self.config.beam_size
        record = {k: v for k, v in batch.items() if k not in ("decoder_input_ids", "labels")}
        memory, state = self.encode(**record)
        if beam_size == 1:
            return self._greedy(memory, state)
        return [self._beam(_row(memory, i), (state[0][i : i + 1], state[1][i : i + 1]), beam_size)
                for i in range(memory.states.shape[0])]  # fmt: skip

    def _greedy(self, memory: _Memory, state) -> list[list[int]]:
        batch = memory.states.shape[0]
        context = memory.states.new_zeros(batch, self.config.hidden_size)
        previous = torch.full((batch,), BOS_ID, dtype=torch.long, device=memory.states.device)
        outputs: list[list[int]] = [[] for _ in range(batch)]
        done = torch.zeros(batch, dtype=torch.bool, device=previous.device)
        for _ in range(self.config.max_output_length):
            log_probs, state, context = self.step(memory, previous, state, context)
            previous = log_probs.argmax(-1)
            for i in (~done).nonzero().flatten().tolist():
                if previous[i].item() != EOS_ID:
                    outputs[i].append(previous[i].item())
            done |= previous == EOS_ID
            if done.all():
                break
        return outputs

    def _beam(self, memory: _Memory, state, beam_size: int) -> list[int]:
        """Beam search for one record, ranked by log-probability / length ** beam_length_penalty, with n-gram
        blocking (``repeated_ngram_block``)."""
        c = self.config
        beams: list[tuple[float, list[int]]] = [(0.0, [])]
        context = memory.states.new_zeros(1, c.hidden_size)
        finished: list[tuple[float, list[int]]] = []
        for _ in range(c.max_output_length):
            k = len(beams)
            expanded = _repeat(memory, k)
            previous = torch.tensor([b[1][-1] if b[1] else BOS_ID for b in beams], device=context.device)
            log_probs, state, context = self.step(expanded, previous, state, context)
            for row, (_, words) in enumerate(beams):
                for banned in _banned(words, c.repeated_ngram_block):
                    log_probs[row, banned] = float("-inf")
            totals = log_probs + torch.tensor([b[0] for b in beams], device=log_probs.device).unsqueeze(1)
            best = totals.flatten().topk(min(2 * beam_size, totals.numel()))
            width = totals.shape[1]
            candidates, keep = [], []
            for score, index in zip(best.values.tolist(), best.indices.tolist(), strict=True):
                row, word = divmod(index, width)
                if score == float("-inf"):
                    continue
                if word == EOS_ID:
                    words = beams[row][1]
                    finished.append((score / max(len(words), 1) ** c.beam_length_penalty, words))
                else:
                    candidates.append((score, [*beams[row][1], word]))
                    keep.append(row)
                if len(candidates) == beam_size:
                    break
            if not candidates or (
                len(finished) >= beam_size
                and max(f[0] for f in finished)
                > max(s / len(w) ** c.beam_length_penalty for s, w in candidates)
            ):
                break
            beams = candidates
            index = torch.tensor(keep, device=context.device)
            state = (state[0][index], state[1][index])
            context = context[index]
        if not finished:
            finished = [(s / max(len(w), 1) ** c.beam_length_penalty, w) for s, w in beams]
        return max(finished, key=lambda f: f[0])[1]


def _row(memory: _Memory, i: int) -> _Memory:
    length = int(memory.mask[i].sum())
    return _Memory(
        memory.states[i : i + 1, :length],
        memory.keys[i : i + 1, :length],
        memory.mask[i : i + 1, :length],
        memory.extended_ids[i : i + 1, :length],
        memory.num_oov,
    )


def _repeat(memory: _Memory, k: int) -> _Memory:
    return _Memory(
        memory.states.expand(k, -1, -1),
        memory.keys.expand(k, -1, -1),
        memory.mask.expand(k, -1),
        memory.extended_ids.expand(k, -1),
        memory.num_oov,
    )


def _banned(words: list[int], n: int) -> list[int]:
    """Words that would repeat an n-gram already in ``words``."""
    if n <= 0 or len(words) < n - 1:
        return []
    prefix = tuple(words[len(words) - n + 1 :]) if n > 1 else ()
    return [words[i + n - 1] for i in range(len(words) - n + 1) if tuple(words[i : i + n - 1]) == prefix]
