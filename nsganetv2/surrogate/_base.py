"""What every surrogate of ours shares: boundary validation, sample requirements, tags, a fitted description."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from ._validation import validate_query, validate_training_data


class SurrogateMixin:
    """Mix-in for the surrogate regressors (place it before ``RegressorMixin, BaseEstimator``).

    Subclasses set ``label`` (the name recorded in search statistics) and override ``min_samples`` and
    ``_describe_model`` when they need more than two samples.
    """

    label: str = "surrogate"

    def min_samples(self, n_features: int) -> int:
        """Fewest training samples ``fit`` accepts for ``n_features`` features with these parameters."""
        return 2

    def _describe_model(self) -> str:
        return type(self).__name__

    def _standardise(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Set ``x_mean_``, ``x_scale_``, ``y_mean_``, ``y_scale_`` (sample std; 1 where it is 0) and return the
        standardised ``X`` and ``y``."""
        self.x_mean_ = X.mean(0)
        sx = X.std(0, ddof=1) if X.shape[0] > 1 else np.ones(X.shape[1])
        self.x_scale_ = np.where(sx > 0, sx, 1.0)
        self.y_mean_ = float(y.mean())
        sy = float(y.std(ddof=1)) if len(y) > 1 else 0.0
        self.y_scale_ = sy if sy > 0 else 1.0
        return (X - self.x_mean_) / self.x_scale_, (y - self.y_mean_) / self.y_scale_

    def _validate_fit(self, X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        return validate_training_data(self, X, y)

    def _validate_query(self, X: ArrayLike) -> np.ndarray:
        return validate_query(self, X)

    def describe_fitted(self) -> dict[str, str]:
        """``{"name": label, "winner": label}`` (adaptive switching names the candidate it chose as winner)."""
        check_is_fitted(self)
        return {"name": self.label, "winner": self.label}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False
        return tags
