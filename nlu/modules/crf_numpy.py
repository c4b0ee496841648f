"""The CRF of ``nlu.modules.crf`` for one sequence, in numpy only, for the torch-free runtime.

It reads the same three parameter arrays as ``CRF`` (``transitions[i, j]`` scores tag ``i`` -> tag ``j``) and
works on one sequence that is already compacted: the caller keeps only the labelled positions (first
sub-tokens) before calling. Nothing here may import torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bio_constraints(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The tag sequences BIO allows, for decoding: ``I-X`` only continues an ``X`` span (after ``B-X`` or ``I-X``)
    and never starts a sequence. An ``I-X`` whose ``B-X`` is not among the labels (an IO scheme) stays free, as
    does every other tag. No annotated utterance of ATIS or SNIPS breaks these rules.

    Returns:
        allowed_start: (num_tags,) bool, the tags a sequence may start with.
        allowed: (num_tags, num_tags) bool, ``allowed[i, j]``: tag ``j`` may follow tag ``i``.
    """
    index = {label: i for i, label in enumerate(labels)}
    allowed_start = np.ones(len(labels), dtype=bool)
    allowed = np.ones((len(labels), len(labels)), dtype=bool)
    for j, label in enumerate(labels):
        if label.startswith("I-") and "B-" + label[2:] in index:
            allowed_start[j] = False
            allowed[:, j] = False
            allowed[[index["B-" + label[2:]], j], j] = True
    return allowed_start, allowed


def _logsumexp(values: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(values))) along ``axis``, stable for large scores and for rows that are all -inf."""
    peak = np.max(values, axis=axis, keepdims=True)
    # An all -inf row would give -inf - -inf = NaN; shifting by 0 instead leaves the honest answer, -inf.
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the right answer for an impossible row
        summed = np.log(np.sum(np.exp(values - peak), axis=axis, keepdims=True))
    return np.squeeze(summed + peak, axis=axis)


def _as_float64(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(array, dtype=np.float64) for array in arrays)


def _check(emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
    if emissions.ndim != 2:
        raise ValueError(f"emissions must have shape (seq_len, num_tags), got {emissions.shape}")
    num_tags = emissions.shape[1]
    if transitions.shape != (num_tags, num_tags) or start.shape != (num_tags,) or end.shape != (num_tags,):
        raise ValueError(
            f"expected transitions ({num_tags}, {num_tags}) and start/end transitions ({num_tags},) to match "
            f"emissions {emissions.shape}; got {transitions.shape}, {start.shape}, {end.shape}"
        )


def viterbi_decode(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start_transitions: np.ndarray,
    end_transitions: np.ndarray,
) -> list[int]:
    """The highest-scoring tag sequence.

    Args:
        emissions: (seq_len, num_tags), one compacted sequence.
        transitions: (num_tags, num_tags), from tag i to tag j.
        start_transitions: (num_tags,).
        end_transitions: (num_tags,).

    Returns:
        seq_len tags; empty for an empty sequence.
    """
    emissions, transitions, start, end = _as_float64(
        emissions, transitions, start_transitions, end_transitions
    )
    _check(emissions, transitions, start, end)
    seq_len = emissions.shape[0]
    if seq_len == 0:
        return []
    score = start + emissions[0]
    backpointers = np.zeros((seq_len, emissions.shape[1]), dtype=np.int64)
    for t in range(1, seq_len):
        candidates = score[:, None] + transitions  # (from, to)
        backpointers[t] = np.argmax(candidates, axis=0)
        score = np.max(candidates, axis=0) + emissions[t]
    best = int(np.argmax(score + end))
    path = [best]
    for t in range(seq_len - 1, 0, -1):
        best = int(backpointers[t, best])
        path.append(best)
    path.reverse()
    return path


def marginals(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start_transitions: np.ndarray,
    end_transitions: np.ndarray,
) -> np.ndarray:
    """Posterior marginals ``p(tag_t = k | x)`` by forward-backward.

    Args:
        emissions: (seq_len, num_tags), one compacted sequence.
        transitions: (num_tags, num_tags), from tag i to tag j.
        start_transitions: (num_tags,).
        end_transitions: (num_tags,).

    Returns:
        (seq_len, num_tags) float64, each row sums to 1; (0, num_tags) for an empty sequence.
    """
    emissions, transitions, start, end = _as_float64(
        emissions, transitions, start_transitions, end_transitions
    )
    _check(emissions, transitions, start, end)
    return _scaled_marginals(emissions, _exp_shifted(transitions), start, end)


def _exp_shifted(scores: np.ndarray) -> np.ndarray:
    finite = scores[np.isfinite(scores)]
    return np.exp(scores - (finite.max() if finite.size else 0.0))


def _scaled_marginals(emissions: np.ndarray, exp_transitions: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Forward-backward in probability space, each step rescaled to sum to 1.

    The per-step scale factors cancel when each row of alpha * beta is normalised, so this gives the same
    marginals as the log-space recursion with one (num_tags, num_tags) matrix-vector product per step instead
    of num_tags**2 exponentials: the runtime's CRF decoding costs microseconds, not a fraction of a millisecond.
    """
    seq_len, num_tags = emissions.shape
    if seq_len == 0:
        return np.zeros((0, num_tags), dtype=np.float64)
    potentials = np.exp(emissions - emissions.max(axis=1, keepdims=True))  # (seq_len, num_tags)
    alphas = np.empty((seq_len, num_tags), dtype=emissions.dtype)
    alphas[0] = _exp_shifted(start) * potentials[0]
    alphas[0] /= alphas[0].sum()
    for t in range(1, seq_len):
        alphas[t] = (alphas[t - 1] @ exp_transitions) * potentials[t]
        alphas[t] /= alphas[t].sum()
    betas = np.empty((seq_len, num_tags), dtype=emissions.dtype)
    betas[-1] = _exp_shifted(end)
    betas[-1] /= betas[-1].sum()
    for t in range(seq_len - 2, -1, -1):
        betas[t] = exp_transitions @ (potentials[t + 1] * betas[t + 1])
        betas[t] /= betas[t].sum()
    joint = alphas * betas
    return joint / joint.sum(axis=1, keepdims=True)


class NumpyCRF:
    """The three CRF parameter arrays, converted once, for repeated decoding in the runtime.

    Works in float32, the precision the model computed its logits in: on 127 ATIS tags this halves the cost of
    each Viterbi and forward-backward step against float64 (the functions above stay float64, as references).
    ``allowed_start`` (num_tags,) and ``allowed`` (num_tags, num_tags), boolean, forbid the other starts and
    transitions in decoding (see ``bio_constraints``), as ``CRF(constraints=...)`` does in torch.
    """

    def __init__(self, transitions, start_transitions, end_transitions, allowed_start=None, allowed=None):
        self.transitions = np.asarray(transitions, dtype=np.float32)
        self.start = np.asarray(start_transitions, dtype=np.float32)
        self.end = np.asarray(end_transitions, dtype=np.float32)
        _check(np.zeros((1, self.start.shape[0])), self.transitions, self.start, self.end)
        if allowed_start is not None:
            self.start = np.where(np.asarray(allowed_start, dtype=bool), self.start, -np.inf).astype(
                np.float32
            )
        if allowed is not None:
            self.transitions = np.where(np.asarray(allowed, dtype=bool), self.transitions, -np.inf).astype(
                np.float32
            )
        self.exp_transitions = _exp_shifted(self.transitions)
        self._columns = np.arange(self.start.shape[0])
        # A tag whose score trails the best by more than the spread of the transition scores into a column can
        # be nobody's best predecessor there, so Viterbi only needs the rows of the tags within that margin:
        # exact, and on 127 ATIS tags usually a handful of rows instead of 127. That holds for the columns every
        # tag may move to; a column with forbidden predecessors (I-X under BIO) is scored in full from its
        # allowed ones, a short list each.
        finite = np.isfinite(self.transitions)
        open_columns = finite.all(axis=0)
        scores = self.transitions[:, open_columns]
        self._margin = float(scores.max() - scores.min()) if scores.size else 0.0
        self._restricted = np.flatnonzero(~open_columns)
        width = max(int(finite[:, self._restricted].sum(axis=0).max(initial=0)), 1)
        # (restricted columns, width): each column's allowed predecessors, padded with row 0 scored -inf.
        self._predecessors = np.zeros((self._restricted.size, width), dtype=np.intp)
        self._predecessor_scores = np.full((self._restricted.size, width), -np.inf, dtype=np.float32)
        for k, column in enumerate(self._restricted):
            rows = np.flatnonzero(finite[:, column])
            self._predecessors[k, : rows.size] = rows
            self._predecessor_scores[k, : rows.size] = self.transitions[rows, column]
        # flat offsets of each row of those (columns, width) arrays, to pick one entry a row with one take
        self._row_offsets = np.arange(self._restricted.size) * width
        self._flat_predecessors = self._predecessors.ravel()

    def marginals(self, emissions: np.ndarray) -> np.ndarray:
        """The posterior probability of every tag at every position, (seq_len, num_tags). emissions:
        (seq_len, num_tags)."""
        emissions = np.asarray(emissions, dtype=np.float32)
        _check(emissions, self.transitions, self.start, self.end)
        return _scaled_marginals(emissions, self.exp_transitions, self.start, self.end)

    def decode(self, emissions: np.ndarray) -> tuple[list[int], list[float]]:
        """Viterbi path and the posterior marginal of each chosen tag. emissions: (seq_len, num_tags)."""
        emissions = np.asarray(emissions, dtype=np.float32)
        _check(emissions, self.transitions, self.start, self.end)
        seq_len = emissions.shape[0]
        if seq_len == 0:
            return [], []
        score = self.start + emissions[0]
        backpointers = np.empty(emissions.shape, dtype=np.intp)
        for t in range(1, seq_len):
            rows = np.flatnonzero(score >= score.max() - self._margin)
            candidates = score[rows, None] + self.transitions[rows]  # (kept from-tags, to)
            best = candidates.argmax(axis=0)
            backpointers[t] = rows[best]
            step = candidates[best, self._columns]
            if self._restricted.size:
                restricted = score[self._predecessors] + self._predecessor_scores  # (columns, width)
                pick = restricted.argmax(axis=1) + self._row_offsets
                backpointers[t, self._restricted] = self._flat_predecessors[pick]
                step[self._restricted] = restricted.ravel()[pick]
            score = step + emissions[t]
        tag = int((score + self.end).argmax())
        path = [tag]
        for t in range(seq_len - 1, 0, -1):
            tag = int(backpointers[t, tag])
            path.append(tag)
        path.reverse()
        probs = _scaled_marginals(emissions, self.exp_transitions, self.start, self.end)
        return path, [float(probs[t, tag]) for t, tag in enumerate(path)]
