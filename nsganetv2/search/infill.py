"""Infill by predicted hypervolume: the batch of candidates that adds the most hypervolume to the archive's front.

Greedy with a "believer" batch: each pick is the candidate whose predicted objectives add the most hypervolume to the
archive's front plus the picks so far (taken at their predicted values), so a batch spreads along the front instead of
crowding where the surrogate is most optimistic. Objectives are scaled to [0, 1] by the ideal and nadir of the front
and the candidates together, the reference point 1.1 in every objective (a candidate that extends the front at
either end still gains). When no candidate adds anything, the rest of the batch is left to the caller.
"""
from __future__ import annotations

import numpy as np

from nsganetv2.moo.hypervolume import hypervolume
from nsganetv2.moo.sorting import pareto_mask

__all__ = ["hv_greedy_selection"]


def hv_greedy_selection(candidates: np.ndarray, front: np.ndarray, k: int) -> np.ndarray:
    """Indices (in pick order) of at most ``k`` rows of ``candidates`` (N, M) that greedily add the most
    hypervolume to ``front`` (P, M); fewer when no remaining candidate adds any."""
    C = np.asarray(candidates, dtype=float)
    P = np.asarray(front, dtype=float).reshape(-1, C.shape[1])
    if k <= 0 or not len(C):
        return np.zeros(0, dtype=int)
    both = np.concatenate([P, C])
    ideal, nadir = both.min(axis=0), both.max(axis=0)
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    Cn, S = (C - ideal) / span, (P - ideal) / span
    ref = np.full(C.shape[1], 1.1)
    chosen: list[int] = []
    open_ = np.ones(len(C), dtype=bool)
    base = hypervolume(S[pareto_mask(S)], ref) if len(S) else 0.0
    for _ in range(min(k, len(C))):
        idx = np.flatnonzero(open_)
        # a candidate dominated by (or equal to) a point already in S adds nothing: skip its HV call
        dominated = np.array([bool(len(S)) and bool(np.any(np.all(S <= Cn[i], axis=1))) for i in idx])
        gains = np.zeros(len(idx))
        for j, i in enumerate(idx):
            if not dominated[j]:
                T = np.concatenate([S, Cn[i:i + 1]])
                gains[j] = hypervolume(T[pareto_mask(T)], ref) - base
        if not len(gains) or gains.max() <= 0:
            break
        best = idx[int(np.argmax(gains))]
        chosen.append(int(best))
        open_[best] = False
        S = np.concatenate([S, Cn[best:best + 1]])
        S = S[pareto_mask(S)]
        base = hypervolume(S, ref)
    return np.asarray(chosen, dtype=int)
