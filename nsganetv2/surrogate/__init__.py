"""Accuracy surrogates as scikit-learn estimators, with compiled inference.

``RBF`` (cubic, linear tail), ``GP`` (Kriging), ``CART`` (random-subspace tree ensemble), ``MLP`` (torch) and
``AdaptiveSwitching``, registered by the original's names with their capabilities (``registry``), and two
with a predictive std (``predict(X, return_std=True)``): ``GPARD`` (``gp-ard``, group length-scales, fitted
noise) and ``GPLinearEnsemble`` (``ensemble``, GPARD + Bayesian linear). Both take raw OFA MobileNetV3
genomes with ``encoding="ofa-mbv3"`` (``encoding.py``). Registry helpers:
``make_surrogate(name)``, ``get_surrogate(name)``, ``surrogate_names()``, ``describe_fitted(model)``.
``metrics`` gives RMSE, Spearman's rho and an O(n log n) Kendall tau.
"""
from . import _builtin  # noqa: F401  (registers the built-in surrogates)
from .cart import CART
from .ensemble import GPLinearEnsemble
from .gp import GP
from .gp_ard import GPARD
from .metrics import correlation, kendall_tau, rmse, spearman_rho
from .mlp import MLP
from .rbf import RBF
from .registry import (
    SurrogateSpec,
    describe_fitted,
    get_surrogate,
    make_surrogate,
    register_surrogate,
    spec_of,
    surrogate_names,
)
from .switching import AdaptiveSwitching

#: name or alias -> estimator class of the built-in surrogates (kept for compatibility; prefer ``get_surrogate``)
SURROGATES = {name: get_surrogate(name).factory for name in surrogate_names()}

__all__ = [
    "CART",
    "GP",
    "GPARD",
    "MLP",
    "RBF",
    "SURROGATES",
    "AdaptiveSwitching",
    "GPLinearEnsemble",
    "SurrogateSpec",
    "correlation",
    "describe_fitted",
    "get_surrogate",
    "kendall_tau",
    "make_surrogate",
    "register_surrogate",
    "rmse",
    "spearman_rho",
    "spec_of",
    "surrogate_names",
]
