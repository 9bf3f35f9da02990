"""The multi-objective kernels and surrogates the loop uses (ours, compiled)."""
from __future__ import annotations

from typing import Any

import numpy as np

# submodules imported directly: ``nsganetv2.moo.hypervolume`` names both a module and a function
from nsganetv2.moo.hypervolume import hypervolume as _hypervolume
from nsganetv2.moo.pymoo_plugins import RankAndCrowdingSurvival  # noqa: F401  (re-exported)
from nsganetv2.moo.sorting import non_dominated_sort, pareto_mask  # noqa: F401  (re-exported)


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of ``F`` w.r.t. ``ref``; points not strictly better than ``ref`` everywhere add nothing."""
    F = np.asarray(F, dtype=float).reshape(-1, len(ref))
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    return float(_hypervolume(F, ref))


def make_surrogate(name: str, random_state: int | None = None, **kw: Any) -> Any:
    """A new surrogate by name (imported lazily: the surrogate package loads torch)."""
    from nsganetv2.surrogate import make_surrogate as _make

    return _make(name, random_state=random_state, **kw)


def correlation(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """rmse, Spearman rho, Kendall tau of predictions."""
    from nsganetv2.surrogate.metrics import correlation as _corr

    return _corr(y_true, y_pred)
