"""Supernet training: sandwich sampling with in-place distillation, or progressive-shrinking phases.

One step draws the largest subnet (trained on the labels), the smallest and ``n_random`` random subnets (trained
on the largest's soft predictions, "in-place distillation", mixed with the labels by ``kd_ratio``) and
accumulates their gradients before one optimiser step (Yu et al., BigNAS / OFA's sandwich rule).

Progressive shrinking (OFA) is the same step with the sampling space widened phase by phase:
``full`` (largest only) -> ``kernel`` (elastic k) -> ``depth`` (+ elastic d) -> ``expand`` (+ elastic e).

A checkpoint (weights, optimiser, epoch, step, random states, the epoch's running loss) is written atomically at the
end of every epoch and, within an epoch, every ``checkpoint_every_s`` seconds (or ``checkpoint_every_steps`` steps),
so a kill loses minutes, not an epoch: ``resume=True`` continues from the last checkpoint with the same batches,
subnets and resolutions an uninterrupted run would have used, and ends with the same weights. It holds tensors
and plain values only (read back with the safe loader). The final supernet is saved in OFA's layout. A folder that
already holds a supernet or an unfinished run is refused unless ``resume`` or ``overwrite`` is given.

Under ``torchrun`` (``env.world > 1``) every rank draws the same batches, resolutions and subnets from the same
seeds, computes the gradients of its slice of each batch (``images[rank::world]``) and the gradients are
averaged with one all-reduce per step, so all ranks keep identical weights; rank 0 writes the files.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
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
    checkpoint_every_s: float = 300.0  # mid-epoch checkpoint after this many seconds (0: after every step)
    checkpoint_every_steps: int | None = None  # ... or after this many steps, whichever comes first

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse, before anything is done, what would write an untrained supernet or never checkpoint."""
        if not self.schedule and self.epochs < 1:
            raise ValueError(f"epochs {self.epochs} would write an untrained supernet; pass --epochs 1 or more")
        if self.schedule and sum(n for _, n in self.phases()) < 1:
            raise ValueError(f"the phases {self.schedule} add up to 0 epochs and would write an untrained supernet; "
                             "give at least one phase 1 or more epochs (e.g. --phases full:1)")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps {self.max_steps_per_epoch} would write an untrained supernet; pass "
                             "--max_steps 1 or more, or leave it out for whole epochs")
        if not self.checkpoint_every_s >= 0:
            raise ValueError(f"checkpoint_every_s must be >= 0 seconds, got {self.checkpoint_every_s}")
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ValueError(f"checkpoint_every_steps must be >= 1 (or None), got {self.checkpoint_every_steps}")

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


CHECKPOINT = "checkpoint.pt"
SUPERNET = "supernet.pth"


def train_supernet(net: OFAMobileNetV3Supernet, train_loader, cfg: SupernetTrainConfig, save_dir: str | os.PathLike,
                   valid_loader=None, resume: bool = True, device: str | torch.device = "cpu",
                   progress: bool = True, env: DistEnv | None = None, overwrite: bool = False) -> dict:
    """Train ``net`` in place; returns a history ``{"epochs": [...], "valid": {...}}``.

    ``train_loader`` yields (images, labels) at the largest training resolution; each step resizes the batch to
    a resolution drawn from ``cfg.resolutions``. Checkpoints go to ``save_dir/checkpoint.pt`` (see the module
    docstring), the final supernet to ``save_dir/supernet.pth`` (OFA layout). A ``save_dir`` that holds either
    is refused unless ``resume`` (continue from the checkpoint) or ``overwrite`` (start again; the old supernet
    is replaced at the end). ``env``: the torchrun process group (see the module docstring); ``None`` trains in
    this process alone.
    """
    cfg.check()
    if resume and overwrite:
        raise ValueError("resume and overwrite contradict each other: --resume continues the run in the folder, "
                         "--overwrite starts again; pass one of them")
    env = env or DistEnv(device=torch.device(device))
    device = torch.device(device)
    save_dir = Path(save_dir)
    ckpt_path = save_dir / CHECKPOINT
    phases = cfg.phases()
    total_epochs = sum(n for _, n in phases)
    steps_per_epoch = min(len(train_loader), cfg.max_steps_per_epoch or len(train_loader))
    if steps_per_epoch == 0:
        raise ValueError("the training loader is empty; check the dataset path and batch size")
    problem = env.gather(folder_problem(save_dir, resume, overwrite) if env.is_main else None)[0]
    if problem:
        raise ValueError(problem)
    if overwrite and not resume and env.is_main and ckpt_path.is_file():
        ckpt_path.unlink()  # a later --resume must not continue the replaced run
    env.barrier()
    save_dir.mkdir(parents=True, exist_ok=True)
    net.to(device)
    opt = _optimizer(net, cfg)
    history: dict = {"config": {**asdict(cfg), "resolutions": list(cfg.resolutions)}, "epochs": []}
    start_epoch, start_step, state = 0, 0, None
    if resume and ckpt_path.is_file():
        state = torch_load_safe(ckpt_path, "supernet training checkpoint", map_location=device)
        net.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, start_step, history = int(state["epoch"]), int(state.get("step", 0)), state["history"]
        if start_step and int(state["steps_per_epoch"]) != steps_per_epoch:
            raise ValueError(f"{ckpt_path} was written mid-epoch with {state['steps_per_epoch']} steps per epoch, "
                             f"this run has {steps_per_epoch}; resume with the same --batch_size and --max_steps")
        log.info("resuming supernet training from %s at epoch %d step %d", ckpt_path, start_epoch + 1, start_step)

    total_steps = total_epochs * steps_per_epoch
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    epoch_phase = [p for p, n in phases for _ in range(n)]
    last_save, since_save = time.monotonic(), 0
    for epoch in range(start_epoch, total_epochs):
        phase = epoch_phase[epoch]
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 100003 + epoch)
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        net.train()
        first = start_step if epoch == start_epoch else 0
        # the loader's iterator is made (and may draw from torch's generator) before the random states of a
        # mid-epoch checkpoint are put back, as in the uninterrupted run
        batches = _batches_from(train_loader, first, steps_per_epoch)
        loss_sum, n_seen = 0.0, 0
        if first:
            _set_random_state(state["random"], rng, device)
            loss_sum, n_seen = float(state["epoch_loss"][0]), int(state["epoch_loss"][1])
        bar = tqdm(batches, total=steps_per_epoch, initial=first, leave=False,
                   desc=f"supernet epoch {epoch + 1}/{total_epochs} [{phase}]", disable=not progress or not env.is_main)
        for i, (images, labels) in enumerate(bar, start=first):
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
            since_save += 1
            due = (time.monotonic() - last_save >= cfg.checkpoint_every_s
                   or (cfg.checkpoint_every_steps is not None and since_save >= cfg.checkpoint_every_steps))
            if due and i + 1 < steps_per_epoch:  # the end of the epoch writes its own checkpoint below
                if env.is_main:
                    torch_save_atomic({**_checkpoint(net, opt, epoch, i + 1, steps_per_epoch, history),
                                       "random": _random_state(rng, device), "epoch_loss": [loss_sum, n_seen]},
                                      ckpt_path)
                last_save, since_save = time.monotonic(), 0
        record = {"epoch": epoch + 1, "phase": phase, "loss": loss_sum / max(1, n_seen)}
        history["epochs"].append(record)
        if env.is_main:
            log.info("supernet epoch %d/%d [%s] loss %.4f", epoch + 1, total_epochs, phase, record["loss"])
            torch_save_atomic(_checkpoint(net, opt, epoch + 1, 0, steps_per_epoch, history), ckpt_path)
        last_save, since_save = time.monotonic(), 0
        env.barrier()
    if env.distributed:
        average_buffers(net, env)  # BN running statistics differ per rank (each saw its own slices)
        history["rank_digests"] = env.gather(state_digest(net))  # equal digests: every rank holds the same net
    if env.is_main:
        save_supernet(net, save_dir / SUPERNET, history=history)
    env.barrier()
    return history


def folder_problem(save_dir: Path, resume: bool, overwrite: bool) -> str | None:
    """Why training into ``save_dir`` would silently replace work (None when it would not)."""
    if resume or overwrite:
        return None
    if (save_dir / SUPERNET).is_file():
        return (f"{save_dir} already holds a trained supernet ({SUPERNET}); pass --resume to continue training it, "
                f"--overwrite to replace it, or another --save folder")
    if (save_dir / CHECKPOINT).is_file():
        return (f"{save_dir} holds an unfinished supernet training run ({CHECKPOINT}); pass --resume to continue it, "
                f"--overwrite to start again, or another --save folder")
    return None


def _checkpoint(net: torch.nn.Module, opt: torch.optim.Optimizer, epoch: int, step: int, steps_per_epoch: int,
                history: dict) -> dict:
    """The resumable state after ``step`` steps of epoch ``epoch`` (0-based; ``step`` 0: the epoch has not begun)."""
    return {"state_dict": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "step": step,
            "steps_per_epoch": steps_per_epoch, "history": history}


def _random_state(rng: np.random.Generator, device: torch.device) -> dict:
    """The generators a step draws from, as values the safe loader reads (numpy's state is a dict of ints)."""
    state = {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_random_state(state: dict, rng: np.random.Generator, device: torch.device) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def _batches_from(loader, start: int, stop: int) -> Iterator:
    """Batches ``start`` .. ``stop - 1`` of an epoch of ``loader``, the same as an iteration from the first batch
    would yield them: ``loader.iter_from(start)`` when the loader can skip cheaply, else the skipped batches are
    drawn and dropped. The iterator is started at once (its first batch fetched)."""
    it = loader.iter_from(start) if start and hasattr(loader, "iter_from") else itertools.islice(iter(loader), start, None)
    it = itertools.islice(it, stop - start)
    head = next(it, None)
    return iter(()) if head is None else itertools.chain([head], it)


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
