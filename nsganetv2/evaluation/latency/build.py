"""Build a latency look-up table for this machine: time every layer the search space can produce.

Each entry is one layer, built from the supernet's static layer classes with random weights, exported to ONNX
(legacy exporter, in memory) and timed alone with ONNX Runtime (batch 1 by default, pinned threads, thread CPU
time at one thread). Layers are handled in chunks: export all, then time the chunk in a few interleaved passes,
each in a fresh ONNX Runtime session, and keep each layer's best pass, so that a burst of load from other
processes, or an unlucky session, spoils one pass, not the entry.
The table is written atomically after each chunk (also when interrupted); a re-run skips the keys in the file.
The calibration's whole-subnet timings are kept as they are measured in ``<table>.calibration.json`` (atomic), so a
re-run after a kill times only the subnets and passes still missing; the file is removed once the table is scaled.

Size: per width, the distinct keys are the first block and, per stage, 9 (k x e) keys for layer 0 and 9 for
layers 1..3 at each distinct feature size, plus the fixed parts (first_conv per resolution, final_expand_layer
per final feature size, feature_mix_layer, classifier). The NSGANetV2 space (r = 192..256 step 4, k 3/5/7,
e 3/4/6, d 2/3/4) gives 867 keys at w1.0 (also 867 at w1.2); one resolution gives 95; r in {128, 144, 160}
gives 271. Most of the cost per key is the ONNX export; the README's latency section has measured build times.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ...atomic import write_json_atomic
from ...supernet.layers import ConvLayer, IdentityLayer, LinearLayer, MBConvLayer, ResidualBlock
from ...supernet.ofa_mbv3 import ACT_STAGES, SE_STAGES, STRIDE_STAGES
from .measure import (LatencyStats, _clock, _time_session, export_onnx, make_session, measure_onnx, runtime_record,
                      time_model, torch_threads)
from .table import LatencyTable, LayerSpec, _fixed_specs, _half, _mbconv, _widths

__all__ = ["space_lists", "lut_specs", "count_lut_keys", "build_layer", "measure_layer", "calibrate_lut", "build_lut",
           "calibration_path", "check_same_runtime", "table_runtime"]

log = logging.getLogger(__name__)

DEFAULT_RESOLUTIONS = tuple(range(192, 257, 4))


class _GlobalPool(nn.Module):
    """final_expand_layer then the network's global average pool (the original times them together)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x).mean(3, keepdim=True).mean(2, keepdim=True)


class _Flatten(nn.Module):
    """feature_mix_layer then the network's flatten."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer(x)
        return x.view(x.size(0), -1)


def _first(obj: Any, names: Sequence[str], default: Any) -> Any:
    for name in names:
        if obj is not None and hasattr(obj, name):
            value = getattr(obj, name)
            if value is not None:
                return value
    return default


def space_lists(space: Any = None, resolutions: Optional[Iterable[int]] = None,
                ks_list: Optional[Iterable[int]] = None, expand_list: Optional[Iterable[float]] = None,
                depth_list: Optional[Iterable[int]] = None) -> tuple[list[int], list[int], list[float], list[int]]:
    """(resolutions, kernels, expand ratios, depths): explicit lists win, then the space's, then the defaults."""
    res = resolutions if resolutions is not None else _first(space, ("resolutions", "resolution", "r_list"),
                                                             DEFAULT_RESOLUTIONS)
    ks = ks_list if ks_list is not None else _first(space, ("ks_list", "kernel_size", "kernel_sizes"), (3, 5, 7))
    ex = expand_list if expand_list is not None else _first(space, ("expand_ratio_list", "exp_ratio", "e_list",
                                                                    "expand_ratios"), (3, 4, 6))
    de = depth_list if depth_list is not None else _first(space, ("depth_list", "depth", "depths"), (2, 3, 4))
    out = []
    for name, vals in (("resolutions", res), ("ks_list", ks), ("expand_list", ex), ("depth_list", de)):
        vals = sorted(set(vals if isinstance(vals, Iterable) else [vals]))
        if not vals:
            raise ValueError(f"{name} is empty: give at least one value")
        out.append(vals)
    if min(out[3]) < 1:
        raise ValueError(f"depth_list values must be >= 1, got {out[3]}")
    return out[0], out[1], out[2], out[3]


def lut_specs(resolutions: Iterable[int], ks_list: Iterable[int] = (3, 5, 7),
              expand_list: Iterable[float] = (3, 4, 6), depth_list: Iterable[int] = (2, 3, 4),
              width_mult: float = 1.0, n_classes: int = 1000) -> dict[str, LayerSpec]:
    """Every distinct table entry the space can produce, key -> spec, in a deterministic order."""
    widths = _widths(float(width_mult))
    max_depth = max(depth_list)
    specs: dict[str, LayerSpec] = {}
    for r in sorted(set(int(v) for v in resolutions)):
        for spec in _fixed_specs(r, widths, widths[6], int(n_classes)):
            specs.setdefault(spec.key, spec)
        fsize = _half(r)
        stem, cin = widths[0], widths[1]
        spec = _mbconv(fsize, stem, cin, 1, 3, STRIDE_STAGES[0], bool(stem == cin), SE_STAGES[0], ACT_STAGES[0])
        specs.setdefault(spec.key, spec)
        fsize = spec.output[0]
        for stage in range(5):
            cout = widths[2 + stage]
            for j in range(max_depth):
                stride = STRIDE_STAGES[1 + stage] if j == 0 else 1
                for k in sorted(set(ks_list)):
                    for e in sorted(set(expand_list)):
                        spec = _mbconv(fsize, cin, cout, e, k, stride, bool(stride == 1 and cin == cout),
                                       SE_STAGES[1 + stage], ACT_STAGES[1 + stage])
                        specs.setdefault(spec.key, spec)
                fsize, cin = spec.output[0], cout
    return specs


def count_lut_keys(space: Any = None, width_mult: float = 1.0, n_classes: int = 1000, **lists: Any) -> int:
    """Number of entries :func:`build_lut` would measure for this space (same arguments)."""
    res, ks, ex, de = space_lists(space, **lists)
    return len(lut_specs(res, ks, ex, de, width_mult, n_classes))


def build_layer(spec: LayerSpec) -> tuple[nn.Module, tuple[int, ...]]:
    """The module timed for ``spec`` (static supernet layers, random weights) and its input shape (C, H, W)."""
    if spec.ltype == "MBConv":
        cin, cout = spec.input[2], spec.output[2]
        conv = MBConvLayer(cin, cout, spec.kernel, spec.stride, spec.expand,
                           mid_channels=None if spec.expand == 1 else spec.mid, act_func=spec.act,
                           use_se=bool(spec.se))
        module: nn.Module = ResidualBlock(conv, IdentityLayer(cin, cin) if spec.idskip else None)
        shape = (cin, spec.input[0], spec.input[1])
    elif spec.ltype == "first_conv":
        module = ConvLayer(3, spec.output[2], kernel_size=3, stride=2, act_func="h_swish")
        shape = (3, spec.input[0], spec.input[1])
    elif spec.ltype == "final_expand_layer":
        module = _GlobalPool(ConvLayer(spec.input[2], spec.output[2], kernel_size=1, act_func="h_swish"))
        shape = (spec.input[2], spec.input[0], spec.input[1])
    elif spec.ltype == "feature_mix_layer":
        module = _Flatten(ConvLayer(spec.input[2], spec.output[2], kernel_size=1, bias=False, use_bn=False,
                                    act_func="h_swish"))
        shape = (spec.input[2], 1, 1)
    elif spec.ltype == "classifier":
        module = LinearLayer(spec.input[0], spec.output[0])
        shape = (spec.input[0],)
    else:
        raise ValueError(f"unknown layer type {spec.ltype!r}")
    return module.eval(), shape


def measure_layer(spec: LayerSpec, threads: int = 1, warmup: int = 5, runs: int = 20, batch_size: int = 1,
                  clock: str = "auto", flush_bytes: int = 0, runtime: str = "onnxruntime",
                  precision: str = "fp32") -> LatencyStats:
    """Time one table entry's layer with ONNX Runtime (or ``runtime``)."""
    torch.manual_seed(0)
    module, shape = build_layer(spec)
    return measure_onnx(module, batch_size=batch_size, threads=threads, warmup=warmup, runs=runs,
                        input_shape=shape, clock=clock, flush_bytes=flush_bytes, runtime=runtime, precision=precision)


RUNTIME_LINE = "runtime:"


def _header(threads: int, batch_size: int, warmup: int, runs: int, passes: int, statistic: str,
            width_mult: float, record: dict) -> str:
    return (f"nsganetv2 latency table: ms, best over {passes} pass(es) of the {statistic} of {runs} runs after "
            f"{warmup} warm-up; batch {batch_size}, {threads} thread(s), w{width_mult}\n"
            f"{record['runtime']} {record['version']} ({record['precision']}), torch {torch.__version__}; machine: "
            f"{platform.machine()} {record['cpu']}, {os.cpu_count()} logical CPUs\n"
            f"{RUNTIME_LINE} {json.dumps(record, sort_keys=True)}")


def table_runtime(header: str) -> Optional[dict]:
    """The runtime record (:func:`~nsganetv2.evaluation.latency.measure.runtime_record`) a table's header holds;
    a table written before records holds none (it was timed with ONNX Runtime, fp32)."""
    for line in header.splitlines():
        if line.startswith(RUNTIME_LINE):
            try:
                return json.loads(line[len(RUNTIME_LINE):])
            except ValueError:
                raise ValueError(f"latency table header line {line!r} is not a JSON record") from None
    return None


def check_same_runtime(path: str, recorded: Optional[dict], current: dict) -> None:
    """Refuse to add entries timed with ``current`` to a table measured with ``recorded`` (runtime, version, CPU,
    threads, precision, batch), naming what differs."""
    if recorded is None:
        recorded = {"runtime": "onnxruntime", "precision": "fp32"}  # a table from before runtime records
    diff = {k: (recorded[k], current.get(k)) for k in recorded if recorded[k] != current.get(k)}
    if diff:
        what = ", ".join(f"{k} {a!r} (this build: {b!r})" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"latency table {path} was measured with {what}: one table never mixes runtimes or "
                         "settings; build into another --save, or use the recorded settings")


def _measure_chunk(chunk: list[LayerSpec], threads: int, warmup: int, runs: int, batch_size: int, clock: str,
                   passes: int, statistic: str, runtime: str = "onnxruntime",
                   precision: str = "fp32") -> list[tuple[float, LatencyStats]]:
    """Export every layer of the chunk, then time them all in ``passes`` rounds (see :func:`_time_in_passes`)."""
    models = []
    for spec in chunk:
        torch.manual_seed(0)
        module, shape = build_layer(spec)
        models.append((export_onnx(module, batch_size=batch_size, input_shape=shape), (batch_size,) + shape))
    return _time_in_passes(models, threads, warmup, runs, clock, passes, statistic, runtime=runtime,
                           precision=precision)


def _time_in_passes(models: list[tuple[bytes, tuple[int, ...]]], threads: int, warmup: int, runs: int, clock: str,
                    passes: int, statistic: str, done: Optional[list[list[float]]] = None,
                    on_time: Optional[Callable[[], None]] = None, runtime: str = "onnxruntime",
                    precision: str = "fp32") -> list[tuple[float, Optional[LatencyStats]]]:
    """Time each (ONNX model, input shape) in ``passes`` interleaved rounds, each round in a fresh session; keep
    each model's best round: (its ``statistic``, its stats).

    ``done[i]``: the ``statistic`` of the rounds of model ``i`` already timed (by a run that was killed); those rounds
    are skipped, new ones are appended (the lists are updated in place) and ``on_time()`` runs after each. A model
    whose best round is one of those has no stats (None).

    Rounds spread a model's samples over time, so a burst of load hits one round, and fresh sessions spread them
    over memory placements: on the development machine one session's time sits 10-30 % above another's for the
    same model, a bias that more runs in the same session never remove.
    """
    timer = _clock(clock, threads)
    done = [[] for _ in models] if done is None else done
    best: list[Optional[LatencyStats]] = [None] * len(models)
    for p in range(passes):
        for i, (model, shape) in enumerate(models):
            if len(done[i]) > p:
                continue
            if runtime == "onnxruntime" and precision == "fp32":
                stats = _time_session(make_session(model, threads), shape, warmup, runs, timer)
            else:
                stats = time_model(model, shape, runtime, threads, precision, warmup, runs, timer)
            value = stats.value(statistic)
            if value < min(done[i], default=math.inf):
                best[i] = stats
            done[i].append(value)
            if on_time is not None:
                on_time()
    return [(min(d), b) for d, b in zip(done, best)]


def _sample_configs(n: int, resolutions: list[int], ks: list[int], ex: list, de: list[int],
                    rng: np.random.Generator) -> list[dict]:
    out = []
    for _ in range(n):
        d = [int(v) for v in rng.choice(de, size=5)]
        out.append({"ks": [int(v) for v in rng.choice(ks, size=sum(d))],
                    "e": [v.item() for v in rng.choice(ex, size=sum(d))], "d": d,
                    "r": int(rng.choice(resolutions))})
    return out


def calibrate_lut(table: LatencyTable, configs: Sequence[dict], *, threads: int = 1, warmup: int = 3,
                  runs: int = 15, passes: int = 3, batch_size: int = 1, statistic: str = "median",
                  clock: str = "auto", state_path: Union[str, os.PathLike, None] = None, runtime: str = "onnxruntime",
                  precision: str = "fp32") -> float:
    """Set ``table.scale`` to the median ratio of whole-subnet time to the sum of its layers' entries.

    Layers timed alone run with warm caches; inside a network each one finds its weights evicted by the others,
    so the plain sum is low by a roughly constant factor. The subnets (random weights) are built with the
    supernet at the table's width and class count and timed like the layers (interleaved passes, best pass).
    ``state_path``: a JSON file that keeps every timing as it is made (atomically) and is read back first, so a
    killed calibration resumes where it stopped; timings made with other configs or settings are not reused.
    """
    from ...supernet import OFAMobileNetV3Supernet

    if not configs:
        raise ValueError("calibrate_lut needs at least one config")
    raw = [sum(table.mean(k) for k in table.keys_for(c)) for c in configs]
    settings = json.loads(json.dumps({
        "configs": list(configs), "threads": threads, "warmup": warmup, "runs": runs, "passes": passes,
        "batch_size": batch_size, "statistic": statistic, "clock": clock, "width_mult": table.width_mult,
        "n_classes": table.n_classes, "header": table.header}))
    done = _calibration_done(state_path, settings)
    todo = [i for i, d in enumerate(done) if len(d) < passes]
    if any(done):
        log.info("latency calibration: %d of %d timings kept from %s", sum(map(len, done)), passes * len(configs),
                 state_path)
    if todo:
        lists = {name: sorted({v for c in configs for v in c[field]}) for name, field in
                 (("ks_list", "ks"), ("expand_ratio_list", "e"), ("depth_list", "d"))}
        torch.manual_seed(0)
        net = OFAMobileNetV3Supernet(n_classes=table.n_classes, width_mult=table.width_mult, **lists).eval()
        with torch_threads(1):
            models = [(export_onnx(net.extract(configs[i]), int(configs[i]["r"]), batch_size),
                       (batch_size, 3, int(configs[i]["r"]), int(configs[i]["r"]))) for i in todo]
        save = None
        if state_path is not None:
            save = lambda: write_json_atomic(state_path, {**settings, "times": done}, fsync=False)  # noqa: E731
        _time_in_passes(models, threads, warmup, runs, clock, passes, statistic, [done[i] for i in todo], save,
                        runtime=runtime, precision=precision)
    best = np.array([min(d) for d in done])
    ratios = best / np.asarray(raw)
    table.scale = float(np.median(ratios))
    log.info("latency table calibration on %d subnets: scale %.4f (ratios %.3f..%.3f)", len(configs),
             table.scale, ratios.min(), ratios.max())
    return table.scale


def _calibration_done(state_path: Union[str, os.PathLike, None], settings: dict) -> list[list[float]]:
    """The timings per config kept in ``state_path`` by a calibration with these ``settings`` (else empty lists)."""
    fresh: list[list[float]] = [[] for _ in settings["configs"]]
    if state_path is None or not os.path.isfile(state_path):
        return fresh
    try:
        with open(state_path) as f:
            kept = json.load(f)
        times = kept.pop("times")
    except (OSError, ValueError, KeyError, AttributeError):
        log.warning("latency calibration: %s is unreadable; timing every subnet again", state_path)
        return fresh
    ok = (kept == settings and isinstance(times, list) and len(times) == len(fresh)
          and all(isinstance(t, list) and all(isinstance(v, (int, float)) and v > 0 for v in t) for t in times))
    if not ok:
        log.info("latency calibration: %s was made with other subnets or settings; timing every subnet again",
                 state_path)
        return fresh
    return [[float(v) for v in t] for t in times]


def calibration_path(path: Union[str, os.PathLike]) -> str:
    """Where :func:`build_lut` keeps the calibration's timings while it runs: beside the table."""
    return os.fspath(path) + ".calibration.json"


def build_lut(path: Union[str, os.PathLike], resolutions: Optional[Iterable[int]] = None, *, space: Any = None,
              ks_list: Optional[Iterable[int]] = None, expand_list: Optional[Iterable[float]] = None,
              depth_list: Optional[Iterable[int]] = None, width_mult: float = 1.0, n_classes: int = 1000,
              threads: int = 1, warmup: int = 3, runs: int = 15, passes: int = 3, batch_size: int = 1,
              statistic: str = "min", clock: str = "auto", progress: bool = True, save_every: int = 50,
              max_keys: Optional[int] = None, calibrate: int = 8, calibrate_passes: int = 8, seed: int = 0,
              callback: Optional[Callable[[str, LatencyStats, int, int], None]] = None,
              runtime: str = "onnxruntime", precision: str = "fp32") -> LatencyTable:
    """Measure every layer the space can produce with ONNX Runtime (or ``runtime="openvino"``, ``precision`` fp32
    or bf16) and write the table to ``path``. The header records the runtime, its version, the CPU model, threads,
    precision and batch (:func:`~nsganetv2.evaluation.latency.measure.runtime_record`); resuming a table recorded
    otherwise is refused (:func:`check_same_runtime`).

    Lists come from the arguments, else from ``space`` (attributes such as ``ks_list``/``resolutions``), else the
    NSGANetV2 defaults. Layers are exported and timed in chunks of ``save_every``: each chunk is timed in
    ``passes`` interleaved rounds of ``runs`` runs and an entry's ``mean`` is the best round's ``statistic``
    (ms; ``var`` is that round's variance). The table is saved after each chunk. Keys already in ``path`` are
    kept and not re-measured (resume). ``max_keys`` stops after that many new entries;
    ``callback(key, stats, n_done, n_total)`` runs after each entry is added (raising from it, or Ctrl-C, stops
    the build; what was measured is saved first). Once the table is complete, ``calibrate`` random subnets
    (drawn with ``seed``) are timed whole, best of ``calibrate_passes`` fresh sessions, to set the table's
    ``scale`` (see :func:`calibrate_lut`); this is redone only when new entries were measured or the file has
    no calibration. The calibration's timings are kept as they are made in :func:`calibration_path` (``path`` +
    ``.calibration.json``), so a re-run after a kill times only what is missing; the file goes once the scaled
    table is saved. Returns the table.

    Why more passes for the calibration: an entry is the best of ``passes`` sessions for that layer alone, so the
    sum over a network picks each layer's luckiest session; a whole network timed in as few sessions sits 10-15 %
    above that sum from session noise alone (measured here), and the scale would absorb the noise, not the cache
    effects it is meant for.
    """
    LatencyStats(0, 0, 0, 0, 0, 1).value(statistic)  # validates the name
    _clock(clock, threads)
    for name, v in (("save_every", save_every), ("passes", passes), ("calibrate_passes", calibrate_passes),
                    ("runs", runs), ("threads", threads)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    res, ks, ex, de = space_lists(space, resolutions, ks_list, expand_list, depth_list)
    specs = lut_specs(res, ks, ex, de, width_mult, n_classes)
    path = os.fspath(path)
    record = runtime_record(runtime, threads, precision, batch_size)
    header = _header(threads, batch_size, warmup, runs, passes, statistic, width_mult, record)
    if os.path.exists(path):
        table = LatencyTable.load(path, width_mult=width_mult, n_classes=n_classes)
        if len(table):
            check_same_runtime(path, table_runtime(table.header), record)
        table.header = header
    else:
        table = LatencyTable(width_mult=width_mult, n_classes=n_classes, header=header)
    todo = [k for k in specs if k not in table]
    total = len(specs)
    done = total - len(todo)
    log.info("latency table %s: %d keys, %d already measured, %d to measure", path, total, done, len(todo))
    if max_keys is not None:
        todo = todo[: max(0, int(max_keys))]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=done, desc="latency table", unit="key")
    unsaved = 0
    n_new = len(todo)
    t0 = time.perf_counter()
    try:
        with torch_threads(1):
            for start in range(0, len(todo), save_every):
                keys = todo[start:start + save_every]
                results = _measure_chunk([specs[k] for k in keys], threads, warmup, runs, batch_size, clock,
                                         passes, statistic, runtime, precision)
                for key, (value, stats) in zip(keys, results):
                    table.add(key, value, stats.var)
                    unsaved += 1
                    done += 1
                    if bar is not None:
                        bar.update(1)
                    if callback is not None:
                        callback(key, stats, done, total)
                table.save(path)
                unsaved = 0
    finally:
        if unsaved or not os.path.exists(path):
            table.save(path)
        if bar is not None:
            bar.close()
    log.info("latency table %s: measured %d keys in %.1f s", path, len(todo), time.perf_counter() - t0)
    complete = all(k in table for k in specs)
    if calibrate > 0 and complete and (n_new > 0 or table.scale == 1.0):
        table.scale = 1.0
        configs = _sample_configs(calibrate, res, ks, ex, de, np.random.default_rng(seed))
        state = calibration_path(path)
        calibrate_lut(table, configs, threads=threads, warmup=warmup, runs=runs, passes=calibrate_passes,
                      batch_size=batch_size, statistic=statistic, clock=clock, state_path=state, runtime=runtime,
                      precision=precision)
        table.save(path)
        if os.path.exists(state):
            os.remove(state)
    return table
