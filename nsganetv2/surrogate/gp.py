"""Kriging (pydacefit's DACE): linear regression mean, Gaussian correlation, one length-scale fitted by ML."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.linalg as sla
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from ._boxmin import boxmin
from ._lattice import GaussLattice
from ._radial import RadialEvaluator, radial_reference
from ._validation import blas_threads, resolve_n_jobs

log = logging.getLogger(__name__)
_EPS = np.finfo(float).eps


def _regression(X: np.ndarray, regr: str) -> np.ndarray:
    ones = np.ones((X.shape[0], 1))
    return np.hstack([ones, X]) if regr == "linear" else ones


def _sq_dists(A: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", A, A)
    D = A @ A.T
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    np.maximum(D, 0.0, out=D)
    np.fill_diagonal(D, 0.0)
    return D


def _likelihood(D2: np.ndarray, F: np.ndarray, y: np.ndarray, theta: float, mu: float, want_model: bool = False,
                overwrite: bool = False):
    """DACE's objective ``sigma^2 * det(R)^(1/m)`` (smaller is better) and, optionally, the fitted model."""
    m = D2.shape[0]
    R = D2 if overwrite else np.empty_like(D2)
    np.multiply(D2, -theta, out=R)
    np.exp(R, out=R)
    R[np.diag_indices(m)] += mu
    try:
        C = sla.cholesky(R, lower=True, overwrite_a=True, check_finite=False)
    except sla.LinAlgError:
        return np.inf, None
    Ft = sla.solve_triangular(C, F, lower=True, check_finite=False)
    Q, G = np.linalg.qr(Ft)
    gd = np.abs(np.diag(G))
    if gd.min() < 1e-10 * gd.max():
        return np.inf, None
    Yt = sla.solve_triangular(C, y, lower=True, check_finite=False)
    beta = sla.solve_triangular(G, Q.T @ Yt, check_finite=False)
    rho = Yt - Ft @ beta
    sigma2 = float(rho @ rho) / m
    obj = sigma2 * float(np.exp(2.0 / m * np.log(np.diag(C)).sum()))
    if not want_model:
        return obj, None
    gamma = sla.solve_triangular(C, rho, lower=True, trans="T", check_finite=False)
    return obj, (beta, gamma, sigma2)


class GP(SurrogateMixin, RegressorMixin, BaseEstimator):
    """Kriging surrogate as in pydacefit ``DACE(regr_linear, corr_gauss, theta=1, thetaL=1e-5, thetaU=100)``.

    ``X`` and ``y`` are standardised (ddof 1; a constant column gets scale 1 instead of a division by zero).
    The correlation is ``exp(-theta |x - x'|^2)`` with one ``theta`` for all dimensions, maximised in
    likelihood over ``theta_bounds`` by DACE's ``boxmin`` pattern search (``optimizer="boxmin"``) or by a
    bounded Brent search on log theta (``optimizer="brent"``); ``optimizer=None`` keeps ``theta0``.
    ``theta0="auto"`` starts at ``1 / median |x - x'|^2`` of the standardised training inputs (correlation
    1/e at the median distance), where the likelihood has a slope; ``theta0=1.0`` is pydacefit's start (on
    standardised 46-gene genomes every off-diagonal correlation is then ~exp(-90), the likelihood is flat, the
    fit stays near 1 and off-training predictions fall back to the mean). A ``ConvergenceWarning`` says when
    the fitted theta does not improve the likelihood on its start by a relative 1e-8.
    A nugget ``(10 + m) eps`` is added to the diagonal, as DACE does.

    Scaling: each likelihood evaluation costs a Cholesky factorisation, O(m^3). With more than
    ``hyper_subsample`` samples, theta is fitted on a random subsample of that size (seeded by
    ``random_state``) and the model is then solved once on all samples with that theta, so a 10,000-sample
    archive costs one large factorisation instead of a dozen. Set ``hyper_subsample=None`` to use all.
    Prediction runs in compiled kernels (``n_jobs`` threads): for integer inputs with few values per feature
    (genomes) the Gaussian factorises over groups of features and is read from per-call tables
    (``_lattice.py``), otherwise distances come from a blocked BLAS product (``_radial.py``).
    """

    label = "gp"

    def __init__(self, regr: str = "linear", theta0: float | str = "auto",
                 theta_bounds: tuple[float, float] = (1e-5, 100.0), optimizer: str | None = "boxmin", hyper_subsample: int | None = 2000, n_jobs: int | None = -1,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.regr = regr
        self.theta0 = theta0
        self.theta_bounds = theta_bounds
        self.optimizer = optimizer
        self.hyper_subsample = hyper_subsample
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self) -> tuple[float, float]:
        if self.regr not in ("linear", "constant"):
            raise ValueError(f"regr must be 'linear' or 'constant', got {self.regr!r}")
        if self.optimizer not in ("boxmin", "brent", None):
            raise ValueError(f"optimizer must be 'boxmin', 'brent' or None, got {self.optimizer!r}")
        lo, up = (float(b) for b in self.theta_bounds)
        if not 0 < lo <= up:
            raise ValueError(f"theta_bounds must satisfy 0 < low <= high, got {self.theta_bounds}")
        if self.hyper_subsample is not None and self.hyper_subsample < 3:
            raise ValueError(f"hyper_subsample must be None or >= 3, got {self.hyper_subsample}")
        if isinstance(self.theta0, str):
            if self.theta0 != "auto":
                raise ValueError(f"theta0 must be 'auto' or a positive number, got {self.theta0!r}")
        elif not float(self.theta0) > 0:
            raise ValueError(f"theta0 must be 'auto' or a positive number, got {self.theta0!r}")
        return lo, up

    def min_samples(self, n_features: int) -> int:
        """``d + 2`` with a linear mean (its ``d + 1`` coefficients and a residual), else 3."""
        return int(n_features) + 2 if self.regr == "linear" else 3

    def _describe_model(self) -> str:
        return f"GP with {self.regr} mean"

    def _fit_theta(self, Xs: np.ndarray, F: np.ndarray, ys: np.ndarray, lo: float, up: float) -> float:
        """Maximum-likelihood theta on (a subsample of) the standardised data."""
        D2 = _sq_dists(Xs)
        mu = (10.0 + Xs.shape[0]) * _EPS

        def objective(t) -> float:
            return _likelihood(D2, F, ys, float(np.atleast_1d(t)[0]), mu)[0]

        if self.theta0 == "auto":
            off = D2[np.triu_indices_from(D2, k=1)]
            off = off[off > 0]
            theta0 = 1.0 / float(np.median(off)) if off.size else 1.0
        else:
            theta0 = float(self.theta0)
        theta0 = float(np.clip(theta0, lo, up))
        self.theta_start_ = theta0
        if self.optimizer == "boxmin":
            t, f_end, _ = boxmin(objective, theta0, lo, up)
            theta = float(t[0])
            f_start = objective(theta0)
        elif self.optimizer == "brent":
            res = minimize_scalar(lambda s: objective(np.exp(s)), bounds=(np.log(lo), np.log(up)), method="bounded",
                                  options={"xatol": 1e-3})
            f_start, f_end = objective(theta0), objective(np.exp(res.x))
            theta = float(np.exp(res.x)) if f_end <= f_start else theta0
        else:
            return theta0
        if not f_end < f_start * (1.0 - 1e-8):  # no gain over the start: a flat likelihood
            warnings.warn(f"GP: the likelihood fit did not improve on theta0 = {theta0:.4g} (ended at {theta:.4g}): "
                          "a flat likelihood, the correlations there are all ~0 or ~1, and predictions may be "
                          "near-constant off the training points; use theta0='auto' or a theta0 near 1 / (typical "
                          "squared distance of the standardised inputs)", ConvergenceWarning, stacklevel=4)
        return theta

    def fit(self, X: ArrayLike, y: ArrayLike) -> GP:
        """Standardise, fit theta by maximum likelihood, then solve the Kriging system on all samples."""
        lo, up = self._check_params()
        X, y = self._validate_fit(X, y)
        with blas_threads(X.shape[0]):
            return self._fit(X, y, lo, up)

    def _fit(self, X: np.ndarray, y: np.ndarray, lo: float, up: float) -> GP:
        n = X.shape[0]
        self.x_mean_ = X.mean(0)
        sx = X.std(0, ddof=1)
        self.x_scale_ = np.where(sx > 0, sx, 1.0)
        self.y_mean_ = float(y.mean())
        sy = float(y.std(ddof=1))
        self.y_scale_ = sy if sy > 0 else 1.0
        Xs = (X - self.x_mean_) / self.x_scale_
        ys = (y - self.y_mean_) / self.y_scale_
        F = _regression(Xs, self.regr)
        _, Rf, piv = sla.qr(F, mode="economic", pivoting=True)
        diag = np.abs(np.diag(Rf))
        rank = int((diag > diag[0] * max(F.shape) * _EPS).sum())
        self.regr_cols_ = np.sort(piv[:rank])
        F = F[:, self.regr_cols_]

        # hyper-parameter: theta on a subsample
        idx = np.arange(n)
        if self.hyper_subsample is not None and n > self.hyper_subsample:
            idx = np.sort(check_random_state(self.random_state).choice(n, self.hyper_subsample, replace=False))
        theta = self._fit_theta(Xs[idx], F[idx], ys[idx], lo, up)

        # final solve on all samples; raise the nugget if the correlation matrix is numerically singular
        mu = (10.0 + n) * _EPS
        for _ in range(12):
            obj, model = _likelihood(_sq_dists(Xs), F, ys, theta, mu, want_model=True, overwrite=True)
            if model is not None:
                break
            log.warning("GP: correlation matrix not positive definite at nugget %.3g; increasing it", mu)
            mu *= 10.0
        else:
            raise ValueError("GP could not factorise the correlation matrix; the archive may hold many duplicates")
        self.theta_ = theta
        self.nugget_ = mu
        self.likelihood_objective_ = obj
        self.beta_, self.gamma_, self.sigma2_ = model
        self.centers_ = Xs
        self._evaluator = RadialEvaluator(Xs, self.gamma_, "gauss", theta)
        self._lattice = GaussLattice(X, self.x_scale_, self.gamma_, theta)
        return self

    def _beta(self) -> np.ndarray:
        beta = np.zeros(self.n_features_in_ + 1 if self.regr == "linear" else 1)
        beta[self.regr_cols_] = self.beta_
        return beta

    def _mean(self, Qs: np.ndarray) -> np.ndarray:
        beta = self._beta()
        return beta[0] + Qs @ beta[1:] if self.regr == "linear" else np.full(Qs.shape[0], beta[0])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, shape (n,).

        The mean is evaluated on the raw inputs (the standardisation folded into its coefficients); the
        correlation sum runs on the integer lattice where the inputs allow it (genomes) and through the general
        radial kernel on standardised inputs for any other row.
        """
        check_is_fitted(self, "gamma_")
        Q = self._validate_query(X)
        n_jobs = resolve_n_jobs(self.n_jobs)
        beta = self._beta()
        if self.regr == "linear":
            coef = beta[1:] / self.x_scale_
            s = Q @ coef
            s += beta[0] - float(self.x_mean_ @ coef)
        else:
            s = np.full(Q.shape[0], beta[0])
        r = np.empty(Q.shape[0])
        ok = self._lattice(Q, r, n_jobs=n_jobs)
        if ok is None:
            r = self._evaluator((Q - self.x_mean_) / self.x_scale_, n_jobs=n_jobs)
        elif not ok.all():
            rest = ~ok
            r[rest] = self._evaluator((Q[rest] - self.x_mean_) / self.x_scale_, n_jobs=n_jobs)
        s += r
        s *= self.y_scale_
        s += self.y_mean_
        return s

    def predict_reference(self, X: ArrayLike) -> np.ndarray:
        """The same model evaluated with plain numpy/scipy (reference twin of ``predict``)."""
        check_is_fitted(self, "gamma_")
        Qs = (self._validate_query(X) - self.x_mean_) / self.x_scale_
        s = self._mean(Qs) + radial_reference(Qs, self.centers_, self.gamma_, "gauss", self.theta_)
        return self.y_mean_ + self.y_scale_ * s
