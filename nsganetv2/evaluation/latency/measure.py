"""Export a network to ONNX and time it: ONNX Runtime (default) or torch eager, pinned threads, batch 1 by default.

Timing protocol: ``warmup`` untimed runs, then ``runs`` timed runs of one forward pass each, summarised as
median / p10 / p90 / mean / std / min in milliseconds. ONNX Runtime runs with ``intra_op_num_threads=threads``,
``inter_op_num_threads=1``, sequential execution, all graph optimisations, and inputs/outputs pre-bound with IO
binding so that the time is the network's, not the copies'.

Clock: at one thread (the default) the network runs in the calling thread, and ``clock="auto"`` times it with
that thread's CPU time (``time.thread_time_ns``): on a shared machine this leaves out the time other processes
hold the core, which the wall clock would count (under a load of 5 on 2 cores the wall-clock median was 2-3x
the CPU-time one; with the core to itself the two measure the same work). ``clock="wall"`` forces
``perf_counter_ns``; more than one thread always uses it. Contention still slows the run through shared
caches and memory, so prefer ``min`` or ``p10`` as the statistic on a busy machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ...atomic import atomic_write
from ..runtimes import RUNTIMES, Graph

__all__ = [
    "LatencyStats",
    "export_onnx",
    "make_session",
    "measure_onnx",
    "measure_torch",
    "runtime_record",
    "time_model",
    "torch_threads",
    "input_shape_for",
]

STATISTICS = ("median", "p10", "min", "mean", "p90")
CLOCKS = ("auto", "wall", "cpu")
ModelLike = Union[nn.Module, str, os.PathLike, bytes]


@dataclass(frozen=True)
class LatencyStats:
    """Summary of timed runs, all in milliseconds."""

    median_ms: float
    p10: float
    p90: float
    mean: float
    std: float
    runs: int
    min: float = float("nan")

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float]) -> "LatencyStats":
        a = np.asarray(samples_ms, dtype=np.float64)
        if a.size == 0:
            raise ValueError("no timing samples: use runs >= 1")
        p10, med, p90 = np.percentile(a, [10, 50, 90])
        return cls(float(med), float(p10), float(p90), float(a.mean()), float(a.std()), int(a.size),
                   float(a.min()))

    def value(self, statistic: str = "median") -> float:
        """One summary number: ``median`` (default), ``p10``, ``min``, ``mean`` or ``p90``."""
        if statistic not in STATISTICS:
            raise ValueError(f"unknown latency statistic {statistic!r}; use one of {STATISTICS}")
        return float(getattr(self, "median_ms" if statistic == "median" else statistic))

    @property
    def var(self) -> float:
        return self.std ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LatencyStats":
        try:
            return cls(float(d["median_ms"]), float(d["p10"]), float(d["p90"]), float(d["mean"]),
                       float(d["std"]), int(d["runs"]), float(d.get("min", float("nan"))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a LatencyStats record: {d!r} ({exc})") from exc


def _check_counts(threads: int, warmup: int, runs: int, batch_size: int) -> None:
    for name, v, lo in (("threads", threads, 1), ("warmup", warmup, 0), ("runs", runs, 1),
                        ("batch_size", batch_size, 1)):
        if not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")


def input_shape_for(resolution: Union[int, Sequence[int], None], batch_size: int = 1,
                    input_shape: Optional[Sequence[int]] = None, channels: int = 3) -> tuple[int, ...]:
    """Full input shape: ``(batch, *input_shape)`` if given, else ``(batch, channels, r, r)`` (or ``(h, w)``)."""
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"input_shape must be positive ints without the batch dim, got {input_shape!r}")
        return (int(batch_size),) + shape
    if resolution is None:
        raise ValueError("give a resolution (int or (h, w)) or an input_shape")
    if isinstance(resolution, (int, np.integer)):
        h = w = int(resolution)
    else:
        h, w = (int(v) for v in resolution)
    if h < 1 or w < 1:
        raise ValueError(f"resolution must be positive, got {resolution!r}")
    return (int(batch_size), int(channels), h, w)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily ``torch.set_num_threads(n)`` (oversubscription is catastrophic on small machines)."""
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def _module_device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def export_onnx(module: nn.Module, resolution: Union[int, Sequence[int], None] = None, batch_size: int = 1,
                path: Union[str, os.PathLike, None] = None, *, input_shape: Optional[Sequence[int]] = None,
                opset: int = 17, dynamic_batch: bool = False) -> Union[str, bytes]:
    """Export ``module`` (in eval mode) to one self-contained ONNX file with the legacy exporter.

    The input is ``(batch_size, 3, r, r)`` or ``(batch_size, *input_shape)``; names are ``input``/``output``;
    ``dynamic_batch`` makes the batch axis of both a named dynamic axis (``batch``), as deployment expects.
    Writes ``path`` atomically and returns it, or returns the model bytes when ``path`` is None.
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"export_onnx needs a torch nn.Module, got {type(module).__name__}")
    _check_counts(1, 0, 1, batch_size)
    shape = input_shape_for(resolution, batch_size, input_shape)
    x = torch.zeros(shape, device=_module_device(module))
    buf = io.BytesIO()
    with _eval_mode(module), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
        torch.onnx.export(module, (x,), buf, dynamo=False, input_names=["input"], output_names=["output"],
                          opset_version=opset, do_constant_folding=True, dynamic_axes=axes)
    data = buf.getvalue()
    if path is None:
        return data
    return os.fspath(atomic_write(path, data, fsync=False))


def make_session(model: Union[str, os.PathLike, bytes], threads: int = 1):
    """An ONNX Runtime CPU session with pinned threads and sequential execution."""
    from ..runtimes import ort_session

    return ort_session(model, threads)


def _session_input_shape(sess, resolution, batch_size: int, input_shape) -> tuple[int, ...]:
    inp = sess.get_inputs()[0]
    dims = list(inp.shape)
    channels = dims[1] if len(dims) == 4 and isinstance(dims[1], int) else 3
    if input_shape is None and resolution is None:
        if all(isinstance(d, int) for d in dims):
            return tuple(dims)
        raise ValueError(f"the ONNX model's input {inp.name!r} has dynamic shape {dims}: give a resolution")
    shape = input_shape_for(resolution, batch_size, input_shape, channels)
    if len(dims) != len(shape) or any(isinstance(d, int) and d != s for d, s in zip(dims, shape)):
        raise ValueError(f"the ONNX model's input {inp.name!r} has shape {dims} but {list(shape)} was asked: "
                         f"re-export it at this resolution/batch size")
    return shape


def _clock(clock: str, threads: int) -> Callable[[], int]:
    """``wall`` (perf_counter) or ``cpu`` (this thread's CPU time; ``auto`` picks it when threads == 1).

    With one thread both ONNX Runtime and torch run the network in the calling thread, so its CPU time is the
    latency without the time other processes took the core away (the wall clock counts it).
    """
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; use one of {CLOCKS}")
    if clock == "cpu" and threads != 1:
        raise ValueError("clock='cpu' only measures the calling thread: use threads=1 or clock='wall'")
    if clock == "cpu" or (clock == "auto" and threads == 1):
        return time.thread_time_ns
    return time.perf_counter_ns


def _time_session(sess, shape: tuple[int, ...], warmup: int, runs: int,
                  clock: Callable[[], int] = time.perf_counter_ns, flush_bytes: int = 0) -> LatencyStats:
    import onnxruntime as ort

    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    outs = sess.run(None, {name: x})
    binding = sess.io_binding()
    binding.bind_cpu_input(name, x)
    keep = []
    for meta, out in zip(sess.get_outputs(), outs):
        value = ort.OrtValue.ortvalue_from_numpy(np.empty_like(out))
        keep.append(value)
        binding.bind_ortvalue_output(meta.name, value)
    run = sess.run_with_iobinding
    for _ in range(warmup):
        run(binding)
    samples = np.empty(runs, dtype=np.float64)
    scratch = np.zeros(max(int(flush_bytes), 0) // 8, dtype=np.float64)
    for i in range(runs):
        if scratch.size:  # evict the layer's weights from the private caches, as the rest of a network would
            scratch += 1.0
        t0 = clock()
        run(binding)
        samples[i] = clock() - t0
    return LatencyStats.from_samples(samples / 1e6)


def _time_openvino(model: Union[bytes, str, os.PathLike], shape: tuple[int, ...], threads: int, precision: str,
                   warmup: int, runs: int, clock: Callable[[], int] = time.perf_counter_ns,
                   flush_bytes: int = 0) -> LatencyStats:
    """Time ``model`` compiled by OpenVINO for ``shape`` (at one thread OpenVINO infers in the calling thread, so
    the thread CPU clock measures it as it does ONNX Runtime)."""
    run = Graph(model, "openvino", threads, precision).compile(shape, copy=False)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    for _ in range(warmup + 1):
        run(x)
    samples = np.empty(runs, dtype=np.float64)
    scratch = np.zeros(max(int(flush_bytes), 0) // 8, dtype=np.float64)
    for i in range(runs):
        if scratch.size:
            scratch += 1.0
        t0 = clock()
        run(x)
        samples[i] = clock() - t0
    return LatencyStats.from_samples(samples / 1e6)


def time_model(model: Union[bytes, str, os.PathLike], shape: tuple[int, ...], runtime: str = "onnxruntime",
               threads: int = 1, precision: str = "fp32", warmup: int = 10, runs: int = 50,
               clock: Callable[[], int] = time.perf_counter_ns, flush_bytes: int = 0) -> LatencyStats:
    """Time an ONNX model at input ``shape`` in a fresh session of ``runtime`` (``onnxruntime``: fp32 only, or
    ``openvino``: fp32 or bf16)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")
    if runtime == "onnxruntime":
        if precision != "fp32":
            raise ValueError("onnxruntime times fp32 only on CPU; use --precision fp32, or --runtime openvino")
        return _time_session(make_session(model, threads), shape, warmup, runs, clock, flush_bytes)
    return _time_openvino(model, shape, threads, precision, warmup, runs, clock, flush_bytes)


def runtime_record(runtime: str = "onnxruntime", threads: int = 1, precision: str = "fp32",
                   batch_size: int = 1) -> dict:
    """What a latency depends on besides the network: the runtime and its version, this CPU's model, the threads,
    precision and batch. A table records it and refuses to mix entries measured otherwise."""
    from ..accuracy import cpu_model
    from ..runtimes import runtime_version

    return {"runtime": runtime, "version": runtime_version(runtime), "cpu": cpu_model(), "threads": int(threads),
            "precision": precision, "batch": int(batch_size)}


def measure_onnx(module_or_path: ModelLike, resolution: Union[int, Sequence[int], None] = None,
                 batch_size: int = 1, threads: int = 1, warmup: int = 10, runs: int = 50, *,
                 input_shape: Optional[Sequence[int]] = None, clock: str = "auto",
                 flush_bytes: int = 0, runtime: str = "onnxruntime", precision: str = "fp32") -> LatencyStats:
    """Time one forward pass with ONNX Runtime (or ``runtime="openvino"``, in ``precision`` fp32 or bf16) on CPU.

    ``module_or_path`` is an ``nn.Module`` (exported in memory first), an ``.onnx`` path or model bytes.
    ``clock``: ``auto`` (thread CPU time at 1 thread, else wall), ``wall`` or ``cpu``. ``flush_bytes`` > 0
    touches that much scratch memory before each timed run (cold private caches, as inside a whole network).
    """
    _check_counts(threads, warmup, runs, batch_size)
    timer = _clock(clock, threads)
    if isinstance(module_or_path, nn.Module):
        model = export_onnx(module_or_path, resolution, batch_size, None, input_shape=input_shape)
    elif isinstance(module_or_path, (bytes, str, os.PathLike)):
        model = module_or_path
        if not isinstance(model, bytes) and not os.path.isfile(model):
            raise ValueError(f"ONNX file {os.fspath(model)!r} does not exist: export it with export_onnx first")
    else:
        raise ValueError(f"measure_onnx needs an nn.Module, an .onnx path or bytes, "
                         f"got {type(module_or_path).__name__}")
    if runtime != "onnxruntime":
        shape = input_shape_for(resolution, batch_size, input_shape)
        return time_model(model, shape, runtime, threads, precision, warmup, runs, timer, flush_bytes)
    if precision != "fp32":
        raise ValueError("onnxruntime times fp32 only on CPU; use --precision fp32, or --runtime openvino")
    sess = make_session(model, threads)
    shape = _session_input_shape(sess, resolution, batch_size, input_shape)
    return _time_session(sess, shape, warmup, runs, timer, flush_bytes)


def measure_torch(module: nn.Module, resolution: Union[int, Sequence[int], None] = None, batch_size: int = 1,
                  threads: int = 1, warmup: int = 10, runs: int = 50, *,
                  input_shape: Optional[Sequence[int]] = None,
                  device: Union[str, torch.device, None] = None, clock: str = "auto") -> LatencyStats:
    """Time one eager forward pass of ``module`` (eval mode, inference mode, ``threads`` torch threads).

    ``clock`` as in :func:`measure_onnx`; on CUDA the wall clock is always used.
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"measure_torch needs a torch nn.Module, got {type(module).__name__}")
    _check_counts(threads, warmup, runs, batch_size)
    clock_fn = _clock(clock, threads)
    shape = input_shape_for(resolution, batch_size, input_shape)
    dev = torch.device(device) if device is not None else _module_device(module)
    if dev != _module_device(module):
        raise ValueError(f"module is on {_module_device(module)} but device={dev} was asked: move it first")
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        clock_fn = time.perf_counter_ns
    samples = np.empty(runs, dtype=np.float64)
    with torch_threads(threads), _eval_mode(module), torch.inference_mode():
        for _ in range(warmup):
            module(x)
        sync()
        for i in range(runs):
            t0 = clock_fn()
            module(x)
            sync()
            samples[i] = clock_fn() - t0
    return LatencyStats.from_samples(samples / 1e6)
