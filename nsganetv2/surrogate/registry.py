"""Surrogates by name, each with its declared capabilities.

A ``SurrogateSpec`` says how to build a surrogate and what a caller must know before fitting it: whether it
draws on torch's random generator (``uses_torch``: seed torch first) and how many samples it needs for a
given number of features and constructor parameters (``min_samples``). The built-in surrogates (``rbf``,
``gp``, ``carts``, ``mlp``, ``as``) are registered when ``nsganetv2.surrogate`` is imported; this module
imports none of them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator

from ._base import SurrogateMixin

__all__ = [
    "SurrogateSpec",
    "describe_fitted",
    "get_surrogate",
    "make_surrogate",
    "register_surrogate",
    "spec_of",
    "surrogate_names",
]


def _min_samples_of_instance(spec: SurrogateSpec, n_features: int, params: Mapping[str, Any] | None) -> int:
    model = spec.factory(**dict(params or {}))
    return int(model.min_samples(n_features)) if isinstance(model, SurrogateMixin) else 1


@dataclass(frozen=True)
class SurrogateSpec:
    """A registered surrogate.

    ``name``: canonical lower-case name; ``factory(**params)``: a new unfitted estimator (usually the class);
    ``aliases``: other accepted names; ``uses_torch``: fitting may draw on torch's global random state, so
    seed torch first for reproducible fits; ``min_samples(n_features, params)``: fewest training samples
    ``fit`` accepts with these constructor ``params`` (left out: asked of ``factory(**params).min_samples``);
    ``label``: the name recorded in search statistics (left out: the factory's ``label``, else ``name``).
    """

    name: str
    factory: Callable[..., BaseEstimator]
    aliases: tuple[str, ...] = ()
    uses_torch: bool = False
    min_samples: Callable[[int, Mapping[str, Any]], int] = None  # type: ignore[assignment]  # filled in below
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.lower())
        object.__setattr__(self, "aliases", tuple(a.lower() for a in self.aliases))
        if not self.label:
            object.__setattr__(self, "label", str(getattr(self.factory, "label", self.name)))
        if self.min_samples is None:
            object.__setattr__(self, "min_samples", lambda d, params=None: _min_samples_of_instance(self, d, params))

    def make(self, **params: Any) -> BaseEstimator:
        """A new, unfitted estimator."""
        return self.factory(**params)


_SPECS: dict[str, SurrogateSpec] = {}
_LOOKUP: dict[str, str] = {}  # name or alias -> canonical name


def register_surrogate(spec: SurrogateSpec, replace: bool = False) -> SurrogateSpec:
    """Add ``spec`` to the registry; a name or alias already taken is a ``ValueError`` unless ``replace``."""
    keys = (spec.name, *spec.aliases)
    if len(set(keys)) != len(keys):
        raise ValueError(f"surrogate {spec.name!r} lists a name twice among {keys}")
    taken = {k: _LOOKUP[k] for k in keys if k in _LOOKUP and not (replace and _LOOKUP[k] == spec.name)}
    if taken:
        raise ValueError(f"surrogate name(s) {sorted(taken)} already registered (for {sorted(set(taken.values()))});"
                         " choose another name or pass replace=True")
    if spec.name in _SPECS:
        old = _SPECS.pop(spec.name)
        for k in (old.name, *old.aliases):
            _LOOKUP.pop(k, None)
    _SPECS[spec.name] = spec
    for k in keys:
        _LOOKUP[k] = spec.name
    return spec


def get_surrogate(name: str) -> SurrogateSpec:
    """The spec registered under ``name`` or one of its aliases (case-insensitive)."""
    key = str(name).lower()
    if key not in _LOOKUP:
        raise ValueError(f"unknown surrogate {name!r}; choose one of {surrogate_names()}")
    return _SPECS[_LOOKUP[key]]


def surrogate_names() -> list[str]:
    """Every accepted name, aliases included: each canonical name followed by its aliases, in registration order."""
    return [k for spec in _SPECS.values() for k in (spec.name, *spec.aliases)]


def make_surrogate(name: str, **kwargs: Any) -> BaseEstimator:
    """A new, unfitted surrogate by name (case-insensitive); ``kwargs`` go to its constructor."""
    return get_surrogate(name).make(**kwargs)


def spec_of(model: Any) -> SurrogateSpec | None:
    """The spec whose factory is ``model``'s class, or ``None`` for an estimator that is not registered."""
    for spec in _SPECS.values():
        if isinstance(spec.factory, type) and type(model) is spec.factory:
            return spec
    return None


def describe_fitted(model: Any) -> dict[str, str]:
    """``{"name", "winner"}`` of a fitted surrogate (adaptive switching names the model it chose).

    Ours describe themselves; a foreign estimator is described by its registered label, else its class name.
    """
    if isinstance(model, SurrogateMixin):
        return model.describe_fitted()
    spec = spec_of(model)
    name = spec.label if spec is not None else type(model).__name__
    return {"name": name, "winner": name}
