"""Exact hypervolume indicator (minimisation), over the compiled kernels in ``csrc/moo`` (the dispatcher ``hv.h``
chooses among ``hv234.h``, ``hv5.h``, ``hv_qhv.h`` and ``hv_wfg.h``; tests force one with ``_paths.HVPath``).

Algorithms by number of objectives M: sort + sweep (M = 2, O(N log N)); z-sweep over a 2-D staircase kept in a
hierarchical bitset (M = 3, O(N log N)); w-sweep keeping the 3-D front in z-sorted arrays, each new point's 3-D
contribution swept over its clipped 2-D staircase, the part below it found by AVX2 passes (M = 4, O(N^2),
HV4D+-style; the same sweep serves the 4-D limit sets of WFG); QHV-II (Russo & Francisco) for M = 5..8: the pivot
with the largest box adds it and the rest splits into M disjoint boxes, recursively (past its depth guard, M = 5
boxes go to a sweep over the 5th objective where each point's exclusive 4-D volume is its cut-down box minus the
4-D volume of the earlier points clipped to it, moocore's incremental "onec4dplusU" scheme re-engineered); WFG
(While, Bradstreet, Barone 2012) for M >= 9, with limit sets cut down by "cap" points and filtered by
worse-objective masks, down to QHV-II.

Threads: ``hypervolume(..., n_threads=T)`` runs QHV-II's boxes below the top of its recursion on T threads (M = 5..8;
sets of 256 points and more), adding their volumes up in the single-threaded order, so the value is the same, to the
bit, for any T. The other algorithms run on one thread whatever T is.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from nsganetv2.moo._hvc import hv_contributions_kernel
from nsganetv2.moo._hypervolume import hypervolume_fast, hypervolume_kernel
from nsganetv2.moo._validate import as_objectives, as_reference, thread_count

__all__ = ["hypervolume", "hv_contributions", "hypervolume_contributions", "normalised_hypervolume"]

MAX_OBJECTIVES = 64


def hypervolume(F: ArrayLike, ref: ArrayLike, n_threads: int = 1) -> float:
    """Exact hypervolume dominated by the rows of ``F`` (N x M, minimised) and bounded by ``ref``.

    Rows that do not strictly dominate ``ref`` (some value >= the reference) contribute nothing. Duplicates,
    dominated rows and ties are allowed. Integer and float32 inputs are accepted; M is at most 64.

    ``n_threads`` > 1 computes QHV-II's independent boxes on that many threads: it pays where QHV-II runs (M = 5..8)
    and the front is large (about 1,000 points and up); every other case runs on one thread whatever ``n_threads``
    says, and no more threads run than there are CPUs online. The value is the same, to the bit, for any thread
    count.

    Raises ``ValueError`` for a non-2-D or empty ``F``, NaN/inf values (naming the first offending row), a
    reference point whose length differs from the number of objectives, or an ``n_threads`` that is not a positive
    integer.
    """
    if type(n_threads) is not int or n_threads < 1:  # the common case costs one test
        n_threads = thread_count(n_threads)
    # fast path for the common call (float64 C-contiguous arrays, checked in C; ref may also be a list): the kernel
    # checks finiteness itself and answers NaN when something is off, and the full validation below then names it
    v = hypervolume_fast(F, ref, n_threads)
    if v is None and type(F) is np.ndarray:
        r = _try_float_vector(ref)
        v = None if r is None else hypervolume_fast(F, r, n_threads)
    if v is not None and v == v:
        return v
    A = as_objectives(F)
    r = as_reference(ref, A.shape[1])
    if A.shape[1] > MAX_OBJECTIVES:
        raise ValueError(
            f"F has {A.shape[1]} objectives; the exact hypervolume supports at most {MAX_OBJECTIVES} "
            "(reduce the objectives or use an approximation)"
        )
    return float(hypervolume_kernel(A, r, n_threads=n_threads))


def hv_contributions(F: ArrayLike, ref: ArrayLike, ignore_dominated: bool = False) -> np.ndarray:
    """Exclusive hypervolume of each row: ``hypervolume(F, ref) - hypervolume(F without that row, ref)``.

    Dominated rows, exact duplicates and rows that do not strictly dominate ``ref`` get 0. Dominated rows do count
    when the others' contributions are computed (a row dominated by one point only takes its share of that point's
    exclusive region), unless ``ignore_dominated`` (moocore's default), which drops them first. Same validation as
    ``hypervolume``; compiled in ``csrc/moo/hvc.h`` (M = 2 sort, M = 3 z-sweep, M >= 4 one clipped hypervolume per
    point).
    """
    if (  # fast path as in hypervolume: the kernel answers None on NaN/inf and the validation below names the row
        type(F) is np.ndarray and F.ndim == 2 and F.dtype == np.float64 and F.flags.c_contiguous
        and F.shape[0] > 0 and 0 < F.shape[1] <= MAX_OBJECTIVES
    ):
        r = ref if type(ref) is np.ndarray and ref.dtype == np.float64 else _try_float_vector(ref)
        if r is not None and r.shape == (F.shape[1],) and r.flags.c_contiguous:
            out = hv_contributions_kernel(F, r, ignore_dominated)
            if out is not None:
                return out
    A = as_objectives(F)
    r = as_reference(ref, A.shape[1])
    if A.shape[1] > MAX_OBJECTIVES:
        raise ValueError(f"F has {A.shape[1]} objectives; at most {MAX_OBJECTIVES} are supported")
    return hv_contributions_kernel(A, r, bool(ignore_dominated))


#: the earlier name of :func:`hv_contributions`
hypervolume_contributions = hv_contributions


def normalised_hypervolume(F: ArrayLike, ref: ArrayLike, ideal: ArrayLike | None = None) -> float:
    """HV of the non-dominated rows of ``F`` strictly below ``ref``, divided by the volume of the box from ``ideal``
    (default: the origin) to ``ref``; 0 for no such row or an empty box (the search reports' definition)."""
    from nsganetv2.moo.sorting import pareto_mask

    F = np.asarray(F, dtype=float)
    ref = np.asarray(ref, dtype=float)
    scale = float(np.prod(ref - (0.0 if ideal is None else np.asarray(ideal, dtype=float))))
    if len(F) == 0 or scale <= 0:
        return 0.0
    nd = F[pareto_mask(F)]
    nd = nd[np.all(nd < ref, axis=1)]
    return float(hypervolume(nd, ref)) / scale if len(nd) else 0.0


def _try_float_vector(ref: ArrayLike) -> np.ndarray | None:
    if getattr(ref, "dtype", None) is not None and ref.dtype.kind not in "biuf":  # type: ignore[union-attr]
        return None  # complex or other: the full validation names the problem (float64 would drop the imaginary part)
    try:
        return np.asarray(ref, dtype=np.float64)
    except (TypeError, ValueError):
        return None
