"""A linear-chain conditional random field over slot tags, batch-first, in log space.

Models use it as a head on top of per-token emission scores; they never subclass it. The numpy twin in
``nlu.modules.crf_numpy`` decodes the same parameters without torch, for the runtime.

The mask may have holes, not only right padding: subword models label the first sub-token of each word only,
so a mask reads ``[0, 1, 0, 1, 1, 0, 0]``. Every public method first *compacts* the masked positions of each
sequence to the left (keeping their order) into a dense, right-padded batch, runs the standard CRF there, and
maps results back to the original positions where the output is per-position.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from nlu.modules.crf_numpy import bio_constraints

Reduction = Literal["mean", "sum", "none"]


class _Compacted(NamedTuple):
    """The masked positions of a batch, gathered to the left.

    emissions: (batch, max_words, num_tags)
    mask: (batch, max_words) bool, right-padded
    lengths: (batch,) long, masked positions per sequence
    positions: (batch, max_words) long, the original position of each compacted column; distinct within a row
        (padding columns point at unmasked positions)
    """

    emissions: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    positions: torch.Tensor


class CRF(nn.Module):
    """Linear-chain CRF with start and end transitions.

    Args:
        num_tags: the number of tags.
        constraints: ``(allowed_start, allowed)``, boolean arrays of shape (num_tags,) and (num_tags, num_tags),
            e.g. ``crf_numpy.bio_constraints(labels)``: ``decode`` and ``marginals`` only consider paths that
            start with an allowed tag and make allowed moves. The training loss is unchanged (gold paths obey
            the constraints), so they may be added to a model trained without them. Not in the state dict:
            models rebuild them from their labels.

    Parameters:
        transitions: (num_tags, num_tags), ``transitions[i, j]`` scores a move from tag ``i`` to tag ``j``.
        start_transitions: (num_tags,), the score of starting a sequence with each tag.
        end_transitions: (num_tags,), the score of ending a sequence with each tag.
    """

    def __init__(self, num_tags: int, constraints: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"CRF needs at least one tag, got num_tags={num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        allowed_start, allowed = (None, None) if constraints is None else constraints
        # numpy, not buffers: transformers builds models on the meta device and would leave a buffer that is
        # not in the checkpoint uninitialised; _decoding_scores moves them to the parameters' device.
        self.allowed_start = None if allowed_start is None else np.asarray(allowed_start, dtype=bool)
        self.allowed_transitions = None if allowed is None else np.asarray(allowed, dtype=bool)
        if self.allowed_start is not None and self.allowed_start.shape != (num_tags,):
            raise ValueError(f"allowed_start must have shape ({num_tags},), got {self.allowed_start.shape}")
        if self.allowed_transitions is not None and self.allowed_transitions.shape != (num_tags, num_tags):
            raise ValueError(
                f"allowed must have shape ({num_tags}, {num_tags}), got {self.allowed_transitions.shape}"
            )
        self.reset_parameters()

    @classmethod
    def for_labels(cls, labels: list[str]) -> CRF:
        """A CRF over ``labels`` whose decoding obeys BIO (``crf_numpy.bio_constraints``): what every joint model
        with ``use_crf`` builds."""
        return cls(len(labels), bio_constraints(labels))

    def reset_parameters(self) -> None:
        """Initialise every score uniform(-0.1, 0.1): small enough that emissions dominate early training."""
        nn.init.uniform_(self.transitions, -0.1, 0.1)
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)

    def extra_repr(self) -> str:
        constrained = self.allowed_start is not None or self.allowed_transitions is not None
        return f"num_tags={self.num_tags}" + (", constrained" if constrained else "")

    # ------------------------------------------------------------------------------------------------ public

    def forward(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> torch.Tensor:
        """Negative log-likelihood of the gold tags: a loss to minimise.

        Args:
            emissions: (batch, seq_len, num_tags) float, unnormalised tag scores per position.
            tags: (batch, seq_len) long, gold tags; only read where ``mask`` is true, so unlabelled positions
                may hold anything in range or a padding value such as -100.
            mask: (batch, seq_len) bool, the labelled positions; holes are allowed. ``None`` means all.
            reduction: ``"mean"`` over sequences (zero-length ones included, contributing 0), ``"sum"``, or
                ``"none"`` for a (batch,) tensor.

        Returns:
            a scalar, or (batch,) for ``reduction="none"``.
        """
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        mask = self._check(emissions, mask)
        if tags.shape != mask.shape:
            raise ValueError(f"tags must have shape {tuple(mask.shape)}, got {tuple(tags.shape)}")

        if emissions.shape[1] == 0:
            # Every sequence is empty: one path of score 0 each. Multiplying keeps the graph connected.
            nll = emissions.sum(dim=(1, 2)) * 0
        else:
            compact = self._compact(emissions, mask)
            # Unlabelled positions may carry -100; they are never scored, but gather needs a valid index.
            tags = torch.where(mask, tags, torch.zeros_like(tags))
            compact_tags = tags.gather(1, compact.positions)
            log_partition, _ = self._forward_algorithm(
                compact.emissions, compact.mask, self.start_transitions, self.transitions
            )
            gold_score = self._score(compact.emissions, compact_tags, compact.mask, compact.lengths)
            nll = log_partition - gold_score

        if reduction == "none":
            return nll
        if reduction == "sum" or nll.numel() == 0:  # the mean of an empty batch would be NaN
            return nll.sum()
        return nll.mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """Viterbi: the highest-scoring tag sequence over the masked positions of each sequence.

        Args:
            emissions: (batch, seq_len, num_tags) float.
            mask: (batch, seq_len) bool, holes allowed; ``None`` means all positions.

        Returns:
            one list of tags per sequence, of length ``mask[i].sum()`` (empty for a sequence with no masked
            position), in the order of the masked positions.
        """
        mask = self._check(emissions, mask)
        if emissions.shape[1] == 0:
            return [[] for _ in range(emissions.shape[0])]
        compact = self._compact(emissions, mask)
        best_tags = self._viterbi(compact.emissions, compact.mask, *self._decoding_scores())
        lengths = compact.lengths.tolist()
        return [row[:length] for row, length in zip(best_tags.tolist(), lengths, strict=True)]

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior marginals ``p(tag_t = k | x)`` by forward-backward.

        Args:
            emissions: (batch, seq_len, num_tags) float.
            mask: (batch, seq_len) bool, holes allowed; ``None`` means all positions.

        Returns:
            (batch, seq_len, num_tags), aligned to the original positions: rows sum to 1 at masked positions
            and are all zero elsewhere. Index it with the Viterbi tags to report per-token confidences.
        """
        mask = self._check(emissions, mask)
        if emissions.shape[1] == 0:
            return torch.zeros_like(emissions)
        compact = self._compact(emissions, mask)
        start, transitions = self._decoding_scores()
        log_partition, alphas = self._forward_algorithm(compact.emissions, compact.mask, start, transitions)
        betas = self._backward_algorithm(compact.emissions, compact.mask, transitions)
        log_marginals = alphas + betas - log_partition[:, None, None]
        # Mask in log space, not after exp: padding of an empty sequence is never normalised and could
        # overflow, and inf * 0 would be NaN.
        log_marginals = log_marginals.masked_fill(~compact.mask[:, :, None], float("-inf"))
        compact_marginals = log_marginals.exp()

        # positions are distinct within a row, so scattering back writes each original position at most once;
        # padding columns land on unmasked positions and write the zeros they already hold.
        index = compact.positions[:, :, None].expand(-1, -1, self.num_tags)
        out = torch.zeros(emissions.shape, dtype=compact_marginals.dtype, device=emissions.device).scatter(
            1, index, compact_marginals
        )
        return out.to(emissions.dtype)

    # ------------------------------------------------------------------------------------------------ helpers

    def _decoding_scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and transition scores with the forbidden ones at -inf (unchanged without constraints)."""
        start, transitions = self.start_transitions, self.transitions
        if self.allowed_start is not None:
            allowed = torch.from_numpy(self.allowed_start).to(start.device)
            start = start.masked_fill(~allowed, float("-inf"))
        if self.allowed_transitions is not None:
            allowed = torch.from_numpy(self.allowed_transitions).to(transitions.device)
            transitions = transitions.masked_fill(~allowed, float("-inf"))
        return start, transitions

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Validate shapes and return the mask as bool, (batch, seq_len)."""
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(
                f"emissions must have shape (batch, seq_len, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        if mask is None:
            return torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        if mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"mask must have shape {tuple(emissions.shape[:2])} (batch, seq_len), got {tuple(mask.shape)}"
            )
        return mask.bool()

    def _compact(self, emissions: torch.Tensor, mask: torch.Tensor) -> _Compacted:
        """Gather each sequence's masked positions to the left, in order, into a right-padded batch.

        Needs ``seq_len >= 1``; the public methods answer ``seq_len == 0`` themselves.
        """
        batch, seq_len, _ = emissions.shape
        arange = torch.arange(seq_len, device=emissions.device).expand(batch, seq_len)
        # Masked positions keep their index, unmasked ones are pushed past the end: sorting this key is a
        # stable compaction without relying on a stable sort implementation.
        order = torch.argsort(torch.where(mask, arange, arange + seq_len), dim=1)
        lengths = mask.sum(dim=1)
        # At least one column, so that a batch of empty sequences still runs the (fully masked) recursion.
        width = max(int(lengths.max()) if batch > 0 else 0, 1)
        positions = order[:, :width]
        compact_emissions = emissions.gather(1, positions[:, :, None].expand(-1, -1, self.num_tags))
        # CRF sums and exponentials are fragile in half precision, so the recursion always runs in float32+.
        compact_emissions = compact_emissions.to(torch.promote_types(emissions.dtype, torch.float32))
        compact_mask = torch.arange(width, device=emissions.device)[None, :] < lengths[:, None]
        return _Compacted(compact_emissions, compact_mask, lengths, positions)

    def _score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Score of the given tag paths.

        Args:
            emissions: (batch, width, num_tags), compacted.
            tags: (batch, width) long, compacted gold tags.
            mask: (batch, width) bool, right-padded.
            lengths: (batch,) long.

        Returns:
            (batch,), 0 for empty sequences.
        """
        mask_f = mask.to(emissions.dtype)
        emission_scores = emissions.gather(2, tags[:, :, None]).squeeze(2)  # (batch, width)
        score = (self.start_transitions[tags[:, 0]] + emission_scores[:, 0]) * mask_f[:, 0]
        if tags.shape[1] > 1:
            steps = self.transitions[tags[:, :-1], tags[:, 1:]] + emission_scores[:, 1:]
            score = score + (steps * mask_f[:, 1:]).sum(dim=1)
        last_tags = tags.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1)
        return score + self.end_transitions[last_tags] * (lengths > 0).to(emissions.dtype)

    def _forward_algorithm(
        self, emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward recursion.

        Args:
            emissions: (batch, width, num_tags), compacted.
            mask: (batch, width) bool, right-padded.
            start, transitions: the start and transition scores to use (constrained or not).

        Returns:
            log_partition: (batch,), 0 for empty sequences.
            alphas: (batch, width, num_tags), log-sum of the scores of every prefix ending in each tag at each
                position (emission included); beyond a sequence's end it repeats the last valid value.
        """
        alpha = start + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.shape[1]):
            # (batch, from, 1) + (from, to) + (batch, 1, to), reduced over "from".
            step = torch.logsumexp(alpha[:, :, None] + transitions + emissions[:, t, None, :], dim=1)
            alpha = torch.where(mask[:, t, None], step, alpha)
            alphas.append(alpha)
        log_partition = torch.logsumexp(alpha + self.end_transitions, dim=1)
        # An empty sequence has exactly one (empty) path of score 0. torch.where keeps the gradient finite:
        # the discarded branch is finite too, so no NaN flows back.
        log_partition = torch.where(mask[:, 0], log_partition, torch.zeros_like(log_partition))
        return log_partition, torch.stack(alphas, dim=1)

    def _backward_algorithm(
        self, emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor
    ) -> torch.Tensor:
        """Backward recursion.

        Args:
            emissions: (batch, width, num_tags), compacted.
            mask: (batch, width) bool, right-padded.
            transitions: the transition scores to use (constrained or not).

        Returns:
            betas: (batch, width, num_tags), log-sum of the scores of every suffix after position t given tag
                k at t (end transition included, emission at t excluded).
        """
        beta = self.end_transitions.expand(emissions.shape[0], -1)
        betas = [beta]
        for t in range(emissions.shape[1] - 2, -1, -1):
            # (from, to) + (batch, 1, to) + (batch, 1, to), reduced over "to".
            step = torch.logsumexp(transitions + (emissions[:, t + 1] + beta)[:, None, :], dim=2)
            # If t + 1 is padding, t is the last word (or padding itself): only the end transition follows.
            beta = torch.where(mask[:, t + 1, None], step, self.end_transitions.expand_as(step))
            betas.append(beta)
        betas.reverse()
        return torch.stack(betas, dim=1)

    def _viterbi(
        self, emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor
    ) -> torch.Tensor:
        """Best path for each sequence, vectorised over the batch.

        Args:
            emissions: (batch, width, num_tags), compacted.
            mask: (batch, width) bool, right-padded.
            start, transitions: the start and transition scores to use (constrained or not).

        Returns:
            (batch, width) long; only the first ``length`` entries of each row are meaningful.
        """
        batch, width, num_tags = emissions.shape
        identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
        score = start + emissions[:, 0]
        backpointers = []
        for t in range(1, width):
            step, best_previous = (score[:, :, None] + transitions + emissions[:, t, None, :]).max(dim=1)
            score = torch.where(mask[:, t, None], step, score)
            # Past a sequence's end the backpointer is the identity, so backtracking from the last column
            # carries the best final tag unchanged down to the real last word: no per-sequence loop needed.
            backpointers.append(torch.where(mask[:, t, None], best_previous, identity))
        best = (score + self.end_transitions).argmax(dim=1)
        path = [best]
        for pointers in reversed(backpointers):
            best = pointers.gather(1, best[:, None]).squeeze(1)
            path.append(best)
        path.reverse()
        return torch.stack(path, dim=1)
