"""The CRF against brute force on tiny problems, its mask handling, its gradients, and its numpy twin."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch

from nlu.modules import crf_numpy
from nlu.modules.crf import CRF

NUM_TAGS = 3
SEQ_LEN = 4


def make_crf(num_tags: int = NUM_TAGS, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags).double()
    # Scores larger than the default init, so that brute force and the recursions disagree if either is wrong.
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.uniform_(-2.0, 2.0)
    return crf


def random_emissions(batch: int, seq_len: int, num_tags: int = NUM_TAGS, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, seq_len, num_tags, generator=generator, dtype=torch.float64) * 2


def path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """emissions: (seq_len, num_tags), already compacted."""
    score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    score = score + sum(emissions[t, tag] for t, tag in enumerate(path))
    score = score + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))
    return float(score.detach())


def brute_force(crf: CRF, emissions: torch.Tensor) -> tuple[dict[tuple[int, ...], float], float]:
    """All paths' scores and the log partition for one compacted sequence, emissions: (seq_len, num_tags)."""
    scores = {
        path: path_score(crf, emissions, path)
        for path in itertools.product(range(crf.num_tags), repeat=emissions.shape[0])
    }
    log_partition = float(torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), dim=0))
    return scores, log_partition


def brute_force_marginals(crf: CRF, emissions: torch.Tensor) -> torch.Tensor:
    scores, log_partition = brute_force(crf, emissions)
    out = torch.zeros(emissions.shape, dtype=torch.float64)
    for path, score in scores.items():
        for t, tag in enumerate(path):
            out[t, tag] += np.exp(score - log_partition)
    return out


def numpy_parameters(crf: CRF) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        crf.transitions.detach().numpy(),
        crf.start_transitions.detach().numpy(),
        crf.end_transitions.detach().numpy(),
    )


HOLEY_MASK = torch.tensor(
    [
        [1, 1, 1, 1, 0, 0, 0],  # right padding only
        [0, 1, 0, 1, 1, 0, 1],  # subword holes
        [1, 0, 0, 0, 0, 0, 0],  # one word
        [0, 0, 0, 0, 0, 0, 0],  # no labelled position at all
    ],
    dtype=torch.bool,
)


# ------------------------------------------------------------------------------------------------ brute force


@pytest.mark.parametrize("num_tags", [3, 4])
def test_nll_matches_brute_force(num_tags: int) -> None:
    crf = make_crf(num_tags)
    emissions = random_emissions(2, SEQ_LEN, num_tags)
    generator = torch.Generator().manual_seed(2)
    tags = torch.randint(num_tags, (2, SEQ_LEN), generator=generator)
    nll = crf(emissions, tags, torch.ones(2, SEQ_LEN, dtype=torch.bool), reduction="none")
    for i in range(2):
        scores, log_partition = brute_force(crf, emissions[i])
        expected = log_partition - scores[tuple(tags[i].tolist())]
        assert nll[i].item() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("num_tags", [3, 4])
def test_viterbi_matches_brute_force(num_tags: int) -> None:
    crf = make_crf(num_tags)
    emissions = random_emissions(5, SEQ_LEN, num_tags, seed=3)
    decoded = crf.decode(emissions, torch.ones(5, SEQ_LEN, dtype=torch.bool))
    for i in range(5):
        scores, _ = brute_force(crf, emissions[i])
        assert tuple(decoded[i]) == max(scores, key=scores.__getitem__)


def test_marginals_match_brute_force_and_sum_to_one() -> None:
    crf = make_crf(4)
    emissions = random_emissions(3, SEQ_LEN, 4, seed=4)
    result = crf.marginals(emissions, torch.ones(3, SEQ_LEN, dtype=torch.bool))
    assert result.shape == (3, SEQ_LEN, 4)
    torch.testing.assert_close(result.sum(-1), torch.ones(3, SEQ_LEN, dtype=torch.float64))
    for i in range(3):
        torch.testing.assert_close(result[i], brute_force_marginals(crf, emissions[i]))


def test_nll_is_nonnegative_and_normalised() -> None:
    """The probabilities of all tag sequences sum to 1: a check independent of the brute-force helper."""
    crf = make_crf()
    emissions = random_emissions(1, 3).expand(NUM_TAGS**3, -1, -1)
    all_tags = torch.tensor(list(itertools.product(range(NUM_TAGS), repeat=3)))
    nll = crf(emissions, all_tags, torch.ones(all_tags.shape, dtype=torch.bool), reduction="none")
    assert (nll >= 0).all()
    assert torch.exp(-nll).sum().item() == pytest.approx(1.0, abs=1e-9)


# ------------------------------------------------------------------------------------------------ masks


def compacted(emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, i: int):
    return emissions[i][mask[i]][None], tags[i][mask[i]][None]


def test_holey_mask_equals_compacted_dense_input() -> None:
    crf = make_crf()
    batch, seq_len = HOLEY_MASK.shape
    emissions = random_emissions(batch, seq_len, seed=5)
    # Unlabelled positions carry the usual ignore index: the CRF must never read them.
    gold = torch.randint(NUM_TAGS, (batch, seq_len), generator=torch.Generator().manual_seed(6))
    tags = torch.where(HOLEY_MASK, gold, torch.full_like(gold, -100))

    nll = crf(emissions, tags, HOLEY_MASK, reduction="none")
    decoded = crf.decode(emissions, HOLEY_MASK)
    result = crf.marginals(emissions, HOLEY_MASK)

    for i in range(batch):
        dense_emissions, dense_tags = compacted(emissions, tags, HOLEY_MASK, i)
        length = int(HOLEY_MASK[i].sum())
        assert len(decoded[i]) == length
        if length == 0:
            assert nll[i].item() == 0.0
            assert decoded[i] == []
            continue
        dense_mask = torch.ones(1, length, dtype=torch.bool)
        torch.testing.assert_close(nll[i : i + 1], crf(dense_emissions, dense_tags, dense_mask, "none"))
        assert decoded[i] == crf.decode(dense_emissions, dense_mask)[0]
        torch.testing.assert_close(result[i][HOLEY_MASK[i]], crf.marginals(dense_emissions, dense_mask)[0])
        # And the dense answer is itself right.
        scores, log_partition = brute_force(crf, dense_emissions[0])
        assert nll[i].item() == pytest.approx(log_partition - scores[tuple(dense_tags[0].tolist())])

    # Marginals are zero where nothing is labelled and sum to one where something is.
    assert (result[~HOLEY_MASK] == 0).all()
    torch.testing.assert_close(result.sum(-1), HOLEY_MASK.double())


def test_unmasked_emissions_do_not_matter() -> None:
    crf = make_crf()
    emissions = random_emissions(*HOLEY_MASK.shape, seed=7)
    noisy = torch.where(HOLEY_MASK[:, :, None], emissions, torch.full_like(emissions, 1e4))
    tags = torch.zeros(HOLEY_MASK.shape, dtype=torch.long)
    torch.testing.assert_close(crf(emissions, tags, HOLEY_MASK), crf(noisy, tags, HOLEY_MASK))
    assert crf.decode(emissions, HOLEY_MASK) == crf.decode(noisy, HOLEY_MASK)
    torch.testing.assert_close(crf.marginals(emissions, HOLEY_MASK), crf.marginals(noisy, HOLEY_MASK))


def test_reductions() -> None:
    crf = make_crf()
    emissions = random_emissions(*HOLEY_MASK.shape, seed=8)
    tags = torch.ones(HOLEY_MASK.shape, dtype=torch.long)
    per_sequence = crf(emissions, tags, HOLEY_MASK, reduction="none")
    assert per_sequence.shape == (HOLEY_MASK.shape[0],)
    torch.testing.assert_close(crf(emissions, tags, HOLEY_MASK, reduction="sum"), per_sequence.sum())
    torch.testing.assert_close(crf(emissions, tags, HOLEY_MASK, reduction="mean"), per_sequence.mean())
    with pytest.raises(ValueError, match="reduction"):
        crf(emissions, tags, HOLEY_MASK, reduction="token_mean")  # type: ignore[arg-type]


def test_mask_none_means_every_position() -> None:
    crf = make_crf()
    emissions = random_emissions(2, SEQ_LEN, seed=9)
    tags = torch.zeros(2, SEQ_LEN, dtype=torch.long)
    full = torch.ones(2, SEQ_LEN, dtype=torch.bool)
    torch.testing.assert_close(crf(emissions, tags), crf(emissions, tags, full))
    assert crf.decode(emissions) == crf.decode(emissions, full)


# ------------------------------------------------------------------------------------------------ empty input


def test_all_sequences_empty() -> None:
    crf = make_crf()
    emissions = random_emissions(2, 3, seed=10).requires_grad_()
    mask = torch.zeros(2, 3, dtype=torch.bool)
    tags = torch.zeros(2, 3, dtype=torch.long)
    loss = crf(emissions, tags, mask)
    assert loss.item() == 0.0
    loss.backward()
    assert (emissions.grad == 0).all()
    assert crf.decode(emissions, mask) == [[], []]
    assert (crf.marginals(emissions, mask) == 0).all()


def test_zero_length_tensors() -> None:
    crf = make_crf()
    emissions = torch.zeros(2, 0, NUM_TAGS, dtype=torch.float64)
    mask = torch.zeros(2, 0, dtype=torch.bool)
    tags = torch.zeros(2, 0, dtype=torch.long)
    assert crf(emissions, tags, mask, reduction="none").tolist() == [0.0, 0.0]
    assert crf.decode(emissions, mask) == [[], []]
    assert crf.marginals(emissions, mask).shape == (2, 0, NUM_TAGS)
    empty_batch = torch.zeros(0, 4, NUM_TAGS, dtype=torch.float64)
    no_tags = torch.zeros(0, 4, dtype=torch.long)
    assert crf(empty_batch, no_tags, no_tags.bool()).item() == 0.0


def test_shape_errors() -> None:
    crf = make_crf()
    with pytest.raises(ValueError, match="emissions"):
        crf.decode(torch.zeros(1, 4, NUM_TAGS + 1))
    with pytest.raises(ValueError, match="mask"):
        crf.decode(torch.zeros(1, 4, NUM_TAGS), torch.ones(1, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="tags"):
        crf(torch.zeros(1, 4, NUM_TAGS), torch.zeros(1, 3, dtype=torch.long))


# ------------------------------------------------------------------------------------------------ gradients


def test_gradients_flow_without_nan() -> None:
    crf = make_crf()
    emissions = random_emissions(*HOLEY_MASK.shape, seed=11).requires_grad_()
    tags = torch.zeros(HOLEY_MASK.shape, dtype=torch.long)
    crf(emissions, tags, HOLEY_MASK).backward()
    for tensor in (emissions, *crf.parameters()):
        assert tensor.grad is not None
        assert torch.isfinite(tensor.grad).all()
    assert crf.transitions.grad.abs().sum() > 0
    # Unlabelled positions get no gradient; labelled ones do.
    assert (emissions.grad[~HOLEY_MASK] == 0).all()
    assert (emissions.grad[HOLEY_MASK].abs().sum(-1) > 0).all()


def test_gradient_matches_finite_differences() -> None:
    crf = make_crf()
    mask = HOLEY_MASK[:2, :5]
    emissions = random_emissions(*mask.shape, seed=12).requires_grad_()
    tags = torch.randint(NUM_TAGS, mask.shape, generator=torch.Generator().manual_seed(13))
    assert torch.autograd.gradcheck(lambda e: crf(e, tags, mask), (emissions,))


def test_large_scores_stay_finite() -> None:
    crf = make_crf()
    emissions = random_emissions(2, SEQ_LEN, seed=14) * 1e3
    mask = torch.ones(2, SEQ_LEN, dtype=torch.bool)
    loss = crf(emissions.float(), torch.zeros(2, SEQ_LEN, dtype=torch.long), mask)
    assert torch.isfinite(loss)
    assert torch.isfinite(crf.marginals(emissions, mask)).all()


# ------------------------------------------------------------------------------------------------ numpy twin


def test_numpy_twin_agrees_with_torch() -> None:
    crf = make_crf(4).float()
    emissions = random_emissions(*HOLEY_MASK.shape, num_tags=4, seed=15).float()
    decoded = crf.decode(emissions, HOLEY_MASK)
    result = crf.marginals(emissions, HOLEY_MASK).detach()
    parameters = numpy_parameters(crf)
    for i in range(HOLEY_MASK.shape[0]):
        words = emissions[i][HOLEY_MASK[i]].numpy()
        assert crf_numpy.viterbi_decode(words, *parameters) == decoded[i]
        twin = crf_numpy.marginals(words, *parameters)
        assert twin.shape == (int(HOLEY_MASK[i].sum()), 4)
        np.testing.assert_allclose(twin, result[i][HOLEY_MASK[i]].numpy(), atol=1e-5)


def test_numpy_twin_matches_brute_force() -> None:
    crf = make_crf(4)
    emissions = random_emissions(1, SEQ_LEN, 4, seed=16)[0]
    scores, _ = brute_force(crf, emissions)
    parameters = numpy_parameters(crf)
    assert tuple(crf_numpy.viterbi_decode(emissions.numpy(), *parameters)) == max(scores, key=scores.get)
    np.testing.assert_allclose(
        crf_numpy.marginals(emissions.numpy(), *parameters), brute_force_marginals(crf, emissions).numpy()
    )


def test_numpy_twin_handles_forbidden_transitions() -> None:
    """-inf scores, as a BIO constraint would write them, must not turn into NaN."""
    transitions = np.zeros((3, 3))
    transitions[0, 2] = -np.inf  # O -> I-x is forbidden
    start = np.array([0.0, 0.0, -np.inf])
    end = np.zeros(3)
    emissions = np.array([[5.0, 0.0, 0.0], [0.0, 0.0, 9.0], [0.0, 0.0, 9.0]])
    path = crf_numpy.viterbi_decode(emissions, transitions, start, end)
    assert path == [1, 2, 2]  # 0 -> 2 is forbidden, so the strong 2s must start from tag 1
    result = crf_numpy.marginals(emissions, transitions, start, end)
    assert np.isfinite(result).all()
    np.testing.assert_allclose(result.sum(-1), 1.0)
    assert result[0, 2] == 0.0


def test_numpy_twin_empty_sequence() -> None:
    parameters = numpy_parameters(make_crf())
    assert crf_numpy.viterbi_decode(np.zeros((0, NUM_TAGS)), *parameters) == []
    assert crf_numpy.marginals(np.zeros((0, NUM_TAGS)), *parameters).shape == (0, NUM_TAGS)


def test_numpy_twin_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
        "from nlu.modules import crf_numpy\n"
        "assert 'torch' not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------------------ learning


def test_learns_that_tag_2_follows_tag_1() -> None:
    """Token 2 is ambiguous: tagged 2 right after a tag-1 token, else 0. Only the transitions can tell."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(3, (64, 8), generator=generator)
    gold = torch.where(tokens == 1, 1, 0)
    after_one = torch.zeros_like(tokens, dtype=torch.bool)
    after_one[:, 1:] = tokens[:, :-1] == 1
    gold = torch.where((tokens == 2) & after_one, 2, gold)
    mask = torch.ones_like(tokens, dtype=torch.bool)
    mask[::2, 6:] = False  # some right padding too

    embedding = torch.nn.Embedding(3, 3)  # emissions depend on the token alone
    crf = CRF(3)
    optimizer = torch.optim.Adam([*embedding.parameters(), *crf.parameters()], lr=0.1)
    for _ in range(200):
        optimizer.zero_grad()
        loss = crf(embedding(tokens), gold, mask)
        loss.backward()
        optimizer.step()

    assert loss.item() < 0.05
    assert crf.transitions[1, 2] > crf.transitions[0, 2]
    assert crf.transitions[1, 2] > crf.transitions[2, 2]
    decoded = crf.decode(embedding(tokens), mask)
    assert decoded == [row[m].tolist() for row, m in zip(gold, mask, strict=True)]

    test_tokens = torch.tensor([[1, 2, 2, 0, 1, 2, 1, 1, 2]])
    assert crf.decode(embedding(test_tokens)) == [[1, 2, 0, 0, 1, 2, 1, 1, 2]]


def test_numpy_crf_decode_matches_brute_force():
    """The runtime's cached NumpyCRF gives the Viterbi path and that path's exact marginals, including with a
    transition forbidden by -inf and emissions of large magnitude (the scaled recursion must not overflow)."""
    crf = make_crf(num_tags=4)
    with torch.no_grad():
        crf.transitions[0, 3] = -float("inf")
    emissions = random_emissions(1, 6, num_tags=4, seed=5)[0] * 15
    parameters = numpy_parameters(crf)
    path, confidences = crf_numpy.NumpyCRF(*parameters).decode(emissions.numpy())
    assert path == crf_numpy.viterbi_decode(emissions.numpy(), *parameters)
    reference = brute_force_marginals(crf, emissions).numpy()
    # float32, as the runtime computes: agreement to float32 precision
    np.testing.assert_allclose(confidences, [reference[t, tag] for t, tag in enumerate(path)], atol=1e-5)


@pytest.mark.parametrize("scale", [0.5, 3.0, 20.0])
def test_numpy_crf_pruned_viterbi_is_exact(scale):
    """The runtime prunes predecessor tags that cannot win; its paths equal the unpruned Viterbi's on many random
    problems, flat (little pruning) to peaked (heavy pruning), with 60 tags."""
    rng = np.random.default_rng(int(scale * 10))
    for _ in range(40):
        transitions = rng.normal(scale=2.0, size=(60, 60))
        start, end = rng.normal(size=60), rng.normal(size=60)
        emissions = rng.normal(scale=scale, size=(int(rng.integers(1, 15)), 60)).astype(np.float32)
        path, _ = crf_numpy.NumpyCRF(transitions, start, end).decode(emissions)
        reference = crf_numpy.viterbi_decode(
            emissions, transitions.astype(np.float32), start.astype(np.float32), end.astype(np.float32)
        )
        assert path == reference


# ------------------------------------------------------------------------------------------------ BIO constraints

BIO_LABELS = ["UNK", "O", "B-city", "I-city", "B-date", "I-date"]


def test_bio_constraints_allow_i_x_only_after_its_own_span():
    allowed_start, allowed = crf_numpy.bio_constraints(BIO_LABELS)
    index = {label: i for i, label in enumerate(BIO_LABELS)}
    assert allowed_start.tolist() == [True, True, True, False, True, False]
    for previous in BIO_LABELS:
        for label in BIO_LABELS:
            expected = not label.startswith("I-") or previous in ("B-" + label[2:], label)
            assert allowed[index[previous], index[label]] == expected, (previous, label)


def test_bio_constraints_leave_io_tags_free():
    """An I-X without its B-X (IO tagging) would become impossible if it were constrained: it stays free."""
    allowed_start, allowed = crf_numpy.bio_constraints(["O", "I-city", "B-date", "I-date"])
    assert allowed_start[1] and allowed[:, 1].all()
    assert not allowed_start[3] and allowed[:, 3].tolist() == [False, False, True, True]


def brute_force_constrained_best(
    crf: CRF, emissions: torch.Tensor, allowed_start, allowed
) -> tuple[int, ...]:
    """The best path among those the constraints allow, by enumeration. emissions: (seq_len, num_tags)."""
    scores, _ = brute_force(crf, emissions)
    legal = {
        path: score
        for path, score in scores.items()
        if allowed_start[path[0]] and all(allowed[a, b] for a, b in itertools.pairwise(path))
    }
    return max(legal, key=legal.get)


def test_constrained_decoding_is_the_best_legal_path_in_torch_and_numpy():
    """Emissions that favour an uncoordinated I-X: both decoders return the best path BIO allows (by brute
    force), the same path, and marginals that give forbidden tags no mass."""
    constraints = crf_numpy.bio_constraints(BIO_LABELS)
    allowed_start, allowed = constraints
    num_tags = len(BIO_LABELS)
    illegal_without_constraints = 0
    for seed in range(12):
        crf = make_crf(num_tags=num_tags, seed=seed)
        constrained = CRF(num_tags, constraints).double()
        constrained.load_state_dict(crf.state_dict())  # the constraints are not in the state dict
        emissions = random_emissions(1, 4, num_tags=num_tags, seed=seed)
        emissions[0, 0, 3] += 6.0  # I-city first
        emissions[0, 2, 5] += 6.0  # I-date wherever pass 1 would not have put B-date
        best = brute_force_constrained_best(crf, emissions[0], allowed_start, allowed)
        assert tuple(constrained.decode(emissions)[0]) == best
        illegal_without_constraints += tuple(crf.decode(emissions)[0]) != best
        path, confidences = crf_numpy.NumpyCRF(*numpy_parameters(crf), *constraints).decode(
            emissions[0].numpy()
        )
        assert tuple(path) == best
        with torch.no_grad():
            marginals = constrained.marginals(emissions)[0]
        assert float(marginals[0, 3]) == 0.0 and float(marginals[0, 5]) == 0.0
        torch.testing.assert_close(marginals.sum(-1), torch.ones(4, dtype=torch.float64))
        np.testing.assert_allclose(
            confidences, [float(marginals[t, tag]) for t, tag in enumerate(path)], atol=1e-5
        )
    # Unconstrained, these emissions mostly win with an uncoordinated tag: the constraints change the answer.
    assert illegal_without_constraints >= 6


def test_constraints_leave_the_training_loss_and_the_state_dict_alone():
    constraints = crf_numpy.bio_constraints(BIO_LABELS)
    crf = make_crf(num_tags=len(BIO_LABELS))
    constrained = CRF(len(BIO_LABELS), constraints).double()
    assert set(constrained.state_dict()) == set(crf.state_dict())
    constrained.load_state_dict(crf.state_dict())
    emissions = random_emissions(2, 4, num_tags=len(BIO_LABELS))
    tags = torch.tensor([[1, 2, 3, 1], [4, 5, 1, 2]])
    torch.testing.assert_close(constrained(emissions, tags), crf(emissions, tags))


def test_numpy_crf_constrained_pruned_viterbi_is_exact():
    """With BIO constraints on 61 tags (30 types) the runtime's pruned Viterbi equals the plain reference run on
    the same constrained scores, for flat to peaked emissions."""
    labels = ["O"] + [f"{prefix}-t{k}" for k in range(30) for prefix in ("B", "I")]
    allowed_start, allowed = crf_numpy.bio_constraints(labels)
    rng = np.random.default_rng(3)
    for scale in (0.5, 3.0, 20.0):
        for _ in range(20):
            transitions = rng.normal(scale=2.0, size=(61, 61)).astype(np.float32)
            start, end = rng.normal(size=61).astype(np.float32), rng.normal(size=61).astype(np.float32)
            emissions = rng.normal(scale=scale, size=(int(rng.integers(1, 15)), 61)).astype(np.float32)
            path, _ = crf_numpy.NumpyCRF(transitions, start, end, allowed_start, allowed).decode(emissions)
            reference = crf_numpy.viterbi_decode(
                emissions,
                np.where(allowed, transitions, -np.inf),
                np.where(allowed_start, start, -np.inf),
                end,
            )
            assert path == reference
            assert allowed_start[path[0]] and all(allowed[a, b] for a, b in itertools.pairwise(path))
