"""Gaussian process with one length-scale per group of features, a fitted noise term and a predictive std."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg as sla
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from ._validation import blas_threads
from .encoding import check_encoding, default_groups, encode


def _group_sq_dists(A: np.ndarray, B: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Squared distances per group, shape (n_groups, len(A), len(B))."""
    out = np.empty((len(groups), A.shape[0], B.shape[0]))
    for i, g in enumerate(groups):
        a, b = A[:, g], B[:, g]
        D = out[i]
        np.matmul(a, b.T, out=D)
        D *= -2.0
        D += np.einsum("ij,ij->i", a, a)[:, None]
        D += np.einsum("ij,ij->i", b, b)[None, :]
        np.maximum(D, 0.0, out=D)
    return out


class GPARD(SurrogateMixin, RegressorMixin, BaseEstimator):
    """Gaussian-process regression with a constant mean and ``exp(-sum_g theta_g |x_g - x'_g|^2)`` correlation.

    Features are standardised; ``groups`` gives each feature's length-scale group (``None``: the encoding's
    default, ``"ard"``: one per feature, or a sequence of ints of length d). ``encoding="ofa-mbv3"`` takes raw
    46-gene OFA MobileNetV3 genomes, marks inactive layers apart from the smallest choice and groups the
    depth, kernel, expand and resolution genes (``encoding.py``); ``"plain"`` uses ``X`` as it is, one group.
    The length-scales and a noise ratio (``nugget``, relative to the process variance) maximise the marginal
    likelihood (mean and variance profiled out) by L-BFGS with analytic gradients from ``n_restarts``
    starts around ``theta_g = 1 / |g|`` (a length-scale of sqrt(|g|) on standardised inputs, where the
    likelihood has a slope). Above ``hyper_subsample`` rows the hyper-parameters are fitted on a random
    subsample, then the model is solved on all rows. ``predict(X, return_std=True)`` also returns the
    standard deviation of the latent function (the noise term left out), for infill criteria.
    """

    label = "gp-ard"

    def __init__(self, encoding: str = "plain", groups: str | Sequence[int] | None = None, n_restarts: int = 3,
                 theta_bounds: tuple[float, float] = (1e-5, 1e2), nugget_bounds: tuple[float, float] = (1e-8, 1.0),
                 hyper_subsample: int | None = 300, random_state: int | np.random.RandomState | None = None) -> None:
        self.encoding = encoding
        self.groups = groups
        self.n_restarts = n_restarts
        self.theta_bounds = theta_bounds
        self.nugget_bounds = nugget_bounds
        self.hyper_subsample = hyper_subsample
        self.random_state = random_state

    def min_samples(self, n_features: int) -> int:
        """3, whatever the number of features."""
        return 3

    def _describe_model(self) -> str:
        return f"GPARD ({self.encoding} inputs)"

    def _resolve_groups(self, d: int) -> list[np.ndarray]:
        if self.groups is None:
            g = default_groups(self.encoding, d)
        elif isinstance(self.groups, str):
            if self.groups != "ard":
                raise ValueError(f"groups must be None, 'ard' or a sequence of ints, got {self.groups!r}")
            g = np.arange(d)
        else:
            g = np.asarray(self.groups)
            if g.shape != (d,) or g.dtype.kind not in "iu":
                raise ValueError(f"groups must hold one int per feature ({d}), got {self.groups!r}")
        return [np.flatnonzero(g == v) for v in np.unique(g)]

    def _check_params(self, d: int) -> None:
        check_encoding(self.encoding, d)
        if int(self.n_restarts) < 1:
            raise ValueError(f"n_restarts must be >= 1, got {self.n_restarts}")
        for name, (lo, up) in (("theta_bounds", self.theta_bounds), ("nugget_bounds", self.nugget_bounds)):
            if not 0 < lo <= up:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {(lo, up)}")
        if self.hyper_subsample is not None and self.hyper_subsample < 3:
            raise ValueError(f"hyper_subsample must be None or >= 3, got {self.hyper_subsample}")

    # ---- likelihood ---------------------------------------------------------------------------------------
    @staticmethod
    def _objective(p: np.ndarray, D: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """``m log sigma^2 + log det R`` (mean and sigma^2 profiled) and its gradient in log parameters."""
        k = D.shape[0]
        theta, nug = np.exp(p[:k]), float(np.exp(p[k]))
        Rc = np.exp(-np.tensordot(theta, D, axes=1))
        R = Rc.copy()
        R[np.diag_indices_from(R)] += nug
        try:
            C = sla.cho_factor(R, lower=True, check_finite=False)
        except sla.LinAlgError:
            return 1e300, np.zeros_like(p)
        m = y.shape[0]
        one = np.ones(m)
        Ri1 = sla.cho_solve(C, one, check_finite=False)
        beta = float(Ri1 @ y) / float(Ri1 @ one)
        alpha = sla.cho_solve(C, y - beta, check_finite=False)
        s2 = max(float((y - beta) @ alpha) / m, 1e-300)
        f = m * np.log(s2) + 2.0 * float(np.log(np.diag(C[0])).sum())
        Rinv = sla.cho_solve(C, np.eye(m), check_finite=False)
        W = Rinv - np.outer(alpha, alpha) / s2  # d f = tr(W dR)
        grad = np.empty_like(p)
        WR = W * Rc
        for i in range(k):
            grad[i] = -theta[i] * float(np.vdot(WR, D[i]))
        grad[k] = nug * float(np.trace(W))
        return float(f), grad

    def _fit_hyper(self, Xs: np.ndarray, ys: np.ndarray, groups: list[np.ndarray],
                   rng: np.random.RandomState) -> np.ndarray:
        D = _group_sq_dists(Xs, Xs, groups)
        lt = np.log(np.asarray(self.theta_bounds, float))
        ln = np.log(np.asarray(self.nugget_bounds, float))
        bounds = [tuple(lt)] * len(groups) + [tuple(ln)]
        base = np.array([-np.log(len(g)) for g in groups] + [np.log(1e-2)])
        best = None
        for i in range(int(self.n_restarts)):
            p0 = base.copy()
            if i > 0:  # further starts: shorter and longer length-scales, a random noise level
                p0[:-1] += (-1.0) ** i * np.ceil(i / 2) + rng.uniform(-0.5, 0.5, len(groups))
                p0[-1] = rng.uniform(ln[0] / 2, ln[1])
            p0 = np.clip(p0, [b[0] for b in bounds], [b[1] for b in bounds])
            res = minimize(self._objective, p0, args=(D, ys), jac=True, method="L-BFGS-B", bounds=bounds)
            if best is None or res.fun < best.fun:
                best = res
        return best.x

    # ---- fit / predict ------------------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike) -> GPARD:
        """Standardise, fit length-scales and noise by maximum likelihood, then solve on all rows."""
        X, y = self._validate_fit(X, y)
        self._check_params(X.shape[1])
        with blas_threads(X.shape[0]):
            return self._fit(encode(X, self.encoding), y)

    def _fit(self, X: np.ndarray, y: np.ndarray, hyper: np.ndarray | None = None) -> GPARD:
        """Fit on encoded rows; ``hyper`` (log length-scales then log nugget) skips the likelihood fit."""
        groups = self._resolve_groups(X.shape[1])
        rng = check_random_state(self.random_state)
        self.x_mean_ = X.mean(0)
        sx = X.std(0, ddof=1) if X.shape[0] > 1 else np.ones(X.shape[1])
        self.x_scale_ = np.where(sx > 0, sx, 1.0)
        self.y_mean_ = float(y.mean())
        sy = float(y.std(ddof=1))
        self.y_scale_ = sy if sy > 0 else 1.0
        Xs = (X - self.x_mean_) / self.x_scale_
        ys = (y - self.y_mean_) / self.y_scale_
        n = X.shape[0]
        idx = np.arange(n)
        if self.hyper_subsample is not None and n > self.hyper_subsample:
            idx = np.sort(rng.choice(n, self.hyper_subsample, replace=False))
        p = self._fit_hyper(Xs[idx], ys[idx], groups, rng) if hyper is None else np.asarray(hyper, float)
        k = len(groups)
        self.groups_ = groups
        self.theta_ = np.exp(p[:k])
        self.nugget_ = float(np.exp(p[k]))
        R = np.exp(-np.tensordot(self.theta_, _group_sq_dists(Xs, Xs, groups), axes=1))
        nug = self.nugget_
        for _ in range(12):  # duplicates with a tiny fitted nugget: raise it until R factorises
            Rn = R.copy()
            Rn[np.diag_indices_from(Rn)] += nug
            try:
                self._chol = sla.cho_factor(Rn, lower=True, check_finite=False)
                break
            except sla.LinAlgError:
                nug *= 10.0
        else:
            raise ValueError("GPARD could not factorise the correlation matrix; the archive may hold many duplicates")
        self.nugget_ = nug
        self.hyper_ = p
        one = np.ones(n)
        self._ri1 = sla.cho_solve(self._chol, one, check_finite=False)
        self._one_ri1 = float(self._ri1.sum())
        self.beta_ = float(self._ri1 @ ys) / self._one_ri1
        self.gamma_ = sla.cho_solve(self._chol, ys - self.beta_, check_finite=False)
        self.sigma2_ = float((ys - self.beta_) @ self.gamma_) / n
        self.centers_ = Xs
        return self

    def predict(self, X: ArrayLike, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted targets, shape (n,); with ``return_std`` also the latent function's standard deviation."""
        check_is_fitted(self, "gamma_")
        Q = encode(self._validate_query(X), self.encoding)
        with blas_threads(Q.shape[0] if return_std else 0):
            return self._predict_encoded(Q, return_std)

    def _predict_encoded(self, Q: np.ndarray, return_std: bool = False
                         ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        Qs = (Q - self.x_mean_) / self.x_scale_
        mean = np.empty(Q.shape[0])
        std = np.empty(Q.shape[0]) if return_std else None
        block = max(1, 2**22 // max(1, self.centers_.shape[0] * len(self.groups_)))
        for s in range(0, Q.shape[0], block):
            r = np.exp(-np.tensordot(self.theta_, _group_sq_dists(Qs[s:s + block], self.centers_, self.groups_),
                                     axes=1))
            mean[s:s + block] = self.beta_ + r @ self.gamma_
            if return_std:
                v = sla.solve_triangular(self._chol[0], r.T, lower=True, check_finite=False)
                u = 1.0 - r @ self._ri1
                var = 1.0 - np.einsum("ij,ij->j", v, v) + u * u / self._one_ri1
                std[s:s + block] = np.sqrt(np.maximum(var, 0.0) * self.sigma2_)
        mean = self.y_mean_ + self.y_scale_ * mean
        return (mean, self.y_scale_ * std) if return_std else mean
