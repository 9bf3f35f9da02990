"""Subset selection: pick K candidates that fill the gaps of the archive front evenly (MSuNAS).

The original runs a pymoo GA (pop 100, 60 generations) on boolean masks, minimising the standard deviation of
the gaps between the sorted complexity values of the archive front plus the chosen candidates. Its operators keep
exactly K positions set: sampling sets K random positions; crossover keeps the positions common to both parents
and fills the rest from the positions set in exactly one; mutation swaps one set position for one unset, in every
child. Survival keeps the best by fitness, with duplicates removed. This is the same GA, vectorised in numpy.
With several complexity columns the objective sums each column's gap std divided by the column's range (for
one column that is the original up to a constant factor, so it picks the same subsets).

``hv_contribution_selection`` is the alternative: greedy, each pick the candidate adding the most hypervolume.
"""
from __future__ import annotations

import numpy as np

from nsganetv2.moo.hypervolume import hypervolume


def gap_std(values: np.ndarray, front: np.ndarray, masks: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Fitness of each mask: sum over columns of std(diff(sort(front ∪ values[mask]))) / scale."""
    values = np.atleast_2d(np.asarray(values, dtype=float).T).T  # (M, d)
    front = np.asarray(front, dtype=float).reshape(-1, values.shape[1])
    masks = np.atleast_2d(masks)
    n, k = len(masks), int(masks[0].sum())
    idx = np.nonzero(masks)[1].reshape(n, k)
    if scale is None:
        scale = np.ones(values.shape[1])
    total = np.zeros(n)
    for j in range(values.shape[1]):
        rows = np.concatenate([np.broadcast_to(front[:, j], (n, len(front))), values[idx, j]], axis=1)
        rows.sort(axis=1)
        if rows.shape[1] < 2:
            continue
        total += np.diff(rows, axis=1).std(axis=1) / scale[j]
    return total


def _unique_rows(masks: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row, in order."""
    packed = np.packbits(masks, axis=1)
    _, first = np.unique(packed, axis=0, return_index=True)
    return np.sort(first)


def _pick_k(allowed: np.ndarray, need: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, a mask of ``need[row]`` random positions among the ``allowed`` ones."""
    r = rng.random(allowed.shape)
    r[~allowed] = np.inf
    ranks = np.argsort(np.argsort(r, axis=1), axis=1)
    return (ranks < need[:, None]) & allowed


def _columns(values: np.ndarray, front: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``values`` as (M, d) and ``front`` as (P, d) floats, and the minimum and range of both together per column (a
    zero range as 1); ``k`` checked."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    front = np.asarray(front, dtype=float).reshape(-1, values.shape[1])
    both = np.concatenate([front, values])
    scale = np.ptp(both, axis=0)
    scale[scale <= 0] = 1.0
    return values, front, both.min(axis=0), scale


def subset_selection(values: np.ndarray, front: np.ndarray, k: int, rng: np.random.Generator,
                     pop_size: int = 100, n_gen: int = 60) -> np.ndarray:
    """Indices (sorted) of ``k`` rows of ``values`` (M, d) chosen by the gap-std GA against ``front`` (P, d).

    With M <= k all M indices are returned (the caller tops up the batch from other genomes, where the original
    evaluated fewer than asked).
    """
    values, front, _, scale = _columns(values, front, k)
    m = len(values)
    if m <= k:
        return np.arange(m)
    if k == 0:
        return np.zeros(0, dtype=int)

    def fitness(masks: np.ndarray) -> np.ndarray:
        return gap_std(values, front, masks, scale)

    pop = _pick_k(np.ones((pop_size, m), bool), np.full(pop_size, k), rng)
    pop = pop[_unique_rows(pop)]
    fit = fitness(pop)
    for _ in range(n_gen):
        n = len(pop)
        # binary tournaments (smaller fitness wins), two parents per child
        a, b = rng.integers(0, n, size=(2, 2 * pop_size))
        winners = np.where(fit[a] <= fit[b], a, b)
        p1, p2 = pop[winners[:pop_size]], pop[winners[pop_size:]]
        common = p1 & p2
        child = common | _pick_k(p1 ^ p2, k - common.sum(axis=1), rng)
        # mutation: swap one chosen for one unchosen position, in every child
        off = _pick_k(child, np.ones(pop_size, int), rng)
        on = _pick_k(~child, np.ones(pop_size, int), rng)
        child = (child & ~off) | on
        merged = np.concatenate([pop, child])
        keep = _unique_rows(merged)
        merged = merged[keep]
        mfit = np.concatenate([fit, fitness(child)])[keep]
        order = np.argsort(mfit, kind="stable")[:pop_size]
        pop, fit = merged[order], mfit[order]
    return np.flatnonzero(pop[int(np.argmin(fit))])


def hv_contribution_selection(values: np.ndarray, front: np.ndarray, k: int,
                              rng: np.random.Generator | None = None, ref_offset: float = 0.1,
                              stop_without_gain: bool = False) -> np.ndarray:
    """Indices, in the order picked, of ``k`` rows of ``values`` (M, d) picked greedily, each the one adding the most
    hypervolume to ``front`` (P, d) plus the rows picked before (all objectives minimised).

    Objectives are normalised to [0, 1] over ``front`` and ``values`` together (a constant column is left as is) and
    the reference point is ``1 + ref_offset`` in every objective. Ties (e.g. all the rows left add nothing) go to the
    first such row, or to a random one when ``rng`` is given; with ``stop_without_gain`` the picking stops instead
    once no row adds anything (fewer than ``k`` are returned). With M <= k (and not ``stop_without_gain``) all M
    indices are returned.
    """
    values, front, lo, scale = _columns(values, front, k)
    m = len(values)
    if ref_offset <= 0:
        raise ValueError(f"ref_offset must be > 0 (the reference point is 1 + ref_offset), got {ref_offset}")
    if m <= k and not stop_without_gain:
        return np.arange(m)
    if k == 0 or m == 0:
        return np.zeros(0, dtype=int)
    V = (values - lo) / scale
    S = (front - lo) / scale
    ref = np.full(values.shape[1], 1.0 + ref_offset)
    chosen: list[int] = []
    left = np.ones(m, dtype=bool)
    for _ in range(min(k, m)):
        base = hypervolume(S, ref) if len(S) else 0.0
        cand = np.flatnonzero(left)
        gain = np.array([hypervolume(np.vstack([S, V[i]]), ref) - base for i in cand])
        if stop_without_gain and gain.max() <= 0:
            break
        best = np.flatnonzero(gain == gain.max())
        pick = int(cand[best[0] if rng is None else rng.choice(best)])
        chosen.append(pick)
        left[pick] = False
        S = np.vstack([S, V[pick]])
    return np.array(chosen, dtype=int)
