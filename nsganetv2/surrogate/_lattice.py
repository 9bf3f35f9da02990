"""Gaussian radial sums on an integer lattice: ``s(q) = sum_i w_i exp(-theta sum_j ((q_j - c_ij) / h_j)^2)``.

When every feature of the centres and the queries is an integer from a short range (genomes), the Gaussian
factorises over groups of features; each group's factor for each joint value and centre is tabulated once per
call, and a query then costs one multiply per group and centre (``_lattice.h``). Queries with a value off the
lattice (not an integer, or outside the table's range) are reported back for the caller's general path.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import ArrayLike

from ._rbf_kernel import LATTICE_WIDTH, lattice_sum

MAX_CARD = 64          # a feature with more integer values than this disables the lattice path
GROUP_CAP = 27         # most joint values per group (27 = three ternary genes)
BLOCK_BYTES = 1 << 15  # table bytes per block of centres (kept in L1 while a batch of queries passes)
QUERY_BLOCK = 2048     # queries per kernel call
MAX_TABLE = 1 << 28    # table bytes above which the lattice path is not used


def _integer_range(A: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-column min and max when ``A`` holds only integers, else ``None``."""
    if not bool(np.all(A == np.round(A))):
        return None
    return A.min(0), A.max(0)


def plan_groups(card: ArrayLike, cap: int = GROUP_CAP) -> list[list[int]]:
    """Cut the features, in order, into runs whose joint number of values stays within ``cap``."""
    groups: list[list[int]] = []
    size = cap + 1
    for j, c in enumerate(int(c) for c in card):
        if size * c <= cap:
            groups[-1].append(j)
            size *= c
        else:
            groups.append([j])
            size = c
    return groups


class GaussLattice:
    """Fixed centres ``C`` (n, d, raw integers), per-feature length ``h`` (d,), weights ``w`` (n,), ``theta``."""

    def __init__(self, centers: ArrayLike, h: ArrayLike, weights: ArrayLike, theta: float) -> None:
        C = np.ascontiguousarray(centers, dtype=np.float64)
        self.rng = _integer_range(C) if C.size else None  # per-feature (min, max), or None off the lattice
        self.centers = C
        self.inv_h = 1.0 / np.asarray(h, dtype=np.float64)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.theta = float(theta)
        self._cache = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cache": None}  # the table is rebuilt on demand, not pickled

    def _table(self, lo: np.ndarray, card: np.ndarray):
        """Group layout and the blocked table ``T[block][row][bw]`` (``None`` when it would be too big)."""
        n, d = self.centers.shape
        card = card.astype(np.int64)
        groups = plan_groups(card, GROUP_CAP)
        sizes = [int(np.prod(card[f])) for f in groups]
        rows = int(sum(sizes))
        bw = max(LATTICE_WIDTH, BLOCK_BYTES // (8 * rows) // LATTICE_WIDTH * LATTICE_WIDTH)
        npad = -(-n // LATTICE_WIDTH) * LATTICE_WIDTH
        bw = min(bw, npad)
        nb = -(-npad // bw)
        npad = nb * bw
        if rows * npad * 8 > MAX_TABLE:
            return None
        gstart = np.cumsum([0] + [len(f) for f in groups]).astype(np.intc)
        gbase = np.cumsum([0] + sizes[:-1]).astype(np.intc)
        mult = np.empty(d)
        T = np.ones((rows, npad))
        for f, base, kg in zip(groups, gbase, sizes):  # joint value k = sum mult * (q_j - lo_j), first fastest
            k = np.arange(kg)
            d2 = np.zeros((kg, n))
            stride = 1
            for j in f:
                mult[j] = stride
                v = lo[j] + np.arange(card[j])
                e = np.square((v[:, None] - self.centers[None, :, j]) * self.inv_h[j])  # (card_j, n)
                d2 += e[(k // stride) % card[j]]
                stride *= int(card[j])
            T[base:base + kg, :n] = np.exp(-self.theta * d2)
        Tb = np.ascontiguousarray(T.reshape(rows, nb, bw).transpose(1, 0, 2)).ravel()
        w = np.zeros(npad)
        w[:n] = self.weights
        return gstart, mult, gbase, Tb, w, bw

    def _plan(self, lo: np.ndarray, card: np.ndarray):
        key = (lo.tobytes(), card.tobytes())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._table(lo, card))
        return self._cache[1]

    def _run(self, Q: np.ndarray, out: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_jobs: int):
        card = hi - lo + 1
        if card.max() > MAX_CARD:
            return None
        plan = self._plan(lo, card)
        if plan is None:
            return None
        gstart, mult, gbase, T, w, bw = plan
        m = Q.shape[0]
        ok = np.empty(m, dtype=np.uint8)

        def block(s: int) -> int:
            e = min(s + QUERY_BLOCK, m)
            return lattice_sum(Q[s:e], lo, card, gstart, mult, gbase, T, w, bw, out[s:e], ok[s:e])

        starts = range(0, m, QUERY_BLOCK)
        if n_jobs <= 1 or m <= QUERY_BLOCK:
            for s in starts:
                block(s)
        else:
            with ThreadPoolExecutor(n_jobs) as pool:
                list(pool.map(block, starts))
        return ok.view(bool)

    def __call__(self, Q: ArrayLike, out: np.ndarray, n_jobs: int = 1) -> np.ndarray | None:
        """Write the sums into ``out``; return the mask of rows placed on the lattice, or ``None`` for none.

        The table spans the centres' values; rows with other integer values get a second pass on a table that
        spans theirs too. Rows left out (non-integers, or too many values) are the caller's to evaluate.
        """
        if self.rng is None or Q.shape[0] == 0:
            return None
        Q = np.ascontiguousarray(Q, dtype=np.float64)
        ok = self._run(Q, out, self.rng[0], self.rng[1], n_jobs)
        if ok is None or ok.all():
            return ok
        rest = np.flatnonzero(~ok)
        Qr = Q[rest]
        lo = np.floor(np.minimum(self.rng[0], Qr.min(0)))
        hi = np.ceil(np.maximum(self.rng[1], Qr.max(0)))
        out_r = np.empty(rest.size)
        ok_r = self._run(Qr, out_r, lo, hi, n_jobs)
        if ok_r is not None:
            out[rest[ok_r]] = out_r[ok_r]
            ok[rest[ok_r]] = True
        return ok
