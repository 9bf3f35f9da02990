"""Registers the built-in surrogates under the original's names (imported by the package)."""
from __future__ import annotations

from .cart import CART
from .ensemble import GPLinearEnsemble
from .gp import GP
from .gp_ard import GPARD
from .mlp import MLP
from .rbf import RBF
from .registry import SurrogateSpec, register_surrogate
from .switching import AdaptiveSwitching

BUILTIN = (
    SurrogateSpec("rbf", RBF),
    SurrogateSpec("gp", GP),
    SurrogateSpec("carts", CART, aliases=("cart",)),
    SurrogateSpec("mlp", MLP, uses_torch=True),
    # its candidates may include the MLP, and it is the original's choice when the pool is left open
    SurrogateSpec("as", AdaptiveSwitching, aliases=("adaptive_switching",), uses_torch=True),
    # not in the original: with predict(X, return_std=True) for infill criteria
    SurrogateSpec("gp-ard", GPARD, aliases=("gp_ard",)),
    SurrogateSpec("ensemble", GPLinearEnsemble, aliases=("gp-ard+linear",)),
)

for _spec in BUILTIN:
    register_surrogate(_spec, replace=True)
