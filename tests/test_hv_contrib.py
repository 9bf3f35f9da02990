"""Hypervolume contributions (nsganetv2.moo.hv_contributions) against moocore and against the definition
HV(all) - HV(all but one)."""
from __future__ import annotations

import moocore
import numpy as np
import pytest

from nsganetv2.moo import hv_contributions, hypervolume, hypervolume_contributions


def _naive(F: np.ndarray, ref: np.ndarray) -> np.ndarray:
    total = hypervolume(F, ref)
    return np.array([total - (hypervolume(np.delete(F, i, 0), ref) if len(F) > 1 else 0.0) for i in range(len(F))])


def _moocore(F: np.ndarray, ref: np.ndarray, ignore_dominated: bool) -> np.ndarray:
    inside = (F < ref).all(axis=1)
    out = np.zeros(len(F))
    if inside.any():
        out[inside] = moocore.hv_contributions(F[inside], ref=ref, ignore_dominated=ignore_dominated)
    return out


def _sets(m: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Integer grids (ties, copies, dominated rows), sphere fronts with copies and dominated shifted copies, and
    uniform points with some rows outside the reference box."""
    rng = np.random.default_rng(seed)
    n = 25 if m >= 5 else 60
    X = np.abs(rng.normal(size=(n, m)))
    S = X / np.linalg.norm(X, axis=1, keepdims=True)
    return [(rng.integers(0, 5, size=(n, m)).astype(float), np.full(m, 4.5)),
            (np.vstack([S, S[:3], S[5:9] + 0.05]), np.full(m, 1.1)),
            (rng.random((n, m)), np.full(m, 0.9))]


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("seed", range(6))
def test_equals_the_definition(m: int, seed: int) -> None:
    for F, ref in _sets(m, seed):
        ours = hv_contributions(F, ref)
        np.testing.assert_allclose(ours, _naive(F, ref), rtol=0, atol=1e-12 * hypervolume(F, ref) + 1e-15)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ignore_dominated", [False, True])
def test_equals_moocore(m: int, seed: int, ignore_dominated: bool) -> None:
    for F, ref in _sets(m, seed):
        ours = hv_contributions(F, ref, ignore_dominated=ignore_dominated)
        np.testing.assert_allclose(ours, _moocore(F, ref, ignore_dominated), rtol=0,
                                   atol=1e-12 * hypervolume(F, ref) + 1e-15)


@pytest.mark.parametrize("m", [2, 3])
def test_large_sets(m: int) -> None:
    """The radix-sort paths (thousands of points): a front, and a front mixed with dominated points and copies
    (moocore's exact mode misses some contributions of ~1e-8 there, so that one is checked by the definition)."""
    rng = np.random.default_rng(m)
    X = np.abs(rng.normal(size=(3000, m)))
    S = X / np.linalg.norm(X, axis=1, keepdims=True)
    ref = np.full(m, 1.1)
    np.testing.assert_allclose(hv_contributions(S, ref), moocore.hv_contributions(S, ref=ref), rtol=1e-9, atol=1e-18)
    G = np.vstack([S, S[:50], np.round(S[:500] * 8 + 0.5) / 8])
    np.testing.assert_allclose(hv_contributions(G, ref, ignore_dominated=True), _moocore(G, ref, True),
                               rtol=1e-9, atol=1e-15)
    G = np.vstack([S[:2500], S[:20], np.round(S[:100] * 8 + 0.5) / 8])
    np.testing.assert_allclose(hv_contributions(G, ref), _naive(G, ref), rtol=0, atol=1e-12)


@pytest.mark.parametrize("m", [2, 3])
def test_bucket_sort_sets(m: int) -> None:
    """48..1024 points take bucket sorts: keys crowded in one bucket (its fallback, an introsort) with ties, whose
    order the z-sweep needs (M = 3), and an integer grid."""
    rng = np.random.default_rng(10 + m)
    X = np.abs(rng.normal(size=(400, m)))
    S = X / np.linalg.norm(X, axis=1, keepdims=True)
    S[:, -1] = np.where(rng.random(400) < 0.95, 0.5 + 1e-9 * rng.integers(0, 40, 400), S[:, -1])
    S[:, 0] = np.where(rng.random(400) < 0.5, 0.25 + 1e-9 * rng.integers(0, 40, 400), S[:, 0])
    for F, ref in ((S, np.full(m, 1.1)), (rng.integers(0, 12, size=(300, m)).astype(float), np.full(m, 11.5))):
        np.testing.assert_allclose(hv_contributions(F, ref), _naive(F, ref), rtol=0,
                                   atol=1e-12 * hypervolume(F, ref) + 1e-15)
        np.testing.assert_allclose(hv_contributions(F, ref, ignore_dominated=True), _moocore(F, ref, True), rtol=0,
                                   atol=1e-12 * hypervolume(F, ref) + 1e-15)


def test_documented_examples() -> None:
    x = np.array([[5, 1], [1, 5], [4, 2], [4, 4], [5, 1]])
    assert hv_contributions(x, (6, 6), ignore_dominated=True).tolist() == [0, 3, 3, 0, 0]
    assert hv_contributions(x, (6, 6)).tolist() == [0, 3, 2, 0, 0]
    assert hv_contributions([[5, 5], [4, 6], [2, 7], [7, 4]], [10, 10]).tolist() == [2, 1, 6, 3]
    assert hv_contributions([[1.0, 2.0]], (3.0, 3.0)).tolist() == [2.0]
    assert hv_contributions([[1.0, 2.0], [4.0, 0.0]], (3.0, 3.0)).tolist() == [2.0, 0.0]  # outside ref: 0
    assert hv_contributions([[2.0], [1.0], [1.5]], [3.0]).tolist() == [0.0, 0.5, 0.0]
    assert hypervolume_contributions is hv_contributions


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(ValueError, match="row 1"):
        hv_contributions(np.array([[1.0, 2.0], [np.nan, 1.0]]), [3.0, 3.0])
    with pytest.raises(ValueError, match="ref has 3 values"):
        hv_contributions(np.ones((2, 2)), [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        hv_contributions(np.ones((0, 2)), [3.0, 3.0])
