"""Radial-basis-function interpolant (pySOT's ``RBFInterpolant``: cubic kernel, linear tail, ridge eta)."""
from __future__ import annotations

import logging

import numpy as np
import scipy.linalg as sla
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from ._radial import RadialEvaluator, radial_reference
from ._validation import blas_threads, resolve_n_jobs

log = logging.getLogger(__name__)


def _tail_matrix(X: np.ndarray, tail: str) -> np.ndarray:
    ones = np.ones((X.shape[0], 1))
    return np.hstack([ones, X]) if tail == "linear" else ones


def _sq_dists(X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Pairwise squared distances by the Gram trick (exact for integer genomes), zero diagonal."""
    D = np.matmul(X, X.T, out=out)
    sq = np.einsum("ij,ij->i", X, X)
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    np.fill_diagonal(D, 0.0)
    return D


def _phi_inplace(D2: np.ndarray, kernel: str) -> np.ndarray:
    np.maximum(D2, 0.0, out=D2)
    if kernel == "cubic":
        r = np.sqrt(D2)
        D2 *= r
    else:  # tps: r^2 log r = 0.5 d2 log d2
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.log(D2)
        L[D2 == 0] = 0.0
        D2 *= L
        D2 *= 0.5
    return D2


class RBF(SurrogateMixin, RegressorMixin, BaseEstimator):
    """Interpolating RBF surrogate ``s(x) = sum_i lambda_i phi(|x - x_i|) + p(x)``.

    Parameters follow pySOT 0.2.3 as used by NSGANetV2: ``kernel`` ``"cubic"`` (phi = r^3) or ``"tps"``
    (r^2 log r); ``tail`` ``"linear"`` (1, x_1..x_d) or ``"constant"``; ``eta`` is added to the diagonal of
    the kernel matrix. The saddle-point system ``[[Phi + eta I, P], [P^T, 0]]`` is solved directly
    (LU, as pySOT does); tail columns that are linearly dependent on the others (for
    instance a gene that never varies in the archive) are dropped first, so the system stays regular.
    Inputs are not scaled. Prediction runs in a compiled kernel (``n_jobs`` threads).
    """

    label = "rbf"

    def __init__(self, kernel: str = "cubic", tail: str = "linear", eta: float = 1e-6,
                 n_jobs: int | None = -1, random_state: int | np.random.RandomState | None = None) -> None:
        self.kernel = kernel
        self.tail = tail
        self.eta = eta
        self.n_jobs = n_jobs
        self.random_state = random_state  # unused: the fit is deterministic; kept for a uniform interface

    def _check_params(self) -> None:
        if self.kernel not in ("cubic", "tps"):
            raise ValueError(f"kernel must be 'cubic' or 'tps', got {self.kernel!r}")
        if self.tail not in ("linear", "constant"):
            raise ValueError(f"tail must be 'linear' or 'constant', got {self.tail!r}")
        if not self.eta >= 0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")

    def min_samples(self, n_features: int) -> int:
        """``d + 1`` with a linear tail (one per tail coefficient), else 2."""
        return int(n_features) + 1 if self.tail == "linear" else 2

    def _describe_model(self) -> str:
        return f"RBF with a {self.tail} tail"

    def fit(self, X: ArrayLike, y: ArrayLike) -> RBF:
        """Solve the interpolation system on all of ``(X, y)``."""
        self._check_params()
        X, y = self._validate_fit(X, y)
        with blas_threads(X.shape[0]):
            return self._fit(X, y)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> RBF:
        n = X.shape[0]
        P = _tail_matrix(X, self.tail)
        # keep a linearly independent set of tail columns (pivoted QR, cheap: n x (d+1))
        _, R, piv = sla.qr(P, mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        rank = int((diag > diag[0] * max(P.shape) * np.finfo(float).eps).sum()) if diag.size else 0
        cols = np.sort(piv[:rank])
        P = P[:, cols]
        k = P.shape[1]
        A = np.empty((n + k, n + k))
        Phi = A[:n, :n]
        _sq_dists(X, out=Phi)
        _phi_inplace(Phi, self.kernel)
        Phi[np.diag_indices(n)] += self.eta
        A[:n, n:] = P
        A[n:, :n] = P.T
        A[n:, n:] = 0.0
        rhs = np.concatenate([y, np.zeros(k)])
        # LU, as pySOT; LAPACK getrf/getrs directly (scipy.linalg.solve adds a condition estimate that
        # costs several times the factorisation at n = 10,000)
        getrf, getrs = sla.get_lapack_funcs(("getrf", "getrs"), (A,))
        lu, piv, info = getrf(A.T, overwrite_a=True)  # A is symmetric: its F-ordered view avoids a copy
        if info == 0:
            u = np.abs(np.diagonal(lu))
            if u.min() <= u.max() * (n + k) * np.finfo(float).eps:
                info = int(np.argmin(u)) + 1  # numerically singular pivot (e.g. a duplicated genome, eta = 0)
        if info == 0:
            sol, info = getrs(lu, piv, rhs)
        if info != 0 or not np.isfinite(sol).all():
            log.warning("RBF system is singular (LAPACK info %d); falling back to least squares", info)
            del A, lu
            return self._fit_lstsq(X, y, P, cols)
        return self._store(X, sol, cols)

    def _fit_lstsq(self, X: np.ndarray, y: np.ndarray, P: np.ndarray, cols: np.ndarray) -> RBF:
        n, k = X.shape[0], P.shape[1]
        Phi = _phi_inplace(_sq_dists(X), self.kernel)
        Phi[np.diag_indices(n)] += self.eta
        A = np.block([[Phi, P], [P.T, np.zeros((k, k))]])
        sol = sla.lstsq(A, np.concatenate([y, np.zeros(k)]), check_finite=False)[0]
        return self._store(X, sol, cols)

    def _store(self, X: np.ndarray, sol: np.ndarray, cols: np.ndarray) -> RBF:
        n = X.shape[0]
        self.centers_ = X
        self.coef_ = sol[:n]
        tail_coef = np.zeros(X.shape[1] + 1 if self.tail == "linear" else 1)
        tail_coef[cols] = sol[n:]
        self.tail_coef_ = tail_coef
        self._evaluator = RadialEvaluator(X, self.coef_, self.kernel)
        return self

    def _tail(self, X: np.ndarray) -> np.ndarray:
        t = np.full(X.shape[0], self.tail_coef_[0])
        if self.tail == "linear":
            t += X @ self.tail_coef_[1:]
        return t

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, shape (n,)."""
        check_is_fitted(self, "coef_")
        X = self._validate_query(X)
        return self._evaluator(X, n_jobs=resolve_n_jobs(self.n_jobs)) + self._tail(X)

    def predict_reference(self, X: ArrayLike) -> np.ndarray:
        """The same model evaluated with plain numpy/scipy (reference twin of ``predict``)."""
        check_is_fitted(self, "coef_")
        X = self._validate_query(X)
        return radial_reference(X, self.centers_, self.coef_, self.kernel) + self._tail(X)

