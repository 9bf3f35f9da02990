"""Accuracy surrogates as scikit-learn estimators, with compiled inference.

``RBF`` (cubic, linear tail), ``GP`` (Kriging), ``CART`` (random-subspace tree ensemble), ``MLP`` (torch) and
``AdaptiveSwitching``; ``make_surrogate(name)`` builds them by the original's names. ``metrics`` gives RMSE,
Spearman's rho and an O(n log n) Kendall tau.
"""
from .cart import CART
from .factory import SURROGATES, make_surrogate, surrogate_names
from .gp import GP
from .metrics import correlation, kendall_tau, rmse, spearman_rho
from .mlp import MLP
from .rbf import RBF
from .switching import AdaptiveSwitching

__all__ = ["RBF", "GP", "CART", "MLP", "AdaptiveSwitching", "make_surrogate", "SURROGATES", "surrogate_names", "rmse",
           "spearman_rho", "kendall_tau", "correlation"]
