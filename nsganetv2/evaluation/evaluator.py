"""Evaluation of one candidate: extract the subnet, (optionally fine-tune it,) recalibrate BN, measure accuracy.

:class:`SubnetEvaluator` is a picklable callable ``config -> stats dict``. It is a pure function of
(supernet weights, config, dataset split, seed): the supernet is never modified, each call works on a freshly
extracted copy. It builds its supernet and loaders lazily, once per process, so runners can ship it to worker
processes or torchrun ranks.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nsganetv2.evaluation.accuracy import (
    autocast,
    evaluate,
    precision_record,
    resolve_amp,
)
from nsganetv2.evaluation.backends import backend_amp, recalibrate, validation_model
from nsganetv2.evaluation.complexity import complexity, in_millions

log = logging.getLogger(__name__)


@dataclass
class EvalSpec:
    """Everything an evaluation depends on besides the config (all plain data, so it pickles)."""

    supernet_path: str
    dataset: str = "mnist5k"
    data: str | None = None
    vld_size: int | None = None
    n_calib: int = 2000
    calib_batch_size: int = 100
    trn_batch_size: int = 128
    vld_batch_size: int = 250
    n_workers: int = 0
    n_epochs: int = 0
    finetune_lr: float = 0.01
    drop_rate: float = 0.2
    amp: str = "auto"
    compile: bool = False
    backend: str = "torch"  # concrete: torch, onnxruntime or openvino (nsganetv2.evaluation.backends)
    seed: int = 0
    test: bool = False  # the original's --test: top-1 on the official test split instead of the held-out one


class SubnetEvaluator:
    """``evaluator(config) -> {"top1", "top5", "loss", "params", "flops", "precision", "time_*": ...}`` (errors
    raise); ``precision`` is :func:`precision_record` of the evaluation (autocast dtype, device type, torch, and the
    backend when it is not torch: BN recalibration and validation then run in that CPU runtime)."""

    def __init__(self, spec: EvalSpec) -> None:
        self.spec = spec
        self._state: tuple | None = None

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "_state": None}  # workers rebuild the supernet and loaders themselves

    def _setup(self):
        if self._state is None:
            from nsganetv2.data import build_loaders
            from nsganetv2.supernet import load_supernet

            s = self.spec
            loaders = build_loaders(s.dataset, s.data, vld_size=s.vld_size, batch_size=s.trn_batch_size,
                                    eval_batch_size=s.vld_batch_size, n_calib=s.n_calib,
                                    calib_batch_size=s.calib_batch_size, n_workers=s.n_workers, seed=s.seed)
            if s.test:
                from nsganetv2.data import build_test_loader

                loaders.valid = build_test_loader(s.dataset, s.data, batch_size=s.vld_batch_size,
                                                  n_workers=s.n_workers)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(s.seed)  # a head reset (class count differs) is then reproducible
                supernet = load_supernet(s.supernet_path, n_classes=loaders.n_classes, dropout_rate=s.drop_rate)
            supernet.eval()
            self._state = (supernet, loaders)
        return self._state

    def __call__(self, config: dict, device: torch.device | str = "cpu") -> dict:
        """Evaluate one architecture on ``device`` (the one its runner hands it)."""
        supernet, loaders = self._setup()
        s = self.spec
        device = torch.device(device)
        amp = backend_amp(s.amp, s.backend)
        amp_dtype = resolve_amp(amp, device)
        r = int(config["r"])
        t0 = time.perf_counter()
        net = supernet.extract(config).to(device)
        t1 = time.perf_counter()
        loaders.set_resolution(r)
        if s.n_epochs > 0:
            finetune(net, loaders.train, s.n_epochs, s.finetune_lr, device, amp_dtype, seed=s.seed)
        recalibrate(net, loaders.calib, s.backend, device)
        t2 = time.perf_counter()
        model = validation_model(net, r, s.backend, amp, compile=s.compile)
        acc = evaluate(model, loaders.valid, device, amp_dtype if s.backend == "torch" else None)
        t3 = time.perf_counter()
        cx = complexity(config, n_classes=loaders.n_classes, width_mult=supernet.width_mult)
        return {
            "top1": acc.top1, "top5": acc.top5, "loss": acc.loss, "n_vld": acc.n,
            "params": in_millions(cx.params), "flops": in_millions(cx.flops),
            "precision": precision_record(amp_dtype, device, s.backend),
            "time_extract": t1 - t0, "time_bn": t2 - t1, "time_eval": t3 - t2,
        }


def finetune(net: nn.Module, loader, epochs: int, lr: float, device: torch.device,
             amp_dtype: torch.dtype | None = None, weight_decay: float = 4e-5, seed: int = 0) -> None:
    """The original's per-subnet fine-tune (its "weight-level surrogate"): SGD with Nesterov momentum 0.9,
    cosine learning rate per iteration, no warm-up; the subnet is trained alone and the supernet is untouched."""
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    total = max(1, epochs * len(loader))
    step = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.train()
        for epoch in range(epochs):
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            for images, labels in loader:
                for g in opt.param_groups:
                    g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / total))
                images, labels = images.to(device), labels.to(device)
                with autocast(device, amp_dtype):
                    loss = F.cross_entropy(net(images), labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                step += 1
    net.eval()
