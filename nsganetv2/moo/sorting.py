"""Non-dominated sorting: ranks, fronts and the first front (minimisation, weak dominance).

A point ``q`` dominates ``p`` when ``q <= p`` in every objective and ``q < p`` in at least one. Exact duplicates never
dominate each other, so all copies of a point share its front; :func:`pareto_mask` keeps every copy of a
non-dominated point (like pymoo and ``moocore.is_nondominated(keep_weakly=True)``).

Algorithms (compiled, ``csrc/moo/nds.h``; tests force one with ``_paths.NDSAlgo``): few rows (M >= 3, up to 64 rows at
M = 3, 384 at M = 6..10, fewer beyond) compare pairs of rows without a branch, four at a time with AVX2 (where the CPU
has it). Otherwise rows are swept in lexicographic order. All fronts for M = 2, 3 from 65,536 rows never copy a row
(int32 order and first-objective keys, about 12 to 16 bytes a point besides the result): M = 2 searches the fronts'
least f2 (O(N log K)); M = 3 brackets the front through a grid of quantile buckets over (f2, f3) and settles it with
small per-bucket staircases. Otherwise the sorted rows are copied with duplicates collapsed: M = 2 the same search,
M = 3 a staircase per front in a hierarchical bitset (treaps when the fronts are very many; O(N log K log N)), M >= 4
ENS-BS with a bucket k-d tree per front (pruned by per-node minimum corners).
"""
from __future__ import annotations

from typing import NoReturn

import numpy as np
from numpy.typing import ArrayLike

from nsganetv2.moo import _sorting
from nsganetv2.moo._validate import as_objectives, thread_count

__all__ = ["fronts", "non_dominated_sort", "pareto_mask"]

_F64 = np.dtype(np.float64)


def _objectives(F: ArrayLike) -> np.ndarray:
    """The cheap path for arrays that are already float64, C-contiguous, 2-D and non-empty; finiteness is checked
    inside the kernel (which then returns None and we re-validate to raise the error naming the row)."""
    if type(F) is np.ndarray and F.dtype == _F64 and F.ndim == 2 and F.size and F.flags.c_contiguous:
        return F
    return as_objectives(F)


def _nonfinite(F: ArrayLike) -> NoReturn:
    as_objectives(F)  # raises the ValueError that names the first row holding NaN or inf
    raise AssertionError("kernel reported a non-finite value that validation did not find")  # pragma: no cover


def non_dominated_sort(F: ArrayLike) -> np.ndarray:
    """Front index of every point (0 = first front) of the (N, M) objective array ``F``, as int64."""
    A = _objectives(F)
    ranks = _sorting.ranks(A)
    if ranks is None:
        _nonfinite(F)
    return ranks


def fronts(F: ArrayLike) -> list[np.ndarray]:
    """The fronts of ``F`` as a list of int64 index arrays (first front first, indices ascending in each)."""
    ranks = non_dominated_sort(F)
    order = np.argsort(ranks, kind="stable")
    counts = np.bincount(ranks)
    return np.split(order, np.cumsum(counts)[:-1])


def pareto_mask(F: ArrayLike, n_threads: int = 1) -> np.ndarray:
    """Boolean mask of the first front (non-dominated points) of ``F``.

    Only the first front is computed (cheaper than :func:`non_dominated_sort`). Every copy of a duplicated
    non-dominated point is kept (``True``). ``n_threads`` > 1 runs the linear filter passes over the rows on up to
    that many threads (one per 8,192 rows and per CPU online at most: shorter passes run on one), and the first front
    of many survivors too (M >= 4, and M = 2, 3 where the filters left most rows, as on a single front: each part of
    the first objective's range reduced to its own front on its own thread, then the later parts' fronts tested
    against the earlier parts'; M = 2, 3 otherwise: each thread's share reduced to its own front before the front of
    those); the mask is the same for any thread count.
    """
    n_threads = thread_count(n_threads)
    A = _objectives(F)
    mask = _sorting.first_front(A, n_threads=n_threads)
    if mask is None:
        _nonfinite(F)
    return mask
