"""Crowding distance against pymoo (value for value, duplicates included) and the numpy reference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance, get_crowding_function

from nsganetv2.moo._reference import crowding_distance_ref
from nsganetv2.moo.crowding import crowding_distance


def _pymoo(F: np.ndarray) -> np.ndarray:
    return get_crowding_function("cd").do(np.asarray(F, dtype=float))


def _same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal infinities in the same places, finite values equal to the last bits."""
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=1e-14, atol=0)


def _data(kind: str, n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.random((n, m))
    if kind == "grid":
        return rng.integers(0, 3, size=(n, m)).astype(float)
    if kind == "sphere":
        X = np.abs(rng.normal(size=(n, m)))
        return X / np.linalg.norm(X, axis=1, keepdims=True)
    if kind == "constant-column":
        F = rng.random((n, m))
        F[:, 0] = 0.25
        return F
    raise AssertionError(kind)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("kind", ["uniform", "grid", "sphere", "constant-column"])
def test_crowding_agrees_with_pymoo_and_reference(kind: str, m: int) -> None:
    for seed, n in enumerate([1, 2, 3, 4, 17, 200, 1500]):
        F = _data(kind, n, m, seed)
        ours = crowding_distance(F)
        assert ours.dtype == np.float64 and ours.shape == (n,)
        _same(ours, _pymoo(F))
        if n >= 3:
            _same(ours, calc_crowding_distance(F))
        if n <= 200:
            _same(ours, crowding_distance_ref(F))


def test_big_inputs_agree_with_pymoo() -> None:
    rng = np.random.default_rng(9)
    wide = np.exp(rng.normal(size=(20000, 2)) * 30)  # keys over many exponents
    for F in (rng.random((20000, 3)), rng.integers(0, 50, size=(20000, 2)).astype(float), wide):
        _same(crowding_distance(F), _pymoo(F))


def test_duplicates_and_extremes_like_pymoo() -> None:
    F = np.array([[0.0, 1.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    d = crowding_distance(F)
    _same(d, _pymoo(F))
    # only the first copy (in row order) of the f1-minimum gets inf from f1, the last copy of its f2-maximum
    assert np.isinf(d[0]) and np.isinf(d[1]) and np.isfinite(d[2])
    np.testing.assert_array_equal(crowding_distance(np.ones((5, 3))), np.zeros(5))  # all equal: no division by 0
    np.testing.assert_array_equal(crowding_distance(np.ones((2, 3))), [np.inf, np.inf])
    huge = np.array([[-1e308, 1.0], [0.0, 0.5], [1e308, 0.0], [5.0, 0.25]])  # max - min overflows in objective 1
    with np.errstate(over="ignore", invalid="ignore"):
        expected = _pymoo(huge)
    _same(crowding_distance(huge), expected)


def test_input_types_are_accepted() -> None:
    I = np.random.default_rng(1).integers(0, 10, size=(50, 3))
    expected = _pymoo(I)
    _same(crowding_distance(I), expected)
    _same(crowding_distance(I.astype(np.float32)), expected)
    _same(crowding_distance(np.asfortranarray(I)), expected)
    _same(crowding_distance(I.tolist()), expected)


def test_bad_input_raises_value_error() -> None:
    with pytest.raises(ValueError, match="2-D"):
        crowding_distance(np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        crowding_distance(np.zeros((0, 3)))
    F = np.zeros((4, 2))
    F[2, 0] = np.inf
    with pytest.raises(ValueError, match="row 2"):
        crowding_distance(F)
    F[2, 0] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        crowding_distance(F)


@settings(max_examples=100, deadline=None)
@given(
    F=st.integers(1, 4).flatmap(
        lambda m: hnp.arrays(
            np.float64, st.tuples(st.integers(1, 30), st.just(m)), elements=st.sampled_from([-0.0, 0.0, 1.0, 2.0, 7.5])
        )
    )
)
def test_crowding_matches_pymoo_on_tied_data(F: np.ndarray) -> None:
    _same(crowding_distance(F), _pymoo(F))


def test_one_or_two_points_are_all_boundary_like_pymoos_nsga2_crowding_function() -> None:
    """pymoo 0.6.2's NSGA-II crowding function gives inf for N <= 2; its bare helper gives 0 for one point (or two
    identical ones), dividing by a zero range. Ours follows the former, as the docstring and README say."""
    for F in (np.array([[1.0, 2.0]]), np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([[1.0, 2.0], [1.0, 2.0]])):
        np.testing.assert_array_equal(crowding_distance(F), np.full(len(F), np.inf))
        np.testing.assert_array_equal(_pymoo(F), crowding_distance(F))
    np.testing.assert_array_equal(calc_crowding_distance(np.array([[1.0, 2.0]])), [0.0])
    np.testing.assert_array_equal(calc_crowding_distance(np.array([[1.0, 2.0], [1.0, 2.0]])), [0.0, 0.0])


def test_complex_input_is_refused_not_cut_to_its_real_part() -> None:
    with pytest.raises(ValueError, match=r"F holds complex numbers .*F\.real"):
        crowding_distance(np.array([[1 + 1j, 2.0], [2.0, 1.0], [0.5, 3.0]]))
    with pytest.raises(ValueError, match="F holds complex numbers"):
        crowding_distance([[1.0, 2.0], [2.0, 1j]])
