"""Adaptive switching: pick the surrogate with the best cross-validated Kendall tau, then refit it."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import SurrogateMixin
from .metrics import kendall_tau
from .registry import get_surrogate

log = logging.getLogger(__name__)


class AdaptiveSwitching(SurrogateMixin, RegressorMixin, BaseEstimator):
    """Choose among ``models`` by ``n_fold`` cross-validation, maximising ``mean(tau) - std(tau)``.

    ``models`` holds surrogate names (``"rbf"``, ``"gp"``, ``"carts"``, ``"mlp"``) or estimator instances;
    ``model_params`` maps a name to keyword arguments for it (e.g. ``{"carts": {"n_trees": 500}}``). Folds
    come from ``np.array_split`` of a random permutation, as in the original. A fold whose tau is undefined
    (constant predictions) scores 0. The winner is refitted on all data; ``winner_`` names it and
    ``scores_`` holds every candidate's per-fold taus. It needs enough samples that every fold's training
    part satisfies every candidate (``min_samples``).
    """

    name = "adaptive switching"
    label = "adaptive switching"

    def __init__(self, models: Sequence[str | BaseEstimator] = ("rbf", "gp", "carts"), n_fold: int = 10,
                 model_params: Mapping[str, Mapping[str, Any]] | None = None,
                 random_state: int | np.random.RandomState | None = None) -> None:
        self.models = models
        self.n_fold = n_fold
        self.model_params = model_params
        self.random_state = random_state

    def _candidates(self) -> list[tuple[str, BaseEstimator]]:
        if len(self.models) == 0:
            raise ValueError("models is empty; give at least one surrogate name or estimator")
        params = self.model_params or {}
        out = []
        for m in self.models:
            if isinstance(m, str):
                spec = get_surrogate(m)
                if spec.factory is AdaptiveSwitching:
                    raise ValueError(f"adaptive switching cannot contain itself; remove {m!r} from models")
                out.append((m, spec.make(**params.get(m, {}))))
            else:
                out.append((type(m).__name__, m))
        return out

    def _n_fold(self) -> int:
        k = int(self.n_fold)
        if k < 2:
            raise ValueError(f"n_fold must be >= 2, got {self.n_fold}")
        return k

    def min_samples(self, n_features: int) -> int:
        """Enough for ``n_fold`` folds whose every training part (``n - ceil(n / n_fold)`` rows) satisfies the
        most demanding candidate."""
        k = self._n_fold()
        need = max(est.min_samples(n_features) if isinstance(est, SurrogateMixin) else 1
                   for _, est in self._candidates())
        return max(k, -(-need * k // (k - 1)))

    def _describe_model(self) -> str:
        return f"AdaptiveSwitching with {self._n_fold()} folds over {[n for n, _ in self._candidates()]}"

    def describe_fitted(self) -> dict[str, str]:
        """``{"name": "adaptive switching", "winner": the chosen candidate's name}``."""
        check_is_fitted(self, "winner_")
        return {"name": self.label, "winner": str(self.winner_)}

    def fit(self, X: ArrayLike, y: ArrayLike) -> AdaptiveSwitching:
        """Cross-validate every candidate, then refit the winner on all of ``(X, y)``."""
        k = self._n_fold()
        X, y = self._validate_fit(X, y)
        rng = check_random_state(self.random_state)
        folds = np.array_split(rng.permutation(X.shape[0]), k)
        cands = self._candidates()
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(cands))
        scores = {}
        for (name, est), seed in zip(cands, seeds):
            taus = []
            for i, test in enumerate(folds):
                train = np.concatenate([f for j, f in enumerate(folds) if j != i])
                model = clone(est)
                if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
                    model.set_params(random_state=int(seed))
                model.fit(X[train], y[train])
                tau = kendall_tau(y[test], model.predict(X[test])) if test.size > 1 else np.nan
                taus.append(0.0 if np.isnan(tau) else tau)
            scores[name] = np.array(taus)
        score = {name: float(t.mean() - t.std()) for name, t in scores.items()}
        best = max(range(len(cands)), key=lambda i: score[cands[i][0]])
        name, est = cands[best]
        log.info("adaptive switching: %s", ", ".join(f"{n}={s:.4f}" for n, s in score.items()))
        model = clone(est)
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=int(seeds[best]))
        self.estimator_ = model.fit(X, y)
        self.winner_ = name
        self.scores_ = scores
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predictions of the refitted winner, shape (n,)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(self._validate_query(X))
