"""The objectives of a NAS search, registered once: name, unit, plot label, help, and how a cheap one is computed.

Everything that lists, checks, computes or labels objectives reads this registry: the CLI's choices, the NAS
problem, the reports. Adding an objective is one :func:`register_objective` call. All objectives are minimised;
``top1`` is the top-1 error in % (files of the original keep accuracy where they did).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Objective", "column_name", "cheap_objective_names", "get_objective", "objective_names", "objectives_from_flags",
           "register_objective"]

ConfigFn = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Objective:
    """One objective. ``build(**context)`` returns ``fn(config) -> value`` for a cheap objective, where ``context``
    holds ``n_classes``, ``width_mult``, ``flops_counter`` (``"ofa"`` or ``"original"``, see
    ``evaluation.complexity``), ``cpu_fn`` (a latency table or meter), ``gpu_fn`` (a CUDA latency meter) and
    ``lut_fn`` (a look-up table of any target device);
    ``None`` for an expensive one."""

    name: str
    unit: str
    label: str
    help: str
    build: Callable[..., ConfigFn] | None = None
    column: str = ""  # the column header in tables we write (default: the name); says "err" where it is an error

    @property
    def expensive(self) -> bool:
        return self.build is None


def column_name(name: str) -> str:
    """The table column of an objective (``top1`` -> ``top1_err``: it holds the error); unknown names unchanged."""
    objective = _REGISTRY.get(name)
    return (objective.column or objective.name) if objective is not None else name


_REGISTRY: dict[str, Objective] = {}


def register_objective(objective: Objective) -> Objective:
    """Add an objective (its name must be new)."""
    if objective.name in _REGISTRY:
        raise ValueError(f"objective {objective.name!r} is already registered")
    _REGISTRY[objective.name] = objective
    return objective


def get_objective(name: str) -> Objective:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; choose from {objective_names()}") from None


def objective_names() -> list[str]:
    return list(_REGISTRY)


def cheap_objective_names() -> list[str]:
    """The objectives that may follow ``top1`` (computed exactly from the architecture)."""
    return [n for n, o in _REGISTRY.items() if not o.expensive]


def objectives_from_flags(sec_obj: str | None = None, objectives: str | Iterable[str] | None = None
                          ) -> tuple[str, ...]:
    """The objective tuple from the original ``--sec_obj`` or our ``--objectives top1,flops,cpu``, checked."""
    if objectives:
        objs = [o.strip() for o in (objectives.split(",") if isinstance(objectives, str) else objectives) if o.strip()]
        if objs and objs[0] != "top1":
            objs = ["top1"] + [o for o in objs if o != "top1"]
    else:
        objs = ["top1", sec_obj or "flops"]
    cheap = cheap_objective_names()
    bad = [o for o in objs[1:] if o not in cheap]
    if len(objs) < 2 or bad or len(set(objs)) != len(objs):
        raise ValueError(f"objectives must be top1 followed by one or more of {cheap} (no repeats), got {objs}")
    return tuple(objs)


def _flops(n_classes: int = 1000, width_mult: float = 1.0, flops_counter: str = "ofa", **_: Any) -> ConfigFn:
    from nsganetv2.evaluation.complexity import count_flops

    return lambda config: count_flops(config, n_classes=n_classes, width_mult=width_mult,
                                      counter=flops_counter) / 1e6


def _params(n_classes: int = 1000, width_mult: float = 1.0, **_: Any) -> ConfigFn:
    from nsganetv2.evaluation.complexity import count_params

    return lambda config: count_params(config, n_classes=n_classes, width_mult=width_mult) / 1e6


def _cpu(cpu_fn: ConfigFn | None = None, **_: Any) -> ConfigFn:
    if cpu_fn is None:
        raise ValueError("the 'cpu' objective needs cpu_fn(config) -> milliseconds (a latency table or a meter)")
    return cpu_fn


register_objective(Objective("top1", "%", "top-1 error (%)", "top-1 error on the held-out split (expensive)",
                             column="top1_err"))
register_objective(Objective("flops", "M", "FLOPs (M)", "multiply-accumulates for one image, millions", _flops))
register_objective(Objective("params", "M", "params (M)", "trainable parameters, millions", _params))
register_objective(Objective("cpu", "ms", "CPU latency (ms)",
                             "CPU latency: a look-up table (--lut) or ONNX Runtime timing", _cpu))


def _gpu(gpu_fn: ConfigFn | None = None, **_: Any) -> ConfigFn:
    if gpu_fn is None:
        raise ValueError("the 'gpu' objective needs gpu_fn(config) -> milliseconds (a CUDA latency meter)")
    return gpu_fn


register_objective(Objective("gpu", "ms", "GPU latency (ms)",
                             "GPU latency: torch timing of each subnet on this machine's CUDA GPU, batch 64", _gpu))


def _latency(lut_fn: ConfigFn | None = None, **_: Any) -> ConfigFn:
    if lut_fn is None:
        raise ValueError("the 'latency' objective reads a look-up table of the target device: pass --lut (a table "
                         "built by `nsganetv2 latency build-lut`, or OFA's per-resolution tables, e.g. its Note10 ones)")
    return lut_fn


register_objective(Objective("latency", "ms", "latency (ms)",
                             "latency on the target device of a look-up table (--lut), e.g. OFA's Note10 tables",
                             _latency))
