"""Fine-tune a searched network (``net.config`` + inherited weights): the one training loop of both recipes.

``train(TrainConfig)`` runs in one process or under ``torchrun`` (one process per GPU, any number of machines;
gloo on CPUs). Per epoch: train on this process's shard, average the BN statistics over ranks, top-1 on the
held-out split (and of the EMA weights), then rank 0 writes ``last.pth`` (atomic: weights, optimiser, scheduler,
EMA, AMP scaler, curves, epoch), ``net.best`` when the held-out top-1 improves, ``log.csv`` / ``log.json`` /
``curves.png``. ``resume`` continues from the epoch after the checkpoint's; since every random stream (data
order, augmentation, dropout, drop-path) is re-seeded from ``(seed, epoch, rank)`` at the start of each epoch, a
resumed run gives the same weights as an uninterrupted one.

Outputs in ``save``: ``net.config`` (the fine-tuned network, with ``resolution``), ``net.best`` (raw state dict,
loadable by ``nsganetv2 validate --model net.config --pretrained net.best``), ``last.pth`` and the logs.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from nsganetv2.atomic import torch_load_safe, torch_save_atomic, write_json_atomic
from nsganetv2.evaluation.accuracy import (
    Accuracy,
    autocast,
    evaluate,
    maybe_compile,
    precision_record,
    resolve_amp,
)

from .augment import upsample
from .config import TrainConfig
from .data import FinetuneData, build_finetune_data, item_seed
from nsganetv2.distributed import DistEnv, average_buffers, init_distributed, state_digest
from .logs import plot_curves, write_logs
from .model import build_student, distillation_loss, load_teacher, mixed_loss

log = logging.getLogger(__name__)

__all__ = ["train", "find_checkpoint"]

CHECKPOINT = "last.pth"
BEST = "net.best"


def find_checkpoint(resume: str | os.PathLike) -> Path:
    """``resume`` itself if a file, else ``resume/last.pth``; ValueError when there is none."""
    p = Path(resume)
    if p.is_dir():
        p = p / CHECKPOINT
    if not p.is_file():
        raise ValueError(f"no checkpoint at {p}; pass --resume with a last.pth file or the folder holding it")
    return p


def _seed_everything(seed: int, epoch: int, rank: int) -> None:
    s = item_seed(seed, epoch, rank)
    torch.manual_seed(s)
    np.random.seed(s % (2**32))
    random.seed(s)


def _plain(obj: Any) -> Any:
    """``obj`` as JSON values (lists, dicts, str, numbers): what a checkpoint may hold besides tensors, so that the safe
    loader reads it back (a path, a numpy number or a scheduler's helper object would not load)."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _save_obj(obj: Any, path: Path) -> None:
    torch_save_atomic(obj, path)


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _evaluate(model: nn.Module, loader, env: DistEnv, amp_dtype) -> Accuracy:
    """Held-out/test accuracy summed over the ranks' shards."""
    if loader.n_images:
        a = evaluate(model, loader, env.device, amp_dtype)
        part = [a.top1 * a.n / 100.0, a.top5 * a.n / 100.0, a.loss * a.n, float(a.n)]
    else:
        part = [0.0, 0.0, 0.0, 0.0]
    c1, c5, loss, n = env.all_sum(part)
    if n == 0:
        raise ValueError("the evaluation split is empty; check --vld_size")
    return Accuracy(top1=100.0 * c1 / n, top5=100.0 * c5 / n, loss=loss / n, n=int(n))


class _Trainer:
    def __init__(self, cfg: TrainConfig, env: DistEnv) -> None:
        from timm.optim import create_optimizer_v2
        from timm.scheduler import create_scheduler_v2

        from nsganetv2.evaluation.validate import network_resolution
        from nsganetv2.supernet import save_net_config

        self.cfg, self.env, dev = cfg, env, env.device
        ckpt = None
        if cfg.resume:
            path = find_checkpoint(cfg.resume)
            ckpt = torch_load_safe(path, "checkpoint")
            save = cfg.save or str(path.parent)
        else:
            img = network_resolution(cfg.model_config, cfg.img_size)[0]
            name = cfg.model or Path(cfg.model_config).parent.name or "net"
            save = cfg.save or f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.dataset}-{name}-{img}"
        self.save = Path(env.gather(save)[0])
        if env.is_main:
            self.save.mkdir(parents=True, exist_ok=True)
        env.barrier()

        self.img_size, source = network_resolution(cfg.model_config, cfg.img_size)
        log.info("fine-tuning at %d px (%s)", self.img_size, source)
        self.data: FinetuneData = build_finetune_data(
            cfg.recipe, cfg.dataset, cfg.data, self.img_size, batch_size=cfg.batch_size,
            eval_batch_size=cfg.eval_batch_size, vld_size=cfg.vld_size, seed=cfg.seed, rank=env.rank,
            world=env.world, n_workers=cfg.workers, autoaugment=cfg.autoaugment,
            cutout=cfg.cutout_length if cfg.cutout else None, rand_augment=cfg.aa,
            in_memory=cfg.in_memory)
        n_classes = self.data.n_classes
        if cfg.n_classes is not None and cfg.n_classes != n_classes:
            raise ValueError(f"--n_classes {cfg.n_classes} but {cfg.dataset} has {n_classes} classes; drop the flag")

        model = build_student(cfg.model_config, cfg.initial_checkpoint, n_classes, cfg.drop, cfg.drop_path,
                              cfg.reset_classifier)
        model.resolution = self.img_size
        if env.is_main:
            save_net_config(model, self.save / "net.config", resolution=self.img_size)
        model = model.to(dev)
        if cfg.sync_bn and env.distributed:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model
        self.teacher = load_teacher(cfg.teacher, n_classes, cfg.teacher_mode).to(dev) if cfg.teacher else None

        opt_kw = {} if cfg.opt_eps is None else {"eps": cfg.opt_eps}
        self.optimizer = create_optimizer_v2(model, opt=cfg.opt, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                             momentum=cfg.momentum, filter_bias_and_bn=cfg.filter_bias_and_bn,
                                             **opt_kw)
        self.steps = len(self.data.train) if cfg.max_steps is None else min(len(self.data.train), cfg.max_steps)
        if self.steps < 1:
            raise ValueError("an epoch has no training steps: the training split is smaller than one batch")
        self.scheduler, _ = create_scheduler_v2(
            self.optimizer, sched=cfg.sched, num_epochs=cfg.epochs, decay_epochs=cfg.decay_epochs,
            decay_rate=cfg.decay_rate, min_lr=cfg.min_lr, warmup_lr=cfg.warmup_lr,
            warmup_epochs=int(round(cfg.warmup_epochs)), updates_per_epoch=self.steps)
        self.ema = None
        if cfg.model_ema:
            from timm.utils import ModelEmaV3

            self.ema = ModelEmaV3(model, decay=cfg.model_ema_decay)
        self.amp_dtype = resolve_amp(cfg.amp, dev)
        self.scaler = torch.amp.GradScaler(dev.type) if self.amp_dtype == torch.float16 else None
        self.mixup = None
        if cfg.mixup > 0 or cfg.cutmix > 0:
            from timm.data import Mixup

            self.mixup = Mixup(mixup_alpha=cfg.mixup, cutmix_alpha=cfg.cutmix, label_smoothing=cfg.smoothing,
                               num_classes=n_classes)
        self.erase = None
        if cfg.reprob > 0:
            from timm.data.random_erasing import RandomErasing

            self.erase = RandomErasing(cfg.reprob, mode=cfg.remode, max_count=cfg.recount, device=dev)

        self.start_epoch, self.history, self.best, self.best_state = 0, [], None, None
        if ckpt is not None:
            self._restore(ckpt)
        self.train_model: nn.Module = model
        if env.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.train_model = DDP(model, device_ids=[dev] if dev.type == "cuda" else None)
        self.train_model = maybe_compile(self.train_model, cfg.compile)

    # ---- checkpoint ----------------------------------------------------------------------------------------
    def _restore(self, ckpt: dict) -> None:
        missing = [k for k in ("model", "optimizer", "epoch") if k not in ckpt] if isinstance(ckpt, dict) else ["model"]
        if missing:
            raise ValueError(f"the --resume checkpoint is not a fine-tuning checkpoint (it lacks {missing}); pass the "
                             "last.pth of a `nsganetv2 train` run")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        # the schedule is a pure function of (config, epoch, update): rebuilt from the flags, not restored, so a
        # finished run can also be extended with a larger --epochs
        if self.ema is not None:
            if ckpt.get("ema") is None:
                raise ValueError("the checkpoint has no EMA weights; resume with --no-model-ema")
            self.ema.module.load_state_dict(ckpt["ema"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.start_epoch = int(ckpt["epoch"])
        self.history = list(ckpt.get("history", []))
        self.best = ckpt.get("best")
        old = ckpt.get("config", {})
        ignore = {"resume", "save", "epochs", "progress", "max_steps", "eval_test", "device", "threads"}
        diff = sorted(k for k, v in _plain(asdict(self.cfg)).items() if k not in ignore and k in old and old[k] != v)
        if diff:
            log.warning("resuming with settings that differ from the checkpoint's: %s", ", ".join(diff))
        log.info("resumed from epoch %d", self.start_epoch)

    def _checkpoint(self, epoch: int) -> dict:
        return {"epoch": epoch + 1, "model": _cpu_state(self.model), "optimizer": self.optimizer.state_dict(),
                "scheduler": _plain(self.scheduler.state_dict()),
                "ema": _cpu_state(self.ema.module) if self.ema is not None else None,
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "history": _plain(self.history), "best": _plain(self.best), "config": _plain(asdict(self.cfg)),
                "net_config": _plain(self.model.config)}

    # ---- one epoch -------------------------------------------------------------------------------------------
    def _label_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.dim() == 2:  # soft targets from mixup / cutmix
            return torch.sum(-target * F.log_softmax(out, dim=-1), dim=-1).mean()
        return F.cross_entropy(out, target, label_smoothing=self.cfg.smoothing)

    def train_epoch(self, epoch: int) -> dict:
        cfg, env, dev = self.cfg, self.env, self.env.device
        self.train_model.train()
        if self.teacher is not None:
            self.teacher.train(cfg.teacher_mode == "train")
        loss_sum = kd_sum = correct = n = 0.0
        num_updates = epoch * self.steps
        bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=not (cfg.progress and env.is_main))
        params = [p for p in self.model.parameters() if p.requires_grad]
        for step, (x, y) in enumerate(self.data.train):
            if step >= self.steps:
                break
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            if self.data.upsample_to:
                x = upsample(x, self.data.upsample_to)
            if self.erase is not None:
                x = self.erase(x)
            target = y
            if self.mixup is not None:
                x, target = self.mixup(x, y)
            with autocast(dev, self.amp_dtype):
                out = self.train_model(x)
            out = out.float()
            label_loss = self._label_loss(out, target)
            kd = None
            if self.teacher is not None:
                with torch.no_grad(), autocast(dev, self.amp_dtype):
                    t_out = self.teacher(x)
                kd = distillation_loss(out, t_out.float(), cfg.kd_temperature)
            loss = mixed_loss(label_loss, kd, cfg.kd_ratio)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch + 1} step {step}; lower --lr")
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                if cfg.grad_clip:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                self.optimizer.step()
            num_updates += 1
            self.scheduler.step_update(num_updates=num_updates)
            if self.ema is not None:
                self.ema.update(self.model, step=num_updates)
            b = y.shape[0]
            loss_sum += loss.item() * b
            kd_sum += (kd.item() if kd is not None else 0.0) * b
            correct += (out.argmax(1) == y).sum().item()
            n += b
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / n:.3f}", top1=f"{100 * correct / n:.1f}")
            if cfg.report_freq and (step + 1) % cfg.report_freq == 0 and env.is_main:
                log.info("epoch %d step %d/%d: loss %.4f top-1 %.2f (this process, so far)", epoch + 1, step + 1,
                         self.steps, loss_sum / n, 100 * correct / n)
        bar.close()
        loss_sum, kd_sum, correct, n = self.env.all_sum([loss_sum, kd_sum, correct, n])
        out = {"train_loss": loss_sum / n, "train_top1": 100.0 * correct / n}
        if self.teacher is not None:
            out["train_kd"] = kd_sum / n
        return out

    # ---- the run -------------------------------------------------------------------------------------------
    def evaluate_only(self) -> dict:
        """The loaded network's top-1 on the test split (``--evaluate``), written to ``net.stats``."""
        test = _evaluate(self.model, self.data.test(), self.env, self.amp_dtype).as_dict()
        if self.env.is_main:
            log.info("test top-1 %.2f (no training: --evaluate)", test["top1"])
            write_json_atomic(self.save / "net.stats", {"precision": precision_record(self.amp_dtype, self.env.device),
                                                        "test": test}, indent=2)
        self.env.barrier()
        return {"save": str(self.save), "history": [], "best": None, "test": test}

    def _keep_topk(self, epoch: int, score: float) -> None:
        """The weights of the ``topk`` best epochs as ``top/epoch_<n>_<top1>.pth`` (train_cifar.py's --topk)."""
        k = self.cfg.topk
        top = self.save / "top"
        kept = sorted(((float(p.stem.split("_")[2]), int(p.stem.split("_")[1]), p) for p in top.glob("epoch_*_*.pth")),
                      reverse=True) if top.is_dir() else []
        if len(kept) >= k and kept and score <= kept[-1][0]:
            return
        top.mkdir(exist_ok=True)
        _save_obj(_cpu_state(self.ema.module if self.ema is not None else self.model),
                  top / f"epoch_{epoch + 1}_{score:.4f}.pth")
        for _, _, path in kept[k - 1:]:
            path.unlink()

    def run(self) -> dict:
        cfg, env = self.cfg, self.env
        if cfg.evaluate:
            return self.evaluate_only()
        for epoch in range(self.start_epoch, cfg.epochs):
            t0 = time.time()
            _seed_everything(cfg.seed, epoch, env.rank)
            self.data.train.set_epoch(epoch)
            self.scheduler.step(epoch)
            lr = self.optimizer.param_groups[0]["lr"]
            row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr}
            row.update(self.train_epoch(epoch))
            average_buffers(self.model, env)
            valid = _evaluate(self.model, self.data.valid, env, self.amp_dtype)
            row.update(valid_top1=valid.top1, valid_top5=valid.top5, valid_loss=valid.loss)
            score, which = valid.top1, self.model
            if self.ema is not None:
                average_buffers(self.ema.module, env)
                ema_valid = _evaluate(self.ema.module, self.data.valid, env, self.amp_dtype)
                row.update(ema_valid_top1=ema_valid.top1, ema_valid_top5=ema_valid.top5,
                           ema_valid_loss=ema_valid.loss)
                score, which = ema_valid.top1, self.ema.module
            row["time_s"] = round(time.time() - t0, 3)
            self.history.append(row)
            is_best = self.best is None or score > self.best["valid_top1"]
            if is_best:
                self.best = {"epoch": epoch + 1, "valid_top1": score, "ema": self.ema is not None}
                self.best_state = _cpu_state(which)
            if env.is_main:
                if is_best:
                    _save_obj(self.best_state, self.save / BEST)
                if cfg.topk:
                    self._keep_topk(epoch, score)
                _save_obj(self._checkpoint(epoch), self.save / CHECKPOINT)
                write_logs(self.save, self.history, {"config": asdict(cfg), "best": self.best})
                plot_curves(self.save, self.history)
                log.info("epoch %d/%d lr %.3g train loss %.4f top-1 %.2f | held-out top-1 %.2f%s", epoch + 1,
                         cfg.epochs, lr, row["train_loss"], row["train_top1"], valid.top1,
                         f" (EMA {row['ema_valid_top1']:.2f})" if self.ema is not None else "")
            env.barrier()

        result: dict[str, Any] = {"save": str(self.save), "history": self.history, "best": self.best,
                                  "test": None}
        if cfg.eval_test and self.history:
            state = self.best_state
            if state is None:
                state = torch_load_safe(self.save / BEST, "best weights")
            net = copy.deepcopy(self.model)
            net.load_state_dict(state)
            result["test"] = _evaluate(net, self.data.test(), env, self.amp_dtype).as_dict()
            if env.is_main:
                log.info("test top-1 %.2f (best epoch %d)", result["test"]["top1"], self.best["epoch"])
        result["rank_digests"] = env.gather(state_digest(self.model))
        if env.is_main:
            write_logs(self.save, self.history, {"config": asdict(cfg), "best": self.best, "test": result["test"],
                                                 "rank_digests": result["rank_digests"]})
            # beside net.config, so that `validate` measures net.best in the precision these numbers came from
            write_json_atomic(self.save / "net.stats", {"precision": precision_record(self.amp_dtype, env.device),
                                                        "best": self.best, "test": result["test"]}, indent=2)
        env.barrier()
        return result


def train(cfg: TrainConfig) -> dict:
    """Fine-tune as ``cfg`` says; returns ``{"save", "history", "best", "test", "rank_digests"}``.

    Under torchrun every process calls this; rank 0 writes the files. ``history`` is a list of per-epoch dicts
    (lr, train_loss, train_top1, valid_top1/top5/loss, EMA columns, time_s).
    """
    env = init_distributed(cfg.device)
    try:
        cfg = cfg.resolved(env.world)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        elif env.distributed and env.device.type == "cpu":
            torch.set_num_threads(1)
        if cfg.sync_bn and env.distributed and env.device.type != "cuda":
            raise ValueError("--sync-bn needs CUDA devices; drop it on CPU")
        if cfg.batch_size % 2 and (cfg.mixup or cfg.cutmix):
            raise ValueError("mixup/cutmix need an even --batch-size")
        return _Trainer(cfg, env).run()
    finally:
        env.close()

