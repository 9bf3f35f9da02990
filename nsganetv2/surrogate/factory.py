"""Surrogates by the original's names: ``rbf``, ``gp``, ``carts``, ``mlp``, ``as``."""
from __future__ import annotations

from sklearn.base import BaseEstimator

from .cart import CART
from .gp import GP
from .mlp import MLP
from .rbf import RBF
from .switching import AdaptiveSwitching

SURROGATES = {"rbf": RBF, "gp": GP, "carts": CART, "cart": CART, "mlp": MLP, "as": AdaptiveSwitching,
              "adaptive_switching": AdaptiveSwitching}


def make_surrogate(name: str, **kwargs) -> BaseEstimator:
    """A new, unfitted surrogate by name (case-insensitive); ``kwargs`` go to its constructor."""
    key = str(name).lower()
    if key not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; choose one of {sorted(set(SURROGATES))}")
    return SURROGATES[key](**kwargs)


def surrogate_names() -> list[str]:
    """Every name ``make_surrogate`` accepts (aliases included)."""
    return list(SURROGATES)
