"""Blocked radial-basis evaluation ``s(q) = sum_j w_j phi(|q - c_j|^2)`` over a compiled kernel.

Each block of queries takes one BLAS product ``Q_b @ C.T``; the compiled kernel turns it into squared
distances, applies ``phi`` and sums against the weights in one pass. When the centres and the queries are
small integers (genomes), the product is computed in float32, which is exact for them and cheaper.
Blocks are shared among threads (the kernel releases the GIL; BLAS is held to one thread meanwhile).
"""
from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist
from threadpoolctl import ThreadpoolController

from ._rbf_kernel import radial_sum

KINDS = {"cubic": 0, "tps": 1, "gauss": 2}
_F32_EXACT = float(2**24)
_CONTROLLER = None


def blas_single_thread() -> contextlib.AbstractContextManager[Any]:
    """Context holding BLAS to one thread (the controller is built once: building it scans the libraries)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def integral_max(A: np.ndarray) -> float | None:
    """Largest absolute entry when every entry is an integer, else ``None``."""
    if A.size == 0:
        return 0.0
    if not bool(np.all(A == np.round(A))):
        return None
    return float(np.abs(A).max())


class RadialEvaluator:
    """Fixed centres ``C`` (n, d) and weights ``w`` (n,); evaluates the weighted radial sum at queries."""

    def __init__(self, centers: ArrayLike, weights: ArrayLike, kind: str, param: float = 0.0) -> None:
        self.centers = np.ascontiguousarray(centers, dtype=np.float64)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.kind = kind
        self.param = float(param)
        self.sqnorm = np.einsum("ij,ij->i", self.centers, self.centers)
        self.cmax = integral_max(self.centers)
        self.ct64 = np.ascontiguousarray(self.centers.T)
        self.ct32 = np.ascontiguousarray(self.ct64, dtype=np.float32) if self.cmax is not None else None

    def _block(self, Q: np.ndarray, out: np.ndarray, use32: bool) -> None:
        qn = np.einsum("ij,ij->i", Q, Q)
        G = Q.astype(np.float32) @ self.ct32 if use32 else Q @ self.ct64
        radial_sum(G, qn, self.sqnorm, self.weights, out, KINDS[self.kind], self.param)

    def __call__(self, Q: ArrayLike, n_jobs: int = 1, block: int | None = None) -> np.ndarray:
        Q = np.ascontiguousarray(Q, dtype=np.float64)
        if block is None:  # about a million products per block: small enough for cache, large enough to amortise
            block = int(np.clip(2**20 // max(1, self.centers.shape[0]), 64, 8192))
        m = Q.shape[0]
        out = np.empty(m)
        qmax = integral_max(Q) if self.cmax is not None else None
        # float32 products are exact when every term and partial sum is an integer below 2^24
        use32 = qmax is not None and qmax * self.cmax * Q.shape[1] < _F32_EXACT
        starts = range(0, m, block)
        with blas_single_thread():  # blocks are small: threads go to blocks, not BLAS
            if n_jobs <= 1 or m <= block:
                for s in starts:
                    self._block(Q[s:s + block], out[s:s + block], use32)
            else:
                with ThreadPoolExecutor(n_jobs) as pool:
                    list(pool.map(lambda s: self._block(Q[s:s + block], out[s:s + block], use32), starts))
        return out


def radial_reference(Q: ArrayLike, centers: ArrayLike, weights: ArrayLike, kind: str,
                     param: float = 0.0) -> np.ndarray:
    """Plain numpy/scipy evaluation of the same sum (the compiled path's reference twin, for tests)."""
    d2 = cdist(np.asarray(Q, float), np.asarray(centers, float), "sqeuclidean")
    if kind == "cubic":
        phi = d2 ** 1.5
    elif kind == "tps":
        with np.errstate(divide="ignore", invalid="ignore"):
            phi = np.where(d2 > 0, 0.5 * d2 * np.log(np.where(d2 > 0, d2, 1.0)), 0.0)
    elif kind == "gauss":
        phi = np.exp(-param * d2)
    else:
        raise ValueError(f"unknown radial kind {kind!r}; choose one of {sorted(KINDS)}")
    return phi @ np.asarray(weights, float)
