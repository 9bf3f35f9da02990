"""n_threads of pareto_mask: the same mask for any thread count."""
from __future__ import annotations

import numpy as np
import pytest

from nsganetv2.moo._paths import NDSAlgo
from nsganetv2.moo import _sorting
from nsganetv2.moo.sorting import pareto_mask


@pytest.mark.parametrize("m", [2, 3, 5])
def test_pareto_mask_is_the_same_for_any_thread_count(m: int) -> None:
    rng = np.random.default_rng(m)
    sets = [rng.random((20000, m)), np.round(rng.random((5000, m)) * 6),  # uniform; ties and copies
            np.vstack([rng.random((3000, m)), np.abs(rng.normal(size=(300, m)))]), rng.random((65, m)),
            # from 8,192 rows a thread (fewer rows run on one): large sets, with ties and copies too
            rng.random((200_000, m)), np.round(rng.random((140_000, m)) * 6)]
    # thousands of filter survivors (M = 2, 3: the threads take a share each and then merge their fronts; M = 5: a
    # part of the first objective each, then tested across parts): one front with its copies in both halves (reversed,
    # and rounded so that some copies dominate others) over dominated rows
    S = np.abs(rng.normal(size=(3000, m)))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    sets.append(np.vstack([S, rng.random((140_000, m)) + 1.0, S[::-1], np.round(S * 4) / 4]))
    for F in sets:
        one = pareto_mask(F)
        np.testing.assert_array_equal(one, _sorting.first_front(np.ascontiguousarray(F), int(NDSAlgo.NO_FILTER)))
        for t in (2, 3, 7, 64, 100):
            np.testing.assert_array_equal(pareto_mask(F, n_threads=t), one)


@pytest.fixture
def four_cpus():
    """The sorting kernels act as if the host had 4 CPUs (their threads capped there), so that the paths for 3 and 4
    threads run on a 2-CPU host too."""
    before = _sorting._set_cpus_for_tests(4)
    try:
        yield
    finally:
        _sorting._set_cpus_for_tests(before)


@pytest.mark.parametrize("m", [4, 6])
def test_many_survivors_at_m_4_and_up_give_the_same_front_on_any_threads(m: int, four_cpus) -> None:
    """M >= 4 with thousands of filter survivors: on T threads they are sorted in T parts split on the first
    objective, each swept on its own thread, and the later parts' fronts tested against the earlier parts'. The first
    objective takes few values here, so that the splits fall inside runs of ties; there are copies (in different
    parts of the rows), rounded copies that dominate others, a front of 12,000 rows (every row in its part's front)
    and dominated rows."""
    rng = np.random.default_rng(m)
    S = np.abs(rng.normal(size=(6000, m)))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    S[:, 0] = np.round(S[:, 0] * 3) / 3
    front = np.abs(rng.normal(size=(12000, m)))
    front /= np.linalg.norm(front, axis=1, keepdims=True)
    sets = [np.vstack([S, rng.random((60000, m)) + 0.3, S[:500], np.round(S * 8) / 8, -0.0 * S[:50]]), front,
            np.vstack([front, front[::-1] + 1e-3])]
    for F in sets:
        want = _sorting.first_front(np.ascontiguousarray(F), int(NDSAlgo.NO_FILTER))
        for t in (1, 2, 3, 4):
            np.testing.assert_array_equal(pareto_mask(F, n_threads=t), want)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_a_row_dominated_only_by_the_row_before_it_in_another_part_is_dropped(m: int, four_cpus) -> None:
    """Front rows a_k = (k, -k, 0, ...) and rows b_k = (k + 1/2, -k, 0, ...) that only a_k dominates: where the
    threads' parts split the first objective at some b_k (with 3 and 4 threads for these seeds; 2 threads split at an
    a_k here), b_k opens a part whose row before it (a_k) lies in the part before, and only that part's front drops
    it."""
    rng = np.random.default_rng(m)
    k = np.arange(20000.0)
    F = np.zeros((2 * k.size, m))
    F[: k.size, 0], F[: k.size, 1] = k, -k
    F[k.size:, 0], F[k.size:, 1] = k + 0.5, -k
    order = rng.permutation(len(F))
    want = np.arange(len(F))[order] < k.size
    for t in (1, 2, 3, 4):
        np.testing.assert_array_equal(pareto_mask(F[order], n_threads=t), want, err_msg=f"{t} threads")


def test_threads_report_the_first_bad_row_and_bad_counts() -> None:
    F = np.random.default_rng(0).random((40000, 3))  # 4 threads' worth of rows, in 32 chunks
    F[30000, 1] = np.nan
    F[35000, 0] = np.inf
    for t in (1, 2, 4):
        with pytest.raises(ValueError, match="row 30000"):
            pareto_mask(F, n_threads=t)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_threads"):
            pareto_mask(F[:10], n_threads=bad)


def test_calls_from_several_threads_at_once_give_each_its_own_answer() -> None:
    """The kernels' thread team runs one call's job at a time: a call made while it is busy runs on its own thread.
    Both kinds of call, at once from four Python threads (the kernels release the GIL), give the serial answers."""
    from concurrent.futures import ThreadPoolExecutor

    from nsganetv2.moo import hypervolume

    rng = np.random.default_rng(5)
    sets = [rng.random((150_000, m)) for m in (2, 3, 5)]
    masks = [pareto_mask(F) for F in sets]
    S = np.abs(rng.normal(size=(1200, 5)))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    ref = np.full(5, 1.1)
    hv = hypervolume(S, ref)

    def work(k: int) -> bool:
        ok = True
        for r in range(6):
            if (k + r) % 2:
                i = (k + r) % 3
                ok &= bool(np.array_equal(pareto_mask(sets[i], n_threads=2), masks[i]))
            else:
                ok &= hypervolume(S, ref, n_threads=2) == hv
        return ok

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))


def _mask_in_child(F: np.ndarray) -> tuple[np.ndarray, int]:
    import os

    before = len(os.listdir("/proc/self/task"))
    mask = pareto_mask(F, n_threads=64)
    return mask, len(os.listdir("/proc/self/task")) - before


@pytest.mark.parametrize("kind", ["integer simplex", "rounded front over dominated rows", "few first values",
                                  "signed zeros"])
def test_random_sets_give_the_same_front_on_any_threads(kind: str, four_cpus) -> None:
    """Random sets of 2 to 7 objectives, thousands of rows in shuffled order, against the unfiltered path on 1 to 4
    threads: lattice points on a simplex (every distinct point in the front, many copies), a rounded front over
    dominated rows, a first objective of 5 values, and fronts whose first objective mixes 0.0 and -0.0."""
    rng = np.random.default_rng(len(kind))
    for m in range(2, 8):
        n = int(rng.integers(5000, 20000))
        if kind == "integer simplex":
            X = rng.integers(0, 6, size=(n, m)).astype(float)
            X[:, -1] = 20 - X[:, :-1].sum(1)
        elif kind == "rounded front over dominated rows":
            S = np.abs(rng.normal(size=(n // 3, m)))
            S /= np.linalg.norm(S, axis=1, keepdims=True)
            X = np.vstack([np.round(S * 16) / 16, rng.random((n, m)) + 0.5, S[: n // 10]])
        elif kind == "few first values":
            X = rng.random((n, m))
            X[:, 0] = np.round(X[:, 0] * 4)
        else:
            X = np.abs(rng.normal(size=(n, m)))
            X /= X.sum(1, keepdims=True)
            X[rng.random(n) < 0.3, 0] = 0.0
            X[rng.random(n) < 0.3, 0] = -0.0
        X = rng.permutation(X)
        want = _sorting.first_front(np.ascontiguousarray(X), int(NDSAlgo.NO_FILTER))
        for t in (1, 2, 3, 4):
            np.testing.assert_array_equal(pareto_mask(X, n_threads=t), want, err_msg=f"{kind}, M = {m}, {t} threads")


def _threads_in_child_with_cpus(F: np.ndarray, cpus: int) -> int:
    import os

    _sorting._set_cpus_for_tests(cpus)
    before = len(os.listdir("/proc/self/task"))
    pareto_mask(F, n_threads=64)
    return len(os.listdir("/proc/self/task")) - before


def test_the_tests_cpu_stand_in_sets_the_thread_cap() -> None:
    """With the stand-in at 4 CPUs a call asking for 64 threads runs on 4 (3 workers besides the caller), whatever
    the host has; the stand-in is undone by setting 0."""
    import multiprocessing as mp

    F = np.random.default_rng(7).random((150_000, 3))
    with mp.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_threads_in_child_with_cpus, (F, 4)).get(timeout=60) == 3
    assert _sorting._set_cpus_for_tests(0) == 0  # this process never set it


def test_a_forked_child_starts_a_thread_team_of_its_own() -> None:
    """The team's threads are not copied into a forked child, which must start its own (not count the parent's as
    started, which would leave it one thread) and must not inherit a held lock. The team has at most one thread per
    CPU online, the caller included (more only spin and wait for each other), and one per 8,192 rows."""
    import multiprocessing as mp
    import os

    F = np.random.default_rng(6).random((150_000, 3))
    want = pareto_mask(F, n_threads=2)  # the parent's team exists now
    with mp.get_context("fork").Pool(1) as pool:
        got, new_threads = pool.apply_async(_mask_in_child, (F,)).get(timeout=60)
    np.testing.assert_array_equal(got, want)
    assert new_threads == min(150_000 // 8192, os.cpu_count()) - 1
