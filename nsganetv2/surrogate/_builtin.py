"""Registers the built-in surrogates under the original's names (imported by the package)."""
from __future__ import annotations

from .cart import CART
from .gp import GP
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
)

for _spec in BUILTIN:
    register_surrogate(_spec, replace=True)
