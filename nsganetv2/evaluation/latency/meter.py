"""Measured latency of whole subnets, cached by canonical config (in memory and optionally in a JSON file)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Mapping, Optional, Union

import torch.nn as nn

from ...atomic import atomic_write
from ...space.arch import Arch
from .measure import STATISTICS, LatencyStats, measure_onnx, measure_torch, torch_threads
from .ofa_table import OFALatencyTable, load_latency_table
from .table import LatencyTable

__all__ = ["LatencyMeter", "cpu_latency_fn"]

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "torch")


class LatencyMeter:
    """Measure subnets end to end; each distinct config is measured once.

    ``build_fn(config) -> nn.Module`` builds the static subnet (e.g. ``supernet.extract``). The network is timed
    at ``config["r"]`` (else ``resolution``) exported to ONNX (``backend="onnx"``: ONNX Runtime, or ``runtime=
    "openvino"`` in ``precision`` fp32 / bf16) or with torch eager. Results are
    kept in memory and, with ``cache_path``, in a JSON file written atomically after each new measurement;
    a file made with other settings is refused.
    """

    def __init__(self, build_fn: Callable[[Mapping[str, Any]], nn.Module], *, backend: str = "onnx",
                 threads: int = 1, batch_size: int = 1, warmup: int = 10, runs: int = 50,
                 statistic: str = "median", clock: str = "auto", resolution: Optional[int] = None,
                 cache_path: Union[str, os.PathLike, None] = None, tag: str = "", runtime: str = "onnxruntime",
                 precision: str = "fp32") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown latency backend {backend!r}; use one of {BACKENDS}")
        if statistic not in STATISTICS:
            raise ValueError(f"unknown latency statistic {statistic!r}; use one of {STATISTICS}")
        if not callable(build_fn):
            raise ValueError("build_fn must be callable: config -> nn.Module (e.g. supernet.extract)")
        self.build_fn = build_fn
        self.backend, self.threads, self.batch_size = backend, int(threads), int(batch_size)
        self.warmup, self.runs, self.statistic, self.clock = int(warmup), int(runs), statistic, clock
        self.resolution = resolution
        self.tag = tag
        if backend != "onnx" and (runtime, precision) != ("onnxruntime", "fp32"):
            raise ValueError("runtime and precision apply to backend='onnx' (the exported network) only")
        self.runtime, self.precision = runtime, precision
        self.cache_path = None if cache_path is None else os.fspath(cache_path)
        self.results: dict[str, LatencyStats] = {}
        self.n_measured = 0
        if self.cache_path is not None and os.path.exists(self.cache_path):
            self._load()

    @property
    def settings(self) -> dict:
        out = {"backend": self.backend, "threads": self.threads, "batch_size": self.batch_size,
               "warmup": self.warmup, "runs": self.runs, "clock": self.clock, "tag": self.tag}
        if (self.runtime, self.precision) != ("onnxruntime", "fp32"):  # caches from before runtimes stay valid
            out.update(runtime=self.runtime, precision=self.precision)
        return out

    def _load(self) -> None:
        try:
            with open(self.cache_path) as f:
                data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"latency cache {self.cache_path!r} is not valid JSON ({exc}): delete it") from exc
        if data.get("settings") != self.settings:
            raise ValueError(f"latency cache {self.cache_path!r} was made with settings {data.get('settings')} "
                             f"but this meter uses {self.settings}: use another cache file")
        self.results = {k: LatencyStats.from_dict(v) for k, v in data.get("results", {}).items()}

    def _save(self) -> None:
        data = {"settings": self.settings, "results": {k: v.to_dict() for k, v in self.results.items()}}
        atomic_write(self.cache_path, json.dumps(data))

    def __contains__(self, config: Mapping[str, Any]) -> bool:
        return Arch.from_config(config, resolution=self._resolution(config)).key in self.results

    def __len__(self) -> int:
        return len(self.results)

    def _resolution(self, config: Mapping[str, Any]) -> int:
        r = config.get("r", None) if isinstance(config, Mapping) else None
        r = self.resolution if r is None else r
        if r is None:
            raise ValueError("config has no resolution 'r' and the meter has no default resolution")
        return int(r)

    def measure(self, config: Mapping[str, Any]) -> LatencyStats:
        """Stats of subnet ``config`` (measured once, then served from the cache)."""
        r = self._resolution(config)
        key = Arch.from_config(config, resolution=r).key
        hit = self.results.get(key)
        if hit is not None:
            return hit
        net = self.build_fn(config)
        kwargs = dict(batch_size=self.batch_size, threads=self.threads, warmup=self.warmup, runs=self.runs,
                      clock=self.clock)
        if self.backend == "onnx":
            with torch_threads(1):
                stats = measure_onnx(net, r, runtime=self.runtime, precision=self.precision, **kwargs)
        else:
            stats = measure_torch(net, r, **kwargs)
        self.n_measured += 1
        self.results[key] = stats
        log.debug("latency %s: %.3f ms", key, stats.value(self.statistic))
        if self.cache_path is not None:
            self._save()
        return stats

    def __call__(self, config: Mapping[str, Any]) -> float:
        """Latency in ms (the meter's statistic, median by default)."""
        return self.measure(config).value(self.statistic)


def cpu_latency_fn(table: Union[LatencyTable, OFALatencyTable, str, os.PathLike, None] = None,
                   meter: Optional[LatencyMeter] = None, *, width_mult: Optional[float] = None,
                   n_classes: Optional[int] = None) -> Callable[[Mapping[str, Any]], float]:
    """The ``cpu`` objective (ms): the look-up table when given, else end-to-end measurement with ``meter``.

    ``width_mult`` / ``n_classes`` select the table's entries (default: the table's, 1.0 / 1000 when loaded).
    """
    if table is not None:
        lut = table if hasattr(table, "predict") else load_latency_table(table)

        def predict(config: Mapping[str, Any]) -> float:
            return lut.predict(config, width_mult=width_mult, n_classes=n_classes)

        return predict
    if meter is None:
        raise ValueError("the cpu objective needs a latency table (path) or a LatencyMeter to measure with")
    return meter
