"""Distance-based quality indicators of a point set against a reference front (minimisation), as moocore's
``igd``, ``igd_plus`` and ``epsilon_additive``; compiled in ``csrc/moo/indicators.h`` (O(N R M) loops with early
exit; the additive epsilon of two objectives by a binary search on the front's staircase, O((N + R) log N))."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from nsganetv2.moo._indicators import CODES, indicator_kernel
from nsganetv2.moo._validate import as_objectives

__all__ = ["igd", "igd_plus", "epsilon_additive"]


def _run(F: ArrayLike, ref: ArrayLike, name: str) -> float:
    if (  # float64 C-contiguous arrays go straight in: the kernel answers NaN on NaN/inf, validated below then
        type(F) is np.ndarray and type(ref) is np.ndarray and F.dtype == ref.dtype == np.float64 and F.ndim == ref.ndim == 2
        and F.flags.c_contiguous and ref.flags.c_contiguous and F.size and ref.size and F.shape[1] == ref.shape[1]
    ):
        v = indicator_kernel(F, ref, CODES[name])
        if v == v:
            return v
    A = as_objectives(F)
    R = as_objectives(ref, name="ref")
    if R.shape[1] != A.shape[1]:
        raise ValueError(f"ref has {R.shape[1]} objectives but F has {A.shape[1]}; give the reference front "
                         "as an (R, M) array with one column per objective")
    return indicator_kernel(A, R, CODES[name])


def igd(F: ArrayLike, ref: ArrayLike) -> float:
    """Inverted generational distance: mean over the rows of ``ref`` (the reference front, R x M) of the Euclidean
    distance to the nearest row of ``F`` (N x M)."""
    return _run(F, ref, "igd")


def igd_plus(F: ArrayLike, ref: ArrayLike) -> float:
    """IGD+: as :func:`igd` with the distance from a reference point z to a row a counting only a's excess,
    ``|| max(a - z, 0) ||`` (weakly Pareto compliant)."""
    return _run(F, ref, "igd_plus")


def epsilon_additive(F: ArrayLike, ref: ArrayLike) -> float:
    """Additive epsilon indicator: the least eps such that every row of ``ref`` is weakly dominated by some row of
    ``F`` shifted by -eps, ``max_z min_a max_j (a_j - z_j)``."""
    return _run(F, ref, "epsilon_additive")
