"""Accuracy of a network: BatchNorm recalibration, then top-1 / top-5 / loss, with AMP and optional compile.

Everything here is a pure function of (weights, data, seed): no global state is changed except the model's BN
statistics during :func:`recalibrate_bn`.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger(__name__)

AMP_CHOICES = ("auto", "off", "fp16", "bf16")
NATIVE_BF16_ENV = "NSGANETV2_NATIVE_BF16"
_DTYPE_NAMES = {None: "off", torch.float16: "fp16", torch.bfloat16: "bf16"}


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 autocast is slower.

    The environment variable ``NSGANETV2_NATIVE_BF16`` (``1`` or ``0``) overrides the detection, so that both
    branches of every choice that depends on it can be run on one host.
    """
    forced = os.environ.get(NATIVE_BF16_ENV, "").strip()
    if forced:
        if forced not in ("0", "1"):
            raise ValueError(f"{NATIVE_BF16_ENV} must be 0 or 1 (or unset to detect), got {forced!r}")
        return forced == "1"
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cpu_model() -> str:
    """This CPU's model name (``/proc/cpuinfo``, else ``platform.processor()``), e.g. ``"AMD EPYC 9B45"``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_description() -> str:
    """This CPU's model name and the features that change evaluation numerics, e.g.
    ``"AMD EPYC (AVX-512: yes, native bf16: yes)"``; for benchmark headers and notes."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        import platform

        model = platform.processor() or model
    avx512 = "yes" if "avx512f" in flags else "no"
    forced = " (forced by " + NATIVE_BF16_ENV + ")" if os.environ.get(NATIVE_BF16_ENV, "").strip() else ""
    return f"{model} (AVX-512: {avx512}, native bf16: {'yes' if cpu_has_native_bf16() else 'no'}{forced})"


def amp_name(dtype: torch.dtype | None) -> str:
    """The ``--amp`` value that names an autocast dtype: ``off``, ``fp16`` or ``bf16``."""
    return _DTYPE_NAMES[dtype]


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None = full precision).

    ``auto`` is fp16 on CUDA, bf16 on a CPU with native bf16 (see :func:`cpu_has_native_bf16`), and off on other
    CPUs, where bf16 autocast is slower than fp32.
    """
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {AMP_CHOICES}, got {amp!r}")
    if amp == "off":
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_has_native_bf16() else None
    if amp == "fp16" and device.type == "cpu":
        raise ValueError("fp16 autocast needs a CUDA device; use --amp bf16 or --amp off on CPU")
    return torch.float16 if amp == "fp16" else torch.bfloat16


def precision_record(dtype: torch.dtype | None, device: torch.device, backend: str = "torch") -> dict:
    """What a measured accuracy depends on besides weights and data: autocast dtype (the runtime's precision for
    another backend), device type, torch version, and for a backend other than torch its name and version (a
    record without ``backend`` was measured by torch, so older records keep their meaning)."""
    out = {"amp": amp_name(dtype), "device": torch.device(device).type, "torch": torch.__version__}
    if backend != "torch":
        from nsganetv2.evaluation.runtimes import runtime_version

        out.update(backend=backend, backend_version=runtime_version(backend))
    return out


def amp_for_record(amp: str, device: torch.device, recorded: str | None, what: str) -> str:
    """The concrete ``--amp`` (``off``, ``fp16``, ``bf16``) to measure with, keeping a recorded precision.

    With nothing recorded it is ``amp`` resolved on ``device``. With ``recorded`` (the precision ``what`` was
    measured in), ``auto`` keeps the recorded one even where ``auto`` would resolve otherwise on this host, and an
    explicit ``amp`` that differs is refused, so one archive never mixes precisions.
    """
    here = amp_name(resolve_amp(amp, device))
    if recorded is None:
        return here
    if recorded not in AMP_CHOICES or recorded == "auto":
        raise ValueError(f"{what} records an unknown precision {recorded!r}; expected off, fp16 or bf16")
    if amp == "auto":
        if recorded != here:
            log.info("%s was measured with --amp %s; keeping it (auto would be %s on this host)", what, recorded, here)
        try:
            resolve_amp(recorded, device)
        except ValueError as exc:
            raise ValueError(f"{what} was measured with --amp {recorded}, which this device cannot run ({exc})") from None
        return recorded
    if here != recorded:
        raise ValueError(f"{what} was measured with --amp {recorded}; --amp {amp} would mix precisions: pass --amp "
                         f"{recorded} (or auto), or start a new search")
    return here


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def maybe_compile(model: nn.Module, enabled: bool, dynamic: bool = False, reset: bool = False) -> nn.Module:
    """``torch.compile(model)`` when enabled, falling back to eager (with a warning) if compilation fails.

    ``torch.compile`` compiles lazily, at the first call, so the fallback lives in that call (see
    :class:`CompiledWithFallback`); the returned module trains, evaluates and saves like ``model``. Shapes are
    static by default: dynamo's automatic dynamic shapes turn the second input shape into a symbolic-shape
    recompile that can take far longer than a static compile on CPU (the README's evaluation section says how long).

    ``reset=True`` first drops every graph compiled earlier in this process (``torch.compiler.reset()``). Use it
    when compiling one short-lived model after another, as the search's evaluator does: the models share their
    classes' ``forward`` code, so without it each new model counts as a recompile, and after dynamo's recompile
    limit (8) the next ones silently run eagerly while the dead models' graphs stay in memory.
    """
    if not enabled:
        return model
    if reset:
        torch.compiler.reset()
    return CompiledWithFallback(model, dynamic)


def _shape_key(args: tuple) -> tuple:
    return tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else None for a in args)


class CompiledWithFallback(nn.Module):
    """Calls ``torch.compile(model)``; if compiling (or a compiled call) raises, warns once and runs ``model`` eagerly
    from then on. A genuine error of the model itself then surfaces from the eager call. ``state_dict`` and the
    parameters are ``model``'s own (the compiled wrapper is not registered as a submodule).

    With static shapes (the default) the compiled graph serves the input shapes of the first call; a call with
    other shapes (the last, partial batch of a loader) runs eagerly instead of paying for another compile."""

    def __init__(self, model: nn.Module, dynamic: bool = False) -> None:
        super().__init__()
        self.model = model
        self.dynamic = dynamic
        object.__setattr__(self, "compiled", torch.compile(model, dynamic=dynamic))
        self.failed: str | None = None
        self.shapes: tuple | None = None

    def forward(self, *args, **kwargs):
        if self.failed is None:
            key = _shape_key(args)
            if self.shapes is None:
                self.shapes = key
            if self.dynamic or key == self.shapes:
                try:
                    return self.compiled(*args, **kwargs)
                except Exception as exc:
                    self.failed = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    log.warning("torch.compile failed (%s); running eager", self.failed)
        return self.model(*args, **kwargs)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable, device: torch.device | str = "cpu") -> int:
    """Reset every BatchNorm's running statistics and re-estimate them as the plain average over ``batches``.

    ``batches`` yields image tensors or (images, labels) pairs. Returns the number of images seen. The model is
    left in eval mode.
    """
    device = torch.device(device)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.train()
    seen = 0
    try:
        for batch in batches:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(images.to(device, non_blocking=True))
            seen += images.shape[0]
    finally:
        for m, momentum in zip(bns, saved):
            m.momentum = momentum
        model.eval()
    if seen == 0 and bns:
        raise ValueError("recalibrate_bn got no images; give it a non-empty calibration loader")
    return seen


@dataclass
class Accuracy:
    top1: float
    top5: float
    loss: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device | str = "cpu",
             amp_dtype: torch.dtype | None = None) -> Accuracy:
    """Top-1 / top-5 accuracy (%) and mean cross-entropy of ``model`` over ``loader`` (eval mode)."""
    device = torch.device(device)
    model.eval()
    correct1 = correct5 = 0
    loss_sum, n = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(images)
        logits = logits.float()
        if not torch.isfinite(logits).all():
            raise FloatingPointError("the network produced NaN or infinite logits")
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        hit = top.eq(labels[:, None])
        correct1 += hit[:, :1].sum().item()
        correct5 += hit.any(dim=1).sum().item()
        n += labels.shape[0]
    if n == 0:
        raise ValueError("evaluate got an empty loader; check the dataset split and --vld_size")
    return Accuracy(top1=100.0 * correct1 / n, top5=100.0 * correct5 / n, loss=loss_sum / n, n=n)
