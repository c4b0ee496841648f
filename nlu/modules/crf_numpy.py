"""The CRF of ``nlu.modules.crf`` for one sequence, in numpy only, for the torch-free runtime.

It reads the same three parameter arrays as ``CRF`` (``transitions[i, j]`` scores tag ``i`` -> tag ``j``) and
works on one sequence that is already compacted: the caller keeps only the labelled positions (first
sub-tokens) before calling. Nothing here may import torch.
"""

from __future__ import annotations

import numpy as np


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
    seq_len, num_tags = emissions.shape
    if seq_len == 0:
        return np.zeros((0, num_tags), dtype=np.float64)

    alphas = np.empty((seq_len, num_tags))
    alphas[0] = start + emissions[0]
    for t in range(1, seq_len):
        alphas[t] = _logsumexp(alphas[t - 1][:, None] + transitions, axis=0) + emissions[t]

    betas = np.empty((seq_len, num_tags))
    betas[-1] = end
    for t in range(seq_len - 2, -1, -1):
        betas[t] = _logsumexp(transitions + (emissions[t + 1] + betas[t + 1])[None, :], axis=1)

    log_partition = _logsumexp(alphas[-1] + end, axis=0)
    return np.exp(alphas + betas - log_partition)
