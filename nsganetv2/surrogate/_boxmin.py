"""DACE's ``boxmin`` pattern search for Kriging hyper-parameters (Lophaven, Nielsen, Soendergaard 2002).

A faithful port of the MATLAB routine that pydacefit uses: start, then ``kmax`` rounds of
``explore`` (try each coordinate multiplied and divided by a factor D) and ``move`` (repeat a successful
step with the step ratio squared), clipped to the bounds.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def boxmin(fun: Callable[[np.ndarray], float], t0: ArrayLike, lo: ArrayLike, up: ArrayLike
           ) -> tuple[np.ndarray, float, int]:
    """Minimise ``fun`` over the box ``[lo, up]`` from ``t0``; return ``(t, f, n_evaluations)``."""
    t = np.atleast_1d(np.asarray(t0, dtype=float)).copy()
    lo = np.broadcast_to(np.asarray(lo, float), t.shape).copy()
    up = np.broadcast_to(np.asarray(up, float), t.shape).copy()
    p = t.size
    D = 2.0 ** (np.arange(1, p + 1) / (p + 2.0))
    out = (t < lo) | (t > up)
    t[out] = np.sqrt(lo[out] * up[out])
    n_eval = 1
    f = fun(t)
    if not np.isfinite(f):
        return t, f, n_eval
    kmax = 2 if p <= 2 else min(p, 4)
    for _ in range(kmax):
        th = t.copy()
        # explore
        for j in range(p):
            tt = t.copy()
            DD = D[j]
            if t[j] == up[j]:
                atbd = True
                tt[j] = t[j] / np.sqrt(DD)
            elif t[j] == lo[j]:
                atbd = True
                tt[j] = t[j] * np.sqrt(DD)
            else:
                atbd = False
                tt[j] = min(up[j], t[j] * DD)
            ff = fun(tt)
            n_eval += 1
            if ff < f:
                t, f = tt, ff
            elif not atbd:
                tt[j] = max(lo[j], t[j] / DD)
                ff = fun(tt)
                n_eval += 1
                if ff < f:
                    t, f = tt, ff
        # move
        v = t / th
        if np.all(v == 1):
            D = np.roll(D, -1) ** 0.2
            continue
        while True:
            tt = np.minimum(up, np.maximum(lo, t * v))
            ff = fun(tt)
            n_eval += 1
            if ff < f:
                t, f = tt, ff
                v = v * v
            else:
                break
            if np.any((tt == lo) | (tt == up)):
                break
        D = np.roll(D, -1) ** 0.25
    return t, f, n_eval
