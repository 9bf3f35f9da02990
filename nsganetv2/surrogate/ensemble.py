"""An equal-weight ensemble of the group-ARD Gaussian process and a Bayesian linear model, with a predictive std."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import BayesianRidge
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from .encoding import check_encoding, encode
from .gp_ard import GPARD


class GPLinearEnsemble(SurrogateMixin, RegressorMixin, BaseEstimator):
    """Mean of a ``GPARD`` and a ``BayesianRidge`` on standardised (encoded) inputs.

    On real NAS archives the Gaussian process captures the non-linear part (resolution, interactions) and the
    linear model the additive trend that 100 samples support; their mean ranks held-out networks better than
    either. ``encoding`` is passed to both (``"ofa-mbv3"``: raw 46-gene genomes, see ``encoding.py``);
    ``gp_params`` go to ``GPARD``. ``predict(X, return_std=True)`` returns the mixture's standard deviation:
    ``sqrt(mean of the members' variances + variance of their means)`` (the GP's latent std, the linear
    model's parameter std, and the members' disagreement).
    """

    label = "ensemble"

    def __init__(self, encoding: str = "plain", gp_params: Mapping[str, Any] | None = None,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.encoding = encoding
        self.gp_params = gp_params
        self.random_state = random_state

    def min_samples(self, n_features: int) -> int:
        """3, whatever the number of features."""
        return 3

    def _describe_model(self) -> str:
        return f"GPLinearEnsemble ({self.encoding} inputs)"

    def fit(self, X: ArrayLike, y: ArrayLike) -> GPLinearEnsemble:
        """Fit both members on all rows."""
        X, y = self._validate_fit(X, y)
        check_encoding(self.encoding, X.shape[1])
        params = dict(self.gp_params or {})
        params.setdefault("random_state", self.random_state)
        self.gp_ = GPARD(encoding=self.encoding, **params).fit(X, y)
        E = encode(X, self.encoding)
        self.x_mean_ = E.mean(0)
        sx = E.std(0)
        self.x_scale_ = np.where(sx > 0, sx, 1.0)
        self.linear_ = BayesianRidge().fit((E - self.x_mean_) / self.x_scale_, y)
        return self

    def predict(self, X: ArrayLike, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Mean of the members' predictions, shape (n,); with ``return_std`` also the mixture's std."""
        check_is_fitted(self, "linear_")
        Q = self._validate_query(X)
        mg, sg = self.gp_.predict(Q, return_std=True)
        E = (encode(Q, self.encoding) - self.x_mean_) / self.x_scale_
        ml, sl = self.linear_.predict(E, return_std=True)
        mean = 0.5 * (mg + ml)
        if not return_std:
            return mean
        # BayesianRidge's std includes its noise term; keep only the parameter part, as for the GP
        sl2 = np.maximum(sl * sl - 1.0 / self.linear_.alpha_, 0.0)
        var = 0.5 * (sg * sg + sl2) + 0.25 * (mg - ml) ** 2
        return mean, np.sqrt(var)
