"""A weighted ensemble of the group-ARD Gaussian process and a Bayesian linear model, with a predictive std."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import BayesianRidge
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from ._validation import blas_threads
from .encoding import check_encoding, encode
from .gp_ard import GPARD

_WEIGHTS = np.linspace(0.0, 1.0, 11)


def _fit_linear(E: np.ndarray, y: np.ndarray) -> tuple[BayesianRidge, np.ndarray, np.ndarray]:
    mean = E.mean(0)
    sd = E.std(0)
    scale = np.where(sd > 0, sd, 1.0)
    return BayesianRidge().fit((E - mean) / scale, y), mean, scale


class GPLinearEnsemble(SurrogateMixin, RegressorMixin, BaseEstimator):
    """``w * GPARD + (1 - w) * BayesianRidge`` on standardised (encoded) inputs.

    On real NAS archives the Gaussian process captures the non-linear part (resolution, interactions) and the
    linear model the additive trend that 100 samples support; together they rank held-out networks better than
    either, by a margin that depends on the landscape. ``weight="cv"`` (default) picks ``w`` in 0, 0.1, ..., 1
    by ``n_fold`` cross-validated squared error (the folds reuse the full fit's GP hyper-parameters, so this
    costs ``n_fold`` Cholesky solves); a number fixes it. ``encoding`` is passed to both members (``"ofa-mbv3"``: raw 46-gene genomes, see ``encoding.py``);
    ``gp_params`` go to ``GPARD``. ``predict(X, return_std=True)`` returns the mixture's standard deviation,
    ``sqrt(w s_gp^2 + (1 - w) s_lin^2 + w (1 - w) (m_gp - m_lin)^2)``: the GP's latent std, the linear
    model's parameter std and the members' disagreement.
    """

    label = "ensemble"

    def __init__(self, encoding: str = "plain", weight: float | str = "cv", n_fold: int = 5,
                 gp_params: Mapping[str, Any] | None = None,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.encoding = encoding
        self.weight = weight
        self.n_fold = n_fold
        self.gp_params = gp_params
        self.random_state = random_state

    def min_samples(self, n_features: int) -> int:
        """3, whatever the number of features."""
        return 3

    def _describe_model(self) -> str:
        return f"GPLinearEnsemble ({self.encoding} inputs)"

    def _check_params(self, d: int) -> None:
        check_encoding(self.encoding, d)
        if isinstance(self.weight, str):
            if self.weight != "cv":
                raise ValueError(f"weight must be 'cv' or a number in [0, 1], got {self.weight!r}")
        elif not 0.0 <= float(self.weight) <= 1.0:
            raise ValueError(f"weight must be 'cv' or a number in [0, 1], got {self.weight!r}")
        if int(self.n_fold) < 2:
            raise ValueError(f"n_fold must be >= 2, got {self.n_fold}")

    def fit(self, X: ArrayLike, y: ArrayLike) -> GPLinearEnsemble:
        """Fit both members on all rows; with ``weight="cv"`` choose the GP's weight by cross-validation."""
        X, y = self._validate_fit(X, y)
        self._check_params(X.shape[1])
        with blas_threads(X.shape[0]):
            return self._fit(X, y)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> GPLinearEnsemble:
        rng = check_random_state(self.random_state)
        params = dict(self.gp_params or {})
        params.setdefault("random_state", rng.randint(np.iinfo(np.int32).max))
        self.gp_ = GPARD(encoding=self.encoding, **params).fit(X, y)
        E = encode(X, self.encoding)
        self.linear_, self.x_mean_, self.x_scale_ = _fit_linear(E, y)
        self.weight_ = self._cv_weight(E, y, params, rng) if self.weight == "cv" else float(self.weight)
        return self

    def _cv_weight(self, E: np.ndarray, y: np.ndarray, params: dict, rng: np.random.RandomState) -> float:
        n = E.shape[0]
        k = min(int(self.n_fold), n)
        if n - -(-n // k) < 3:  # a training part needs 3 rows
            return 0.5
        pg, pl = np.empty(n), np.empty(n)
        for test in np.array_split(rng.permutation(n), k):
            train = np.ones(n, bool)
            train[test] = False
            gp = GPARD(encoding=self.encoding, **params)._fit(E[train], y[train], hyper=self.gp_.hyper_)
            pg[test] = gp._predict_encoded(E[test])
            lin, mean, scale = _fit_linear(E[train], y[train])
            pl[test] = lin.predict((E[test] - mean) / scale)
        errors = [float(np.mean((w * pg + (1.0 - w) * pl - y) ** 2)) for w in _WEIGHTS]
        self.cv_errors_ = np.asarray(errors)
        return float(_WEIGHTS[int(np.argmin(errors))])

    def predict(self, X: ArrayLike, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Weighted mean of the members' predictions, shape (n,); with ``return_std`` also the mixture's std."""
        check_is_fitted(self, "linear_")
        Q = encode(self._validate_query(X), self.encoding)
        w = self.weight_
        mg, sg = self.gp_._predict_encoded(Q, return_std=True)
        ml, sl = self.linear_.predict((Q - self.x_mean_) / self.x_scale_, return_std=True)
        mean = w * mg + (1.0 - w) * ml
        if not return_std:
            return mean
        # BayesianRidge's std includes its noise term; keep only the parameter part, as for the GP
        sl2 = np.maximum(sl * sl - 1.0 / self.linear_.alpha_, 0.0)
        var = w * sg * sg + (1.0 - w) * sl2 + w * (1.0 - w) * (mg - ml) ** 2
        return mean, np.sqrt(var)
