"""Decision making on a Pareto front: preference by achievement scalarisation, or high trade-off points."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from nsganetv2.moo._validate import as_objectives, as_real_vector


def parse_preference(prefer: str, objectives: Sequence[str]) -> np.ndarray:
    """Weights for :func:`asf_select` from a string like ``"top1#80+flops#150"``, in the order of ``objectives``.

    Parts are matched by key, so their order does not matter (the original used them in the order written). For
    ``top1`` the value is an accuracy in percent and the weight is ``100 - value`` (objectives hold the error);
    for any other key the weight is the value. Objectives not named get weight 1.
    """
    weights = {name: 1.0 for name in objectives}
    seen: set[str] = set()
    for part in filter(None, (p.strip() for p in prefer.split("+"))):
        key, sep, value = part.partition("#")
        key = key.strip()
        if not sep:
            raise ValueError(f"preference part {part!r} has no '#': write it as name#value, e.g. top1#80+flops#150")
        if key not in weights:
            raise ValueError(f"unknown objective {key!r} in preference {prefer!r}; known objectives: {objectives}")
        if key in seen:
            raise ValueError(f"objective {key!r} appears twice in preference {prefer!r}")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"preference value {value!r} for {key!r} is not a number") from None
        if not np.isfinite(v) or v < 0 or (key == "top1" and v > 100):
            limits = "an accuracy in 0..100" if key == "top1" else "a finite number >= 0"
            raise ValueError(f"preference value {value!r} for {key!r} must be {limits}")
        weights[key] = 100.0 - v if key == "top1" else v
        seen.add(key)
    if not seen:
        raise ValueError(f"empty preference {prefer!r}; write it as name#value joined by '+', e.g. top1#80+flops#150")
    return np.array([weights[n] for n in objectives], dtype=float)


def asf(F: ArrayLike, weights: ArrayLike, utopian: ArrayLike | None = None) -> np.ndarray:
    """Achievement scalarising function ``max_j (F_j - z_j) / w_j`` (pymoo's ASF); zero weights become 1e-10."""
    F = as_objectives(F)
    if np.ndim(weights) != 1 or np.shape(weights)[0] != F.shape[1]:
        raise ValueError(f"weights must have one value per objective ({F.shape[1]}), got shape {np.shape(weights)}")
    w = as_real_vector(weights, "weights").copy()
    w[w == 0] = 1e-10
    z = np.zeros(F.shape[1]) if utopian is None else as_real_vector(utopian, "utopian", F.shape[1])
    return ((F - z) / w).max(axis=1)


def asf_select(F: ArrayLike, weights: ArrayLike, n: int, utopian: ArrayLike | None = None) -> np.ndarray:
    """Indices of the ``n`` points with the smallest ASF value (stable order)."""
    return np.argsort(asf(F, weights, utopian), kind="stable")[:n]


def tradeoff_values(F: ArrayLike, epsilon: float = 0.125) -> np.ndarray:
    """The trade-off value mu of each point (Rachmawati & Srinivasan), exactly as pymoo's ``HighTradeoffPoints``.

    ``F`` is min-max normalised per objective. A point's neighbours are the points within ``epsilon`` of it (the
    point itself included); when these are fewer than ``min(2 M, N - 1)``, its ``min(2 M, N - 1) + 1`` nearest
    points instead (itself included), as pymoo's ``NeighborFinder``. mu_i = min over neighbours of
    sacrifice / gain (the point itself, 0/0, is ignored); ``-inf`` where no neighbour gives a value.
    """
    F = as_objectives(F)
    N, M = F.shape
    if N == 1:
        return np.full(1, -np.inf)
    span = F.max(axis=0) - F.min(axis=0)
    span[span < 1e-12] = 1.0  # a constant objective carries no trade-off; avoid dividing by zero
    Fn = (F - F.min(axis=0)) / span
    tree = cKDTree(Fn)
    n_min = min(2 * M, N - 1)
    mu = np.full(N, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(N):
            nbrs = tree.query_ball_point(Fn[i], epsilon)
            if len(nbrs) < n_min:
                nbrs = tree.query(Fn[i], k=n_min + 1)[1]
            diff = Fn[np.asarray(nbrs)] - Fn[i]
            ratio = np.maximum(0, diff).sum(axis=1) / np.maximum(0, -diff).sum(axis=1)
            ratio = ratio[~np.isnan(ratio)]  # the point itself gives 0/0
            if ratio.size:
                mu[i] = ratio.min()
    return mu


def high_tradeoff_points(F: ArrayLike, n: int | None = None, epsilon: float = 0.125) -> np.ndarray:
    """Indices of the points with the largest trade-off value mu (:func:`tradeoff_values`, pymoo's rule).

    Returns the ``n`` largest mu (descending, as the original's ``n_survive``); with ``n=None``, pymoo's outliers:
    the points at least 2 standard deviations above the mean mu, else the largest one if it is more than 1 above.
    """
    mu = tradeoff_values(F, epsilon)
    if n is None:
        ok = np.flatnonzero(np.isfinite(mu))
        if ok.size == 0:
            return np.empty(0, dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = (mu[ok] - mu[ok].mean()) / mu[ok].std()
        out = ok[dev >= 2]
        if out.size == 0 and dev.max() > 1:
            out = ok[[int(np.argmax(mu[ok]))]]
        return out
    return np.argsort(-mu, kind="stable")[:n]
