"""Surrogate quality: RMSE, Spearman's rho and Kendall's tau-b (O(n log n), same result as scipy)."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._rank_kernel import kendall_discordant


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64).reshape(-1)
    b = np.asarray(y_pred, dtype=np.float64).reshape(-1)  # flatten first: (N, 1) vs (N,) must not broadcast
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"y_true has {a.shape[0]} values but y_pred has {b.shape[0]}; they must match")
    if a.shape[0] == 0:
        raise ValueError("empty inputs: pass at least one value")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("y_true and y_pred must be finite; drop NaN or infinite values first")
    return a, b


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _average_ranks(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    first = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(a)]
    avg = (starts + ends - 1) / 2.0 + 1.0
    ranks = np.empty(len(a))
    ranks[order] = avg[group]
    return ranks


def spearman_rho(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either input is constant."""
    a, b = _pair(y_true, y_pred)
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _dense_ranks(a: np.ndarray) -> np.ndarray:
    return np.r_[True, a[1:] != a[:-1]].cumsum(dtype=np.intp)


def _tie_pairs(ranks: np.ndarray) -> int:
    cnt = np.bincount(ranks).astype(np.int64)
    return int((cnt * (cnt - 1) // 2).sum())


def kendall_tau(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall's tau-b in O(n log n) (Knight's algorithm); NaN when either input is constant."""
    x, y = _pair(y_true, y_pred)
    n = x.shape[0]
    perm = np.argsort(y, kind="mergesort")
    x, y = x[perm], y[perm]
    y = _dense_ranks(y)
    perm = np.argsort(x, kind="mergesort")  # stable: ties in x stay sorted by y
    x, y = x[perm], y[perm]
    x = _dense_ranks(x)
    dis = kendall_discordant(np.ascontiguousarray(x), np.ascontiguousarray(y))
    obs = np.r_[True, (x[1:] != x[:-1]) | (y[1:] != y[:-1]), True]
    cnt = np.diff(np.flatnonzero(obs)).astype(np.int64)
    ntie = int((cnt * (cnt - 1) // 2).sum())
    xtie, ytie = _tie_pairs(x), _tie_pairs(y)
    tot = n * (n - 1) // 2
    if tot == xtie or tot == ytie:
        return float("nan")
    con_minus_dis = tot - xtie - ytie + ntie - 2 * dis
    return float(con_minus_dis / np.sqrt(float(tot - xtie)) / np.sqrt(float(tot - ytie)))


def correlation(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """``{"rmse", "rho", "tau"}`` of predictions against targets (the original's ``get_correlation``)."""
    return {"rmse": rmse(y_true, y_pred), "rho": spearman_rho(y_true, y_pred), "tau": kendall_tau(y_true, y_pred)}
