"""Surrogate quality metrics against scipy and a brute-force tau-b."""
import itertools

import numpy as np
import pytest
import scipy.stats as ss
from hypothesis import given, settings
from hypothesis import strategies as st

from nsganetv2.surrogate import correlation, kendall_tau, rmse, spearman_rho


def brute_tau_b(x, y):
    con = dis = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if sx == 0 and sy == 0:
            continue
        if sx == 0:
            tx += 1
        elif sy == 0:
            ty += 1
        elif sx == sy:
            con += 1
        else:
            dis += 1
    den = np.sqrt((con + dis + tx) * (con + dis + ty))
    return (con - dis) / den if den > 0 else np.nan


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=40))
def test_kendall_matches_brute_force_with_ties(pairs):
    x = np.array([p[0] for p in pairs], float)
    y = np.array([p[1] for p in pairs], float)
    ref = brute_tau_b(x, y)
    got = kendall_tau(x, y)
    assert (np.isnan(ref) and np.isnan(got)) or got == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("n,levels", [(50, 3), (2000, 20), (20000, 10**9)])
def test_kendall_and_spearman_match_scipy(n, levels):
    rng = np.random.default_rng(n)
    a = rng.integers(0, levels, n).astype(float)
    b = a + rng.integers(0, levels, n) * 0.5
    assert kendall_tau(a, b) == pytest.approx(ss.kendalltau(a, b)[0], abs=1e-12)
    assert spearman_rho(a, b) == pytest.approx(ss.spearmanr(a, b)[0], abs=1e-12)


def test_perfect_and_reversed_order():
    a = np.arange(100.0)
    assert kendall_tau(a, a ** 3) == pytest.approx(1.0)
    assert kendall_tau(a, -a) == pytest.approx(-1.0)
    assert spearman_rho(a, np.exp(a / 10)) == pytest.approx(1.0)


def test_rmse_flattens_column_predictions():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = (y + np.array([1.0, -1.0, 1.0, -1.0])).reshape(-1, 1)  # (N, 1) vs (N,): must not broadcast
    assert rmse(y, pred) == pytest.approx(1.0)
    c = correlation(y, pred)
    assert set(c) == {"rmse", "rho", "tau"}
    assert c["rmse"] == pytest.approx(1.0)
    assert c["tau"] == pytest.approx(ss.kendalltau(y, pred.ravel())[0])


def test_constant_input_gives_nan():
    assert np.isnan(kendall_tau([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert np.isnan(spearman_rho([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))


@pytest.mark.parametrize("fn", [rmse, spearman_rho, kendall_tau])
def test_bad_inputs_raise(fn):
    with pytest.raises(ValueError, match="must match"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        fn([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
