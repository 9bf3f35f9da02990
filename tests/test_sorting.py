"""Non-dominated sorting and the first front against moocore, pymoo and the numpy reference."""
from __future__ import annotations

import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting, find_non_dominated

from nsganetv2.moo import _sorting
from nsganetv2.moo._paths import NDSAlgo
from nsganetv2.moo._reference import non_dominated_sort_ref, pareto_mask_ref
from nsganetv2.moo.sorting import fronts, non_dominated_sort, pareto_mask


def _data(kind: str, n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((n, m))
    if kind == "grid":  # many ties and exact duplicates
        return rng.integers(0, 4, size=(n, m)).astype(float)
    if kind == "sphere":  # one front
        X = np.abs(rng.normal(size=(n, m))) + 1e-9
        return X / np.linalg.norm(X, axis=1, keepdims=True)
    if kind == "mixed":  # many small fronts plus copies of some rows
        F = rng.integers(0, 12, size=(n, m)).astype(float) / 3.0
        F[: n // 4] = F[n // 4 : 2 * (n // 4)]
        return F
    raise AssertionError(kind)


KINDS = ["uniform", "grid", "sphere", "mixed"]


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_ranks_agree_with_moocore_pymoo_and_reference(kind: str, m: int) -> None:
    for seed, n in enumerate([1, 2, 7, 60, 400]):
        F = _data(kind, n, m, seed)
        ours = non_dominated_sort(F)
        assert ours.dtype == np.int64 and ours.shape == (n,)
        np.testing.assert_array_equal(ours, moocore.pareto_rank(F))
        np.testing.assert_array_equal(ours, NonDominatedSorting().do(F, return_rank=True)[1])
        np.testing.assert_array_equal(ours, non_dominated_sort_ref(F))
        # the general k-d tree path must agree too (it is used for M >= 4 and forced here for M <= 3), and so must
        # the treap staircases (the M = 3 fallback when there are too many fronts for the bitsets)
        np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.KDTREE), ours)
        np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.TREAP), ours)
        # M = 2, 3: SWEEP is the sweep (AUTO's from 65,536 rows); COPY is the row-copying path (AUTO's below, and the
        # sweep's fallback), SWEEP_TIGHT the sweep on a 2 x 2 grid with budgets small enough to give up at these sizes
        np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.SWEEP), ours)
        np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.COPY), ours)
        np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.SWEEP_TIGHT), ours)


def _sweep_cases(n: int, seed: int) -> dict[str, np.ndarray]:
    """Data aimed at the corners of the M = 2, 3 sweep (csrc/moo/nds.h): its row sort, its grid and its budgets."""
    rng = np.random.default_rng(seed)
    t = rng.random(n)
    antichain = np.column_stack([rng.random(n), t, 1.0 - t])  # one front, every row on the (f2, f3) staircase
    chain = np.repeat(np.arange(n, dtype=float)[:, None], 3, axis=1)  # n fronts: more than the tables' budget
    ties = rng.integers(0, 3, size=(n, 3)).astype(float)  # runs of equal first keys longer than insertion sort's
    ties[:, 1:] += rng.random((n, 2)) * 0.5
    clustered = rng.random((n, 3))
    clustered[:, 0] = 1.0 + clustered[:, 0] * 1e-12  # nearly all first keys in one bucket of the row sort
    clustered[: n // 50, 0] = rng.normal(size=n // 50) * 1e6
    signed = rng.integers(-2, 3, size=(n, 3)) * 0.5  # -0.0 and 0.0 are equal
    signed[rng.random((n, 3)) < 0.3] *= -1.0
    sphere = _data("sphere", n, 3, seed)
    spread = np.exp(rng.normal(size=(n, 3)) * 20)  # keys over many exponents: skewed grid buckets
    cases = dict(antichain=antichain, chain=chain, ties=ties, clustered=clustered, signed=signed, sphere=sphere,
                 spread=spread)
    cases.update({f"{k}-2": v[:, [0, 2]].copy() for k, v in list(cases.items())})
    return cases


@pytest.mark.parametrize("n", [40, 700, 5000])
def test_the_sweep_agrees_with_moocore_and_brute_force_on_awkward_data(n: int) -> None:
    for name, F in _sweep_cases(n, n).items():
        expected = moocore.pareto_rank(F)
        if n <= 700:
            np.testing.assert_array_equal(expected, non_dominated_sort_ref(F), err_msg=name)
        for algo in (NDSAlgo.AUTO, NDSAlgo.SWEEP, NDSAlgo.SWEEP_TIGHT, NDSAlgo.COPY):
            np.testing.assert_array_equal(_sorting.ranks(F, algo), expected, err_msg=f"{name} {algo.name}")
        perm = np.random.default_rng(n).permutation(n)
        np.testing.assert_array_equal(non_dominated_sort(F[perm]), expected[perm], err_msg=name)


@pytest.mark.parametrize("m", [2, 3])
def test_the_sweep_at_sizes_where_its_grid_is_fine(m: int) -> None:
    """Uniform and integer-grid data large enough for the M = 3 grid's finest bucket count, and for the row sort's
    radix pass on long buckets (the grid data's runs of equal first keys)."""
    rng = np.random.default_rng(m)
    for F in (rng.random((300_000, m)), rng.integers(0, 40, size=(100_000, m)).astype(float)):
        np.testing.assert_array_equal(non_dominated_sort(F), moocore.pareto_rank(F))


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_pareto_mask_agrees_with_moocore_pymoo_and_reference(kind: str, m: int) -> None:
    for seed, n in enumerate([1, 2, 7, 60, 400]):
        F = _data(kind, n, m, 100 + seed)
        ours = pareto_mask(F)
        assert ours.dtype == np.bool_ and ours.shape == (n,)
        np.testing.assert_array_equal(ours, moocore.is_nondominated(F, keep_weakly=True))
        np.testing.assert_array_equal(np.flatnonzero(ours), find_non_dominated(F))
        np.testing.assert_array_equal(ours, pareto_mask_ref(F))
        np.testing.assert_array_equal(_sorting.first_front(F, NDSAlgo.KDTREE), ours)
        np.testing.assert_array_equal(_sorting.first_front(F, NDSAlgo.TREAP), ours)
        np.testing.assert_array_equal(_sorting.first_front(F, NDSAlgo.NO_FILTER), ours)  # without the early-exit filter
        np.testing.assert_array_equal(_sorting.first_front(F, NDSAlgo.KDTREE_NO_FILTER), ours)


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_larger_sets_agree_with_moocore(kind: str, m: int) -> None:
    """Big enough for many k-d tree splits, deep treaps and the radix sort."""
    F = _data(kind, 3000, m, 7 * m)
    np.testing.assert_array_equal(non_dominated_sort(F), moocore.pareto_rank(F))
    np.testing.assert_array_equal(pareto_mask(F), moocore.is_nondominated(F, keep_weakly=True))
    np.testing.assert_array_equal(_sorting.first_front(F, NDSAlgo.NO_FILTER), pareto_mask(F))
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.KDTREE), moocore.pareto_rank(F))
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.TREAP), moocore.pareto_rank(F))
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.COPY), moocore.pareto_rank(F))
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.SWEEP), moocore.pareto_rank(F))
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.SWEEP_TIGHT), moocore.pareto_rank(F))


def _pairs_cases(n: int, m: int, seed: int) -> dict[str, np.ndarray]:
    """Data for the pairs path (csrc/moo/nds.h, moo_nds_pairs) besides _data's kinds."""
    rng = np.random.default_rng(seed)
    signed = rng.integers(-1, 2, size=(n, m)) * 0.5  # -0.0 and 0.0 are equal
    signed[rng.random((n, m)) < 0.5] *= -1.0
    # equal coordinate sums where rows dominate one another (1e17 absorbs the small values), so that the first
    # front's sum order puts victims before their dominators
    tied = np.column_stack([np.full(n, 1e17), rng.integers(0, 3, size=(n, m - 1)).astype(float)])
    chain = np.repeat(np.arange(n, dtype=float)[::-1, None], m, axis=1)  # n fronts, the last row first
    cases = {k: _data(k, n, m, seed) for k in KINDS}
    cases.update(signed=signed, tied=tied[:, :m], chain=chain)
    return cases


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 8, 13, 40])
def test_the_pairs_path_agrees_with_the_kd_tree(m: int) -> None:
    """PAIRS (AVX2 where the CPU has it) and PAIRS_SCALAR at every size up to their limit (384 rows; above it,
    PAIRS is AUTO), across the groups of four and the 64-bit words; AUTO across its per-M limits."""
    for n in (1, 2, 3, 4, 5, 63, 64, 65, 128, 129, 192, 193, 256, 257, 383, 384, 385):
        for name, F in _pairs_cases(n, m, n + m).items():
            ranks = _sorting.ranks(F, NDSAlgo.KDTREE)
            front = _sorting.first_front(F, NDSAlgo.KDTREE_NO_FILTER)
            np.testing.assert_array_equal(front, ranks == 0)
            for algo in (NDSAlgo.PAIRS, NDSAlgo.PAIRS_SCALAR, NDSAlgo.AUTO):
                msg = f"{name} n={n} {algo.name}"
                np.testing.assert_array_equal(_sorting.ranks(F, algo), ranks, err_msg=msg)
                np.testing.assert_array_equal(_sorting.first_front(F, algo), front, err_msg=msg)
    F = _data("mixed", 300, m, m)
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.PAIRS), moocore.pareto_rank(F))
    np.testing.assert_array_equal(_sorting.ranks(F, NDSAlgo.PAIRS), non_dominated_sort_ref(F))


def test_algo_argument_is_checked() -> None:
    F = np.zeros((3, 2))
    for bad in (-1, len(NDSAlgo)):
        with pytest.raises(ValueError, match="algo"):
            _sorting.ranks(F, bad)
        with pytest.raises(ValueError, match="algo"):
            _sorting.first_front(F, bad)


@pytest.mark.parametrize("kind", ["uniform", "grid", "sphere"])
def test_big_inputs_use_the_bucketed_radix_sort(kind: str) -> None:
    """N above the size where the row sort switches to its MSD bucket pass."""
    for m in (2, 3):
        F = _data(kind, 20000, m, 11 * m)
        np.testing.assert_array_equal(non_dominated_sort(F), moocore.pareto_rank(F))
        np.testing.assert_array_equal(pareto_mask(F), moocore.is_nondominated(F, keep_weakly=True))
    F = np.exp(np.random.default_rng(3).normal(size=(20000, 2)) * 30)  # keys spread over many exponents
    F[::3] *= -1
    np.testing.assert_array_equal(non_dominated_sort(F), moocore.pareto_rank(F))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_long_chains_of_fronts(m: int) -> None:
    """One point per front (for M = 3 this overflows the bitset budget and falls back to the treaps)."""
    n = 6000
    F = np.repeat(np.arange(n, dtype=float)[::-1, None], m, axis=1)
    F[::7, -1] += 0.5  # ties in all but the last objective
    ranks = non_dominated_sort(F)
    np.testing.assert_array_equal(ranks, moocore.pareto_rank(F))
    assert ranks.max() == n - 1
    np.testing.assert_array_equal(pareto_mask(F), ranks == 0)


def test_concurrent_calls_from_threads_agree() -> None:
    """The kernels release the GIL and keep per-thread scratch: concurrent and short-lived threads must agree."""
    from concurrent.futures import ThreadPoolExecutor

    from nsganetv2.moo.crowding import crowding_distance

    data = [_data(kind, n, m, s) for s, (kind, n, m) in enumerate([("uniform", 9000, 3), ("grid", 5000, 2),
                                                                      ("sphere", 3000, 4), ("uniform", 200, 5)] * 3)]
    expected = [(moocore.pareto_rank(F), moocore.is_nondominated(F, keep_weakly=True)) for F in data]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda F: (non_dominated_sort(F), pareto_mask(F), crowding_distance(F)), data))
    for (r, mk), (r2, mk2, cd) in zip(expected, got):
        np.testing.assert_array_equal(r2, r)
        np.testing.assert_array_equal(mk2, mk)
        assert cd.shape == r.shape


def test_ties_in_first_objective_and_duplicates_share_fronts() -> None:
    F = np.array([[1, 2], [1, 2], [1, 3], [0, 5], [2, 1], [2, 1], [1, 1]], dtype=float)
    # (1,1) dominates (1,2) twice and (1,3) and (2,1) twice; (0,5) is non-dominated
    np.testing.assert_array_equal(non_dominated_sort(F), [1, 1, 2, 0, 1, 1, 0])
    np.testing.assert_array_equal(pareto_mask(F), [False, False, False, True, False, False, True])
    G = np.array([[0.0, 1.0], [-0.0, 1.0], [1.0, 0.0]])  # -0.0 == 0.0: duplicates
    np.testing.assert_array_equal(non_dominated_sort(G), [0, 0, 0])
    np.testing.assert_array_equal(pareto_mask(G), [True, True, True])


def test_fronts_partition_the_points_by_rank() -> None:
    F = _data("grid", 500, 3, 3)
    ranks = non_dominated_sort(F)
    fr = fronts(F)
    assert len(fr) == ranks.max() + 1
    np.testing.assert_array_equal(np.sort(np.concatenate(fr)), np.arange(len(F)))
    pymoo_fronts = NonDominatedSorting().do(F)
    for k, f in enumerate(fr):
        assert f.dtype == np.int64
        assert np.all(np.diff(f) > 0)
        np.testing.assert_array_equal(ranks[f], k)
        np.testing.assert_array_equal(f, pymoo_fronts[k])


def test_input_types_are_accepted() -> None:
    rng = np.random.default_rng(5)
    I = rng.integers(-3, 3, size=(200, 3))
    expected = moocore.pareto_rank(I.astype(float))
    np.testing.assert_array_equal(non_dominated_sort(I), expected)
    np.testing.assert_array_equal(non_dominated_sort(I.astype(np.float32)), expected)
    np.testing.assert_array_equal(non_dominated_sort(I.tolist()), expected)
    np.testing.assert_array_equal(non_dominated_sort(np.asfortranarray(I.astype(float))), expected)
    wide = np.repeat(I.astype(float), 2, axis=1)[:, ::2]  # non-contiguous view
    np.testing.assert_array_equal(non_dominated_sort(wide), expected)
    np.testing.assert_array_equal(pareto_mask(I.astype(np.float32)), expected == 0)


@pytest.mark.parametrize("fn", [non_dominated_sort, pareto_mask, fronts])
def test_bad_input_raises_value_error(fn) -> None:
    with pytest.raises(ValueError, match="2-D"):
        fn(np.zeros(3))
    with pytest.raises(ValueError, match="2-D"):
        fn(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="no objectives"):
        fn(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="numbers"):
        fn(np.array([["a", "b"]]))
    F = np.zeros((5, 3))
    F[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        fn(F)
    F[3, 1] = 0.0
    F[2, 2] = -np.inf
    with pytest.raises(ValueError, match="row 2"):
        fn(F)
    with pytest.raises(ValueError, match="row 1"):
        fn(np.array([[0, 1], [np.inf, 2]], dtype=np.float32))


_points = st.integers(1, 5).flatmap(
    lambda m: hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.just(m)),
        elements=st.sampled_from([-1.0, -0.0, 0.0, 0.5, 1.0, 2.0, 3.5]),
    )
)


@settings(max_examples=150, deadline=None)
@given(F=_points, seed=st.integers(0, 2**32 - 1))
def test_ranks_invariant_under_row_permutation(F: np.ndarray, seed: int) -> None:
    perm = np.random.default_rng(seed).permutation(len(F))
    ranks = non_dominated_sort(F)
    np.testing.assert_array_equal(non_dominated_sort(F[perm]), ranks[perm])
    np.testing.assert_array_equal(ranks, non_dominated_sort_ref(F))


@settings(max_examples=150, deadline=None)
@given(F=_points)
def test_first_front_equals_pareto_mask(F: np.ndarray) -> None:
    np.testing.assert_array_equal(pareto_mask(F), non_dominated_sort(F) == 0)
    np.testing.assert_array_equal(fronts(F)[0], np.flatnonzero(pareto_mask(F)))


@pytest.mark.parametrize("fn", [non_dominated_sort, pareto_mask, fronts])
def test_complex_input_is_refused_not_cut_to_its_real_part(fn) -> None:
    F = np.array([[1.0, 2.0], [2.0, 1.0 + 3j]])
    with pytest.raises(ValueError, match=r"F holds complex numbers \(dtype complex128\).*F\.real"):
        fn(F)
    with pytest.raises(ValueError, match="F holds complex numbers"):
        fn(F.tolist())
    with pytest.raises(ValueError, match="F holds complex numbers"):
        fn(F.astype(np.complex64))


def test_the_pymoo_sorting_plugin_refuses_complex_input_too() -> None:
    from nsganetv2.moo.pymoo_plugins import FastNonDominatedSorting

    with pytest.raises(ValueError, match="F holds complex numbers"):
        FastNonDominatedSorting().do(np.array([[1.0, 2.0], [2.0, 1j]]))
