"""IGD, IGD+ and the additive epsilon indicator (nsganetv2.moo.indicators) against moocore."""
from __future__ import annotations

import moocore
import numpy as np
import pytest

from nsganetv2.moo._indicators import (
    CODES,
    EPS_ADD_PORTABLE,
    IGD_PLUS_PORTABLE,
    IGD_PORTABLE,
    IGD_SCAN,
    indicator_kernel,
)
from nsganetv2.moo.indicators import epsilon_additive, igd, igd_plus

PAIRS = [(igd, moocore.igd), (igd_plus, moocore.igd_plus), (epsilon_additive, moocore.epsilon_additive)]


@pytest.mark.parametrize("ours,theirs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_equal_to_moocore(ours, theirs, m: int) -> None:
    rng = np.random.default_rng(m)
    for trial in range(30):
        A, R = rng.random((int(rng.integers(1, 60)), m)), rng.random((int(rng.integers(1, 60)), m))
        if trial % 3 == 0:  # ties and copies
            A, R = np.round(A * 4) / 4, np.round(R * 4) / 4
        assert ours(A, R) == pytest.approx(theirs(A, ref=R), rel=1e-10, abs=1e-15)


def test_known_values_and_errors() -> None:
    A, R = [[1.0, 3.0], [2.0, 2.0]], [[1.5, 2.5], [0.5, 3.5], [3.0, 1.0]]
    assert igd(A, R) == pytest.approx((np.sqrt(0.5) + np.sqrt(0.5) + np.sqrt(2.0)) / 3)
    assert igd_plus(A, R) == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert epsilon_additive(A, R) == 1.0
    assert igd(R, R) == igd_plus(R, R) == epsilon_additive(R, R) == 0.0
    with pytest.raises(ValueError, match="ref has 3 objectives"):
        igd(A, [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="row 0"):
        igd_plus([[np.nan, 1.0]], R)
    with pytest.raises(ValueError, match="row 1"):  # float64 arrays take the fast path: the kernel sees the NaN
        epsilon_additive(np.array(R), np.array([[1.0, 2.0], [np.inf, 0.0]]))


@pytest.mark.parametrize("m", [3, 4, 6])
def test_epsilon_on_fronts_of_many_chunks(m: int) -> None:
    """Fronts of hundreds of points: many chunks per reference point, the warm-up points and early exits."""
    rng = np.random.default_rng(m)
    X = np.abs(rng.normal(size=(700, m)))
    A = 1.05 * X[:450] / np.linalg.norm(X[:450], axis=1, keepdims=True)
    R = X[450:] / np.linalg.norm(X[450:], axis=1, keepdims=True)
    for a, r in ((A, R), (R, A), (A[::-1].copy(), R)):
        assert epsilon_additive(a, r) == moocore.epsilon_additive(a, ref=r)
        assert indicator_kernel(a, r, EPS_ADD_PORTABLE) == epsilon_additive(a, r)  # the same on the portable path


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_epsilon_chunk_sweep_at_every_m(m: int) -> None:
    """The chunk sweep (AUTO's from M = 3, and for M = 1) at every M, on its portable path, against moocore."""
    rng = np.random.default_rng(10 + m)
    for _ in range(10):
        A, R = rng.random((int(rng.integers(1, 120)), m)), rng.random((int(rng.integers(1, 120)), m))
        assert indicator_kernel(A, R, EPS_ADD_PORTABLE) == pytest.approx(moocore.epsilon_additive(A, ref=R), rel=1e-12)


def test_epsilon_two_objectives_on_ties_signed_zeros_and_copies() -> None:
    """M = 2 searches the staircase of A's non-dominated points: equal first values, equal second values, -0.0 and
    copies must not change the value."""
    rng = np.random.default_rng(7)
    for t in range(300):
        A, R = rng.random((int(rng.integers(1, 200)), 2)), rng.random((int(rng.integers(1, 200)), 2))
        if t % 2:
            A = np.round(A * 5) / 5 * np.where(rng.random(A.shape) < 0.3, -1.0, 1.0)
            R = np.round(R * 5) / 5
        if t % 3 == 0:
            A = np.vstack([A, A[::-1]])
        assert epsilon_additive(A, R) == moocore.epsilon_additive(A, ref=R)


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_igd_paths_agree(m: int) -> None:
    """igd and igd_plus by the chunk sweep (AVX2 where the CPU has it, and portable) across chunk boundaries, and igd
    by the scan (AUTO's above 4,096 rows for M <= 3): the same sums of squares in the same order, so the same value,
    and moocore's."""
    rng = np.random.default_rng(20 + m)
    for n in (1, 2, 31, 32, 33, 64, 100, 4097):
        X = np.abs(rng.normal(size=(n + 40, m))) + 1e-9
        F = X / np.linalg.norm(X, axis=1, keepdims=True)
        A, R = np.ascontiguousarray(1.05 * F[:n]), np.ascontiguousarray(F[n:])
        if n % 2:  # ties and copies
            A, R = np.round(A * 4) / 4, np.round(R * 4) / 4
        want = indicator_kernel(A, R, CODES["igd"])
        assert want == pytest.approx(moocore.igd(A, ref=R), rel=1e-12)
        assert indicator_kernel(A, R, IGD_PORTABLE) == want
        assert indicator_kernel(A, R, IGD_SCAN) == want
        plus = indicator_kernel(A, R, CODES["igd_plus"])
        assert plus == pytest.approx(moocore.igd_plus(A, ref=R), rel=1e-12)
        assert indicator_kernel(A, R, IGD_PLUS_PORTABLE) == plus


def test_igd_plus_where_differences_overflow() -> None:
    """a - z overflows to -inf for the row below z (its excess is 0) and to +inf for the others: max(a - z, 0) taken
    as such, on both paths (0.5 * (v + |v|) is NaN at -inf)."""
    A = np.array([[1e308, 1e300]] * 31 + [[-1e308, 0.0]])
    R = np.array([[1e308, 0.0]])
    assert indicator_kernel(A, R, CODES["igd_plus"]) == 0.0
    assert indicator_kernel(A, R, IGD_PLUS_PORTABLE) == 0.0
    B = np.array([[-1e308, 1e308], [1e308, -1e308]])
    Z = np.array([[1e308, 1e308], [-1e308, -1e308]])
    for code in (CODES["igd_plus"], IGD_PLUS_PORTABLE):
        assert indicator_kernel(B, Z, code) == np.inf  # the second reference point: every excess overflows
