"""Multi-objective core: numpy in, numpy out, over compiled kernels (all objectives minimised).

The public functions are imported lazily, so ``import nsganetv2.moo.decision`` does not load every kernel.
"""
from importlib import import_module

_PUBLIC = {
    "non_dominated_sort": "sorting",
    "fronts": "sorting",
    "pareto_mask": "sorting",
    "hypervolume": "hypervolume",
    "crowding_distance": "crowding",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(f"nsganetv2.moo.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'nsganetv2.moo' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
