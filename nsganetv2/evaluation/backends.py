"""Evaluation backends for a candidate's BN recalibration and validation pass.

``torch`` (eager, or compiled with ``compile``; the only one on CUDA), and on CPU ``openvino`` and ``onnxruntime``,
which run the static network written as ONNX (:mod:`nsganetv2.evaluation.onnx_graph`) and recalibrate BatchNorm in
the same runtime (:mod:`nsganetv2.evaluation.bn_stats`). ``auto`` is torch on CUDA, and on CPU the first installed
backend of :data:`AUTO_ORDER` whose fp32 logits are within :data:`AUTO_TOLERANCE` of eager torch on a small network
(checked once per process). The backend, its version and the precision are recorded with each result
(``nsganetv2.evaluation.accuracy.precision_record``); bf16 is opt-in (``--amp bf16``) on the runtimes.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

import torch
import torch.nn as nn

from nsganetv2.evaluation.runtimes import RUNTIMES, load_graph, runtime_installed

log = logging.getLogger(__name__)

__all__ = ["AUTO_ORDER", "AUTO_TOLERANCE", "BACKENDS", "RuntimeNet", "backend_amp", "backend_for_record",
           "check_backend", "recalibrate", "resolve_backend", "validation_model"]

BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
AUTO_ORDER = ("openvino", "torch")  # benchmarks/bench_eval.py: openvino fastest per candidate; onnxruntime only by name
AUTO_TOLERANCE = 1e-4


def _check_name(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")


@functools.lru_cache(maxsize=None)
def check_backend(backend: str) -> float:
    """Largest absolute difference between ``backend``'s fp32 logits and eager torch's on a small MobileNetV3 (32 px,
    batch 4, random weights and BN statistics). Cached per process."""
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    if backend == "torch":
        return 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        supernet = OFAMobileNetV3Supernet(n_classes=10)
        net = supernet.extract({**supernet.mid_config(), "r": 32}).eval()
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.5)
                m.running_var.uniform_(0.2, 2.0)
        x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        out = validation_model(net, 32, backend, "off", threads=1)(x)
    return float((out - ref).abs().max())


def resolve_backend(backend: str, device: torch.device | str = "cpu") -> str:
    """The concrete backend for ``backend`` on ``device``: ``auto`` as the module says; a runtime on CUDA, or one
    that is not installed, is one clear error."""
    _check_name(backend)
    device = torch.device(device)
    if backend == "auto":
        if device.type != "cpu":
            return "torch"
        for name in AUTO_ORDER:
            if name == "torch" or not runtime_installed(name):
                continue
            err = check_backend(name)
            if err <= AUTO_TOLERANCE:
                return name
            log.warning("backend %s: fp32 logits differ from eager torch by %.2g (> %g); not using it", name, err,
                        AUTO_TOLERANCE)
        return "torch"
    if backend != "torch":
        if device.type != "cpu":
            raise ValueError(f"--backend {backend} runs on the CPU only; use --backend torch (or auto) on {device.type}")
        if not runtime_installed(backend):
            raise ValueError(f"--backend {backend}: {backend} is not installed"
                             + (" (pip install nsganetv2[openvino])" if backend == "openvino" else "")
                             + "; or use --backend torch")
    return backend


def backend_for_record(backend: str, device: torch.device | str, recorded: str | None, what: str) -> str:
    """The concrete backend to measure with, keeping a recorded one: with ``recorded`` (the backend ``what`` was
    measured with; ``None`` for folders that predate backends, meaning torch), ``auto`` keeps it and an explicit
    backend that differs is refused, so one archive never mixes backends."""
    if recorded is None:
        return resolve_backend(backend, device)
    if recorded not in BACKENDS or recorded == "auto":
        raise ValueError(f"{what} records an unknown backend {recorded!r}; expected one of {BACKENDS[1:]}")
    if backend == "auto":
        return resolve_backend(recorded, device)
    if backend != recorded:
        raise ValueError(f"{what} was measured with --backend {recorded}; --backend {backend} would mix backends: "
                         f"pass --backend {recorded} (or auto), or start a new search")
    return resolve_backend(backend, device)


def backend_amp(amp: str, backend: str) -> str:
    """The ``--amp`` to resolve for ``backend``: on the runtimes bf16 is opt-in, so ``auto`` is ``off`` (fp32);
    ``fp16`` is refused there and ``bf16`` on onnxruntime."""
    if backend == "torch":
        return amp
    if amp == "fp16":
        raise ValueError(f"--backend {backend} has no fp16 on CPU; use --amp off (fp32) or bf16 (openvino)")
    if amp == "bf16" and backend == "onnxruntime":
        raise ValueError("--backend onnxruntime runs fp32 only; use --amp off, or --backend openvino for bf16")
    return "off" if amp == "auto" else amp


class RuntimeNet(nn.Module):
    """A static network loaded in a CPU runtime, called like the torch module: ``net(images) -> logits``."""

    def __init__(self, graph) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.graph(x.detach().to("cpu", torch.float32).numpy())[0])


def validation_model(net: nn.Module, resolution: int, backend: str, amp: str = "off", threads: int | None = None,
                     compile: bool = False) -> nn.Module:
    """``net`` (BN statistics set) ready for the validation pass in ``backend`` (concrete) and ``amp`` (``off`` or
    ``bf16`` on the runtimes): torch returns the module (compiled when asked), a runtime a :class:`RuntimeNet`."""
    from nsganetv2.evaluation.accuracy import maybe_compile
    from nsganetv2.evaluation.onnx_graph import mobilenet_onnx

    if backend == "torch":
        return maybe_compile(net, compile, reset=True)
    if backend not in RUNTIMES:
        raise ValueError(f"validation_model needs a concrete backend (torch, {', '.join(RUNTIMES)}), got {backend!r}")
    written = mobilenet_onnx(net, (3, int(resolution), int(resolution)), "eval")
    precision = "bf16" if amp == "bf16" else "fp32"
    return RuntimeNet(load_graph(written.model, backend, threads or torch.get_num_threads(), precision))


def recalibrate(net: nn.Module, batches: Iterable, backend: str, device: torch.device | str = "cpu",
                threads: int | None = None) -> int:
    """BN recalibration of ``net`` in ``backend`` (concrete): eager torch, or the runtime (fp32, same statistics to
    float rounding). Returns the number of images seen."""
    from nsganetv2.evaluation.accuracy import recalibrate_bn
    from nsganetv2.evaluation.bn_stats import recalibrate_bn_runtime

    if backend == "torch":
        return recalibrate_bn(net, batches, device)
    return recalibrate_bn_runtime(net, batches, backend, threads or torch.get_num_threads())
