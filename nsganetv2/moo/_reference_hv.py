"""Plain-numpy reference hypervolume for tests: exact, slow, obviously correct.

Two methods: the cell grid (every coordinate of every point and of the reference cuts its axis; add up the cells
whose lower corner is weakly dominated by some point; cost O(N * prod_j distinct_j)) and, when that grid is too
big, inclusion-exclusion over all non-empty subsets (cost O(2^N * M), so N <= 16).
"""
from __future__ import annotations

from functools import reduce
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

MAX_CELLS = 2_000_000


def hypervolume_ref(F: ArrayLike, ref: ArrayLike) -> float:
    """Hypervolume of the rows of ``F`` (minimised) that strictly dominate ``ref``."""
    F = np.asarray(F, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    F = F[(F < ref).all(axis=1)]
    if F.shape[0] == 0:
        return 0.0
    cuts = [np.unique(np.append(F[:, j], ref[j])) for j in range(F.shape[1])]
    if np.prod([float(len(c) - 1) for c in cuts]) <= MAX_CELLS:
        return _grid(F, cuts)
    return _inclusion_exclusion(F, ref)


def _grid(F: np.ndarray, cuts: list[np.ndarray]) -> float:
    M = F.shape[1]
    shape = [[-1 if k == j else 1 for k in range(M)] for j in range(M)]
    lower = [c[:-1] for c in cuts]
    covered = np.zeros(tuple(len(c) - 1 for c in cuts), dtype=bool)
    for p in F:
        covered |= reduce(np.logical_and, [(p[j] <= lower[j]).reshape(shape[j]) for j in range(M)])
    volume = reduce(np.multiply, [np.diff(c).reshape(shape[j]) for j, c in enumerate(cuts)])
    return float(volume[covered].sum())


def _inclusion_exclusion(F: np.ndarray, ref: np.ndarray) -> float:
    n = F.shape[0]
    if n > 16:
        raise ValueError(f"hypervolume_ref: {n} points in {F.shape[1]} objectives is too big for the reference")
    total = 0.0
    for size in range(1, n + 1):
        sign = 1.0 if size % 2 else -1.0
        for subset in combinations(range(n), size):
            total += sign * float(np.prod(ref - F[list(subset)].max(axis=0)))
    return total
