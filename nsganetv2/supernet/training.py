"""Supernet training: sandwich sampling with in-place distillation, or progressive-shrinking phases.

One step draws the largest subnet (trained on the labels), the smallest and ``n_random`` random subnets (trained
on the largest's soft predictions, "in-place distillation", mixed with the labels by ``kd_ratio``) and
accumulates their gradients before one optimiser step (Yu et al., BigNAS / OFA's sandwich rule).

Progressive shrinking (OFA) is the same step with the sampling space widened phase by phase:
``full`` (largest only) -> ``kernel`` (elastic k) -> ``depth`` (+ elastic d) -> ``expand`` (+ elastic e).

A checkpoint (weights, optimiser, scheduler, epoch, RNG) is written atomically after every epoch, so
``resume=True`` continues a killed run from the last finished epoch; the final supernet is saved in OFA's layout.

Under ``torchrun`` (``env.world > 1``) every rank draws the same batches, resolutions and subnets from the same
seeds, computes the gradients of its slice of each batch (``images[rank::world]``) and the gradients are
averaged with one all-reduce per step, so all ranks keep identical weights; rank 0 writes the files.
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nsganetv2.atomic import torch_load_safe, torch_save_atomic
from nsganetv2.supernet.checkpoint import save_supernet
from nsganetv2.supernet.ofa_mbv3 import OFAMobileNetV3Supernet
from nsganetv2.distributed import DistEnv, average_buffers, state_digest

log = logging.getLogger(__name__)

PHASES = ("full", "kernel", "depth", "expand", "all")


@dataclass
class SupernetTrainConfig:
    """Recipe of :func:`train_supernet` (defaults suit small images on a CPU)."""

    epochs: int = 5
    optimizer: str = "sgd"  # "sgd" (Nesterov, OFA's) or "adamw" (converges faster from scratch on small data)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 3e-5
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.1
    n_random: int = 0
    kd_ratio: float = 1.0
    resolutions: Sequence[int] = (32,)
    schedule: Sequence[tuple[str, int]] = field(default_factory=list)
    seed: int = 0
    max_steps_per_epoch: int | None = None  # cap the steps of an epoch (smoke tests, quick demos)

    def phases(self) -> list[tuple[str, int]]:
        """(phase, epochs) list: the explicit ``schedule`` (progressive shrinking) or ``all`` for every epoch."""
        sched = [(str(p), int(e)) for p, e in self.schedule] or [("all", self.epochs)]
        for phase, n in sched:
            if phase not in PHASES:
                raise ValueError(f"unknown training phase {phase!r}; use one of {PHASES}")
            if n < 0:
                raise ValueError(f"phase {phase!r} has a negative epoch count {n}")
        return sched


def sample_config(net: OFAMobileNetV3Supernet, phase: str, rng: np.random.Generator) -> dict:
    """A random subnet of ``net`` from the part of the space that ``phase`` makes elastic."""
    n_layers = net.n_stages * net.max_depth
    choose = lambda values, size: [int(v) for v in rng.choice(values, size=size)]  # noqa: E731
    ks = choose(net.ks_list, n_layers) if phase != "full" else [max(net.ks_list)] * n_layers
    d = choose(net.depth_list, net.n_stages) if phase in ("depth", "expand", "all") else [net.max_depth] * 5
    e = choose(net.expand_ratio_list, n_layers) if phase in ("expand", "all") else [max(net.expand_ratio_list)] * n_layers
    return {"ks": _active(ks, d, net.max_depth), "e": _active(e, d, net.max_depth), "d": d}


def _active(values: list[int], depths: list[int], max_depth: int) -> list[int]:
    return [v for s, d in enumerate(depths) for v in values[s * max_depth : s * max_depth + d]]


def _smallest_in_phase(net: OFAMobileNetV3Supernet, phase: str) -> dict:
    """The smallest subnet of a partly elastic space: the minimum of what is elastic, the maximum of the rest."""
    if phase in ("all", "expand"):
        return net.min_config()
    d = [min(net.depth_list)] * net.n_stages if phase == "depth" else [net.max_depth] * net.n_stages
    n = sum(d)
    k = min(net.ks_list) if phase in ("kernel", "depth") else max(net.ks_list)
    return {"ks": [k] * n, "e": [max(net.expand_ratio_list)] * n, "d": d}


def _lr_at(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * base * (1 + math.cos(math.pi * t))


def _soft_ce(logits: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    return torch.sum(-soft * F.log_softmax(logits, dim=1), dim=1).mean()


def train_supernet(net: OFAMobileNetV3Supernet, train_loader, cfg: SupernetTrainConfig, save_dir: str | os.PathLike,
                   valid_loader=None, resume: bool = True, device: str | torch.device = "cpu",
                   progress: bool = True, env: DistEnv | None = None) -> dict:
    """Train ``net`` in place; returns a history ``{"epochs": [...], "valid": {...}}``.

    ``train_loader`` yields (images, labels) at the largest training resolution; each step resizes the batch to
    a resolution drawn from ``cfg.resolutions``. Checkpoints go to ``save_dir/checkpoint.pt`` every epoch, the
    final supernet to ``save_dir/supernet.pth`` (OFA layout). ``env``: the torchrun process group (see the
    module docstring); ``None`` trains in this process alone.
    """
    env = env or DistEnv(device=torch.device(device))
    device = torch.device(device)
    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    phases = cfg.phases()
    total_epochs = sum(n for _, n in phases)
    steps_per_epoch = min(len(train_loader), cfg.max_steps_per_epoch or len(train_loader))
    if steps_per_epoch == 0:
        raise ValueError("the training loader is empty; check the dataset path and batch size")
    net.to(device)
    opt = _optimizer(net, cfg)
    history: dict = {"config": {**asdict(cfg), "resolutions": list(cfg.resolutions)}, "epochs": []}
    start_epoch = 0
    ckpt_path = save_dir / "checkpoint.pt"
    if resume and ckpt_path.is_file():
        state = torch_load_safe(ckpt_path, "supernet training checkpoint", map_location=device)
        net.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, history = int(state["epoch"]), state["history"]
        log.info("resuming supernet training from %s after epoch %d", ckpt_path, start_epoch)

    total_steps = total_epochs * steps_per_epoch
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    epoch_phase = [p for p, n in phases for _ in range(n)]
    for epoch in range(start_epoch, total_epochs):
        phase = epoch_phase[epoch]
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100003 + epoch)
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        net.train()
        loss_sum, n_seen = 0.0, 0
        bar = tqdm(train_loader, total=steps_per_epoch, desc=f"supernet epoch {epoch + 1}/{total_epochs} [{phase}]",
                   disable=not progress or not env.is_main, leave=False)
        for i, (images, labels) in enumerate(bar):
            if i >= steps_per_epoch:
                break
            step = epoch * steps_per_epoch + i
            for g in opt.param_groups:
                g["lr"] = _lr_at(step, total_steps, warmup, cfg.lr)
            if env.distributed:
                images, labels = images[env.rank :: env.world], labels[env.rank :: env.world]
            images, labels = images.to(device), labels.to(device)
            r = int(rng.choice(cfg.resolutions))
            if images.shape[-1] != r:
                images = F.interpolate(images, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
            loss = _sandwich_step(net, images, labels, phase, cfg, rng)
            if env.distributed:
                loss = _average_gradients(net, env, loss)
            opt.step()
            loss_sum += loss * labels.shape[0] * env.world
            n_seen += labels.shape[0] * env.world
            bar.set_postfix(loss=f"{loss_sum / n_seen:.3f}")
        record = {"epoch": epoch + 1, "phase": phase, "loss": loss_sum / max(1, n_seen)}
        history["epochs"].append(record)
        if env.is_main:
            log.info("supernet epoch %d/%d [%s] loss %.4f", epoch + 1, total_epochs, phase, record["loss"])
        if env.is_main:
            torch_save_atomic({"state_dict": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                               "history": history}, ckpt_path)
        env.barrier()
    if env.distributed:
        average_buffers(net, env)  # BN running statistics differ per rank (each saw its own slices)
        history["rank_digests"] = env.gather(state_digest(net))  # equal digests: every rank holds the same net
    if env.is_main:
        save_supernet(net, save_dir / "supernet.pth", history=history)
    env.barrier()
    return history


@torch.no_grad()
def _average_gradients(net: torch.nn.Module, env: DistEnv, loss: float) -> float:
    """Average the gradients (and the step's loss) over the ranks with one flat all-reduce.

    Every rank trained the same subnets, so the same parameters have gradients (the others stay ``None``).
    """
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads] + [torch.tensor([loss], dtype=grads[0].dtype, device=grads[0].device)])
    torch.distributed.all_reduce(flat)
    flat /= env.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
    return float(flat[-1])


def _sandwich_step(net: OFAMobileNetV3Supernet, images: torch.Tensor, labels: torch.Tensor, phase: str,
                   cfg: SupernetTrainConfig, rng: np.random.Generator) -> float:
    """Forward/backward of the largest, the smallest and random subnets; gradients accumulate in ``net``."""
    for p in net.parameters():
        p.grad = None
    net.set_max()
    logits = net(images)
    loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
    loss.backward()
    if phase == "full":
        return float(loss.item())
    soft = F.softmax(logits.detach(), dim=1)
    others = [_smallest_in_phase(net, phase)] + [sample_config(net, phase, rng) for _ in range(cfg.n_random)]
    for config in others:
        net.set_active(config)
        out = net(images)
        sub = F.cross_entropy(out, labels, label_smoothing=cfg.label_smoothing)
        if cfg.kd_ratio > 0:
            sub = sub + cfg.kd_ratio * _soft_ce(out, soft)
        sub.backward()
    net.set_max()
    return float(loss.item())


def _optimizer(net: torch.nn.Module, cfg: SupernetTrainConfig) -> torch.optim.Optimizer:
    groups = _param_groups(net, cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use 'sgd' or 'adamw'")


def _param_groups(net: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on BatchNorm and bias parameters (OFA's ``no_decay_keys``)."""
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
