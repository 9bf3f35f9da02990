"""Plain numpy reference twins of the compiled sorting and crowding kernels (slow, obviously correct; tests only)."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from nsganetv2.moo._validate import as_objectives


def _dominance(F: np.ndarray) -> np.ndarray:
    """D[i, j] = True iff point i dominates point j (<= everywhere, < somewhere)."""
    le = np.all(F[:, None, :] <= F[None, :, :], axis=2)
    lt = np.any(F[:, None, :] < F[None, :, :], axis=2)
    return le & lt


def non_dominated_sort_ref(F: ArrayLike) -> np.ndarray:
    """Ranks by peeling fronts off the full dominance matrix (O(M N^2) memory and time)."""
    F = as_objectives(F)
    D = _dominance(F)
    n = len(F)
    ranks = np.full(n, -1, dtype=np.int64)
    left = np.ones(n, dtype=bool)
    k = 0
    while left.any():
        dominated = D[left][:, left].any(axis=0)
        idx = np.flatnonzero(left)[~dominated]
        ranks[idx] = k
        left[idx] = False
        k += 1
    return ranks


def pareto_mask_ref(F: ArrayLike) -> np.ndarray:
    """True for points no other point dominates (all copies of a duplicate kept)."""
    F = as_objectives(F)
    return ~_dominance(F).any(axis=0)


def crowding_distance_ref(F: ArrayLike) -> np.ndarray:
    """pymoo's crowding distance written out loop by loop."""
    F = as_objectives(F)
    n, m = F.shape
    if n <= 2:
        return np.full(n, np.inf)
    cd = np.zeros(n)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        v = F[order, j]
        norm = v[-1] - v[0]
        if norm == 0:
            continue
        for pos, i in enumerate(order):
            last = np.inf if pos == 0 else (v[pos] - v[pos - 1]) / norm
            nxt = np.inf if pos == n - 1 else (v[pos + 1] - v[pos]) / norm
            cd[i] += last + nxt
    return cd / m
