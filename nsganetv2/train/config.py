"""The fine-tuning recipe: one ``TrainConfig`` dataclass, its argparse flags and recipe defaults.

Two recipes share one training loop (``nsganetv2.train.finetune.train``):

- ``cifar``: the original ``train_cifar.py`` (SGD with momentum, cosine per epoch, gradient clipping 5, no label
  smoothing, RandomCrop(pad 4) + flip [+ CIFAR AutoAugment] [+ Cutout], batches upsampled bicubically to
  ``img_size``);
- ``imagenet``: the original ``train_imagenet.py`` README recipe on timm parts (RMSpropTF, step decay 0.97 every
  2.4 epochs, 3 warm-up epochs, RandAugment ``rand-m9-mstd0.5``, random erasing 0.2, label smoothing 0.1, EMA
  0.9999, AMP) with optional distillation from a supernet's largest subnet.

Fields left ``None`` take the recipe's default (:data:`RECIPES`) in :meth:`TrainConfig.resolved`.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["RECIPES", "TrainConfig", "add_train_args", "config_from_args"]

RECIPES: dict[str, dict[str, Any]] = {
    "cifar": dict(epochs=150, batch_size=96, opt="momentum", opt_eps=None, sched="cosine", lr=0.01,
                  weight_decay=4e-5, warmup_epochs=0.0, warmup_lr=1e-6, min_lr=0.0, decay_epochs=30.0,
                  decay_rate=0.1, grad_clip=5.0, smoothing=0.0, aa=None, reprob=0.0, model_ema=False,
                  amp="off", seed=0, workers=2, filter_bias_and_bn=False),
    "imagenet": dict(epochs=450, batch_size=128, opt="rmsproptf", opt_eps=1e-3, sched="step", lr=None,
                     weight_decay=1e-5, warmup_epochs=3.0, warmup_lr=1e-6, min_lr=1e-5, decay_epochs=2.4,
                     decay_rate=0.97, grad_clip=None, smoothing=0.1, aa="rand-m9-mstd0.5", reprob=0.2,
                     model_ema=True, amp="auto", seed=42, workers=6, filter_bias_and_bn=True),
}
LR_PER_256 = 0.006  # the ImageNet recipe's rule: lr = global batch / 256 * 0.006 (0.024 for 8 x 128)


@dataclass
class TrainConfig:
    """Everything one fine-tuning run needs (mirrors train_cifar.py / train_imagenet.py flags)."""

    model_config: str = ""  # net.config (OFA layout + resolution)
    initial_checkpoint: str | None = None  # net.inherited or any state dict (raw or {"state_dict": ...})
    recipe: str | None = None  # None: "imagenet" for the imagenet dataset, else "cifar"
    dataset: str = "cifar10"
    model: str | None = None  # a run name for the output folder only (the original's --model)
    data: str | None = None
    save: str | None = None  # None: "<timestamp>-<dataset>-<model>-<img>" (train_cifar.py's naming)
    resume: str | None = None  # last.pth or the folder holding it
    # schedule / optimiser (None: recipe default)
    epochs: int | None = None
    batch_size: int | None = None  # per process
    eval_batch_size: int = 200
    opt: str | None = None
    opt_eps: float | None = None
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    sched: str | None = None
    warmup_epochs: float | None = None
    warmup_lr: float | None = None
    min_lr: float | None = None
    decay_epochs: float | None = None
    decay_rate: float | None = None
    grad_clip: float | None = None
    smoothing: float | None = None
    filter_bias_and_bn: bool | None = None
    # model
    drop: float = 0.2
    drop_path: float = 0.2
    img_size: int | None = None  # None: the config's resolution (else 224)
    n_classes: int | None = None  # None: the data set's
    reset_classifier: bool = False  # force a fresh head even when the class count matches
    # augmentation
    cutout: bool = False
    cutout_length: int = 16
    autoaugment: bool = False
    aa: str | None = None
    reprob: float | None = None
    remode: str = "pixel"
    recount: int = 1
    mixup: float = 0.0
    cutmix: float = 0.0
    # EMA / AMP / distillation
    model_ema: bool | None = None
    model_ema_decay: float = 0.9999
    amp: str | None = None
    teacher: str | None = None  # OFA supernet checkpoint; its largest subnet teaches
    teacher_mode: str = "eval"  # "eval" (default) or "train" (the original / OFA)
    kd_ratio: float = 1.0
    kd_temperature: float = 1.0
    # data / runtime
    vld_size: int | None = None
    in_memory: bool | None = None  # None: uint8 batch transforms where the data set has tensors
    workers: int | None = None
    seed: int | None = None
    device: str | None = None  # None: cuda:<local rank> when available, else cpu
    compile: bool = False
    sync_bn: bool = False
    threads: int | None = None  # torch.set_num_threads (1 by default in multi-process CPU runs)
    max_steps: int | None = None  # cap the optimiser steps per epoch (tests, smoke runs)
    eval_test: bool = True  # top-1 of the best weights on the test split at the end
    evaluate: bool = False  # only evaluate the loaded network on the test split (train_cifar.py --evaluate)
    report_freq: int = 50  # log the running loss and top-1 every this many steps (0: per epoch only)
    topk: int = 0  # keep the weights of the k best epochs as top/epoch_<n>_<top1>.pth besides net.best
    progress: bool = True

    def resolved(self, world_size: int = 1) -> "TrainConfig":
        """A copy with every ``None`` recipe field filled in and the values checked."""
        recipe = self.recipe or ("imagenet" if self.dataset == "imagenet" else "cifar")
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; use one of {sorted(RECIPES)}")
        if not self.model_config:
            raise ValueError("model_config is required: pass --model-config PATH/net.config")
        defaults = RECIPES[recipe]
        updates = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        cfg = replace(self, recipe=recipe, **updates)
        if cfg.lr is None:
            cfg.lr = cfg.batch_size * world_size / 256 * LR_PER_256
        for name, v in (("report_freq", cfg.report_freq), ("topk", cfg.topk)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        for name in ("epochs", "batch_size", "eval_batch_size", "cutout_length", "recount"):
            v = getattr(cfg, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if cfg.max_steps is not None and cfg.max_steps < 1:
            raise ValueError(f"max_steps must be a positive int or None, got {cfg.max_steps!r}")
        for name in ("drop", "drop_path", "reprob", "smoothing"):
            v = getattr(cfg, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        if cfg.lr <= 0:
            raise ValueError(f"lr must be > 0, got {cfg.lr}")
        if cfg.teacher_mode not in ("eval", "train"):
            raise ValueError(f"teacher_mode must be 'eval' or 'train', got {cfg.teacher_mode!r}")
        if cfg.kd_ratio < 0 or cfg.kd_temperature <= 0:
            raise ValueError("kd_ratio must be >= 0 and kd_temperature > 0")
        if cfg.remode not in ("const", "rand", "pixel"):
            raise ValueError(f"remode must be const, rand or pixel, got {cfg.remode!r}")
        return cfg

    def as_dict(self) -> dict:
        return asdict(self)


def _bool(p: argparse.ArgumentParser, *names: str, dest: str, help: str) -> None:
    p.add_argument(*names, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help)


def add_train_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the fine-tuning flags (both original spellings where train_cifar.py and timm differ)."""
    g = parser.add_argument_group("fine-tune")
    g.add_argument("data_root", nargs="?", default=None, metavar="DATA",
                   help="dataset root, as train_imagenet.py takes it (then --dataset defaults to imagenet)")
    g.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="cifar: train_cifar.py defaults; imagenet: train_imagenet.py README recipe (default: "
                        "imagenet for --dataset imagenet, else cifar)")
    g.add_argument("--model-config", "--model_config", "-m", dest="model_config", required=True,
                   help="net.config of the network to fine-tune")
    g.add_argument("--model", default=None, help="a name for the output folder only (as in the original)")
    g.add_argument("--initial-checkpoint", "--initial_checkpoint", "--pretrained", dest="initial_checkpoint",
                   default=None, help="weights to start from (net.inherited; raw or {'state_dict': ...})")
    g.add_argument("--dataset", default=None, help="default cifar10, or imagenet when DATA is given")
    g.add_argument("--data", default=None, help="dataset root (ignored for mnist5k)")
    g.add_argument("--save", nargs="?", const=None, default=None,
                   help="output folder (default, or a bare --save as in train_cifar.py: "
                        "<time>-<dataset>-<model>-<img>)")
    g.add_argument("--resume", default=None, help="last.pth, or the folder holding it")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("-b", "--batch-size", "--batch_size", dest="batch_size", type=int, default=None,
                   help="per-process batch")
    g.add_argument("--eval-batch-size", "--vld_batch_size", dest="eval_batch_size", type=int, default=200)
    g.add_argument("--opt", default=None, help="timm optimizer name (cifar: momentum = torch SGD)")
    g.add_argument("--opt-eps", dest="opt_eps", type=float, default=None)
    g.add_argument("--lr", type=float, default=None,
                   help="cifar 0.01; imagenet global batch / 256 * 0.006")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight_decay", "--weight-decay", "--wd", dest="weight_decay", type=float, default=None)
    g.add_argument("--sched", default=None, help="timm scheduler (cosine, step, ...)")
    g.add_argument("--warmup-epochs", dest="warmup_epochs", type=float, default=None)
    g.add_argument("--warmup-lr", dest="warmup_lr", type=float, default=None)
    g.add_argument("--min-lr", dest="min_lr", type=float, default=None)
    g.add_argument("--decay-epochs", dest="decay_epochs", type=float, default=None)
    g.add_argument("--decay-rate", "--dr", dest="decay_rate", type=float, default=None)
    g.add_argument("--grad_clip", "--grad-clip", "--clip-grad", dest="grad_clip", type=float, default=None)
    g.add_argument("--smoothing", type=float, default=None, help="label smoothing")
    g.add_argument("--drop", type=float, default=0.2, help="classifier dropout")
    g.add_argument("--drop-path", "--drop_path", dest="drop_path", type=float, default=0.2)
    g.add_argument("--img-size", "--img_size", dest="img_size", type=int, default=None)
    g.add_argument("--n_classes", "--num-classes", dest="n_classes", type=int, default=None)
    g.add_argument("--reset-classifier", dest="reset_classifier", action="store_true",
                   help="fresh head even when the class count matches")
    g.add_argument("--cutout", action="store_true")
    g.add_argument("--cutout_length", "--cutout-length", dest="cutout_length", type=int, default=16)
    g.add_argument("--autoaugment", action="store_true", help="CIFAR10 AutoAugment policy")
    g.add_argument("--aa", default=None, help="timm RandAugment string, e.g. rand-m9-mstd0.5")
    g.add_argument("--reprob", type=float, default=None, help="random erasing probability")
    g.add_argument("--remode", default="pixel")
    g.add_argument("--recount", type=int, default=1)
    g.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0 = off)")
    g.add_argument("--cutmix", type=float, default=0.0, help="cutmix alpha (0 = off)")
    _bool(g, "--model-ema", dest="model_ema", help="EMA of the weights (timm ModelEmaV3)")
    g.add_argument("--model-ema-decay", dest="model_ema_decay", type=float, default=0.9999)
    g.add_argument("--amp", nargs="?", const="auto", default=None, choices=("auto", "off", "fp16", "bf16"),
                   help="autocast; a bare --amp (the original's) means auto: fp16 on CUDA")
    g.add_argument("--teacher", default=None, help="OFA supernet checkpoint; its largest subnet distils")
    g.add_argument("--teacher-mode", dest="teacher_mode", choices=("eval", "train"), default="eval")
    g.add_argument("--kd-ratio", dest="kd_ratio", type=float, default=1.0)
    g.add_argument("--kd-temperature", dest="kd_temperature", type=float, default=1.0)
    g.add_argument("--vld_size", "--vld-size", dest="vld_size", type=int, default=None)
    _bool(g, "--in-memory", dest="in_memory", help="batch transforms on in-memory tensors (default: if available)")
    g.add_argument("-j", "--workers", "--num_workers", dest="workers", type=int, default=None)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--device", default=None)
    g.add_argument("--compile", action="store_true", help="torch.compile the student")
    g.add_argument("--sync-bn", dest="sync_bn", action="store_true")
    g.add_argument("--threads", type=int, default=None)
    g.add_argument("--max-steps", dest="max_steps", type=int, default=None, help="cap steps per epoch")
    g.add_argument("--no-eval-test", dest="eval_test", action="store_false",
                   help="skip the final test-split evaluation")
    g.add_argument("--evaluate", action="store_true",
                   help="only evaluate the network (--model-config + --initial-checkpoint) on the test split")
    g.add_argument("--report_freq", "--report-freq", "--log-interval", dest="report_freq", type=int, default=50,
                   help="log the running loss and top-1 every N steps")
    g.add_argument("--topk", type=int, default=0,
                   help="keep the weights of the k best epochs (top/epoch_<n>_<top1>.pth)")
    g.add_argument("--n_gpus", type=int, default=1,
                   help="GPUs on this machine: more than 1 runs one process per GPU under torchrun")
    g.add_argument("--quiet", dest="progress", action="store_false", help="no progress bar")
    return parser


def config_from_args(ns: argparse.Namespace) -> TrainConfig:
    """``TrainConfig`` from a namespace filled by :func:`add_train_args` (unknown attributes are ignored)."""
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(ns).items() if k in names}
    root = getattr(ns, "data_root", None)
    if root is not None:
        if values.get("data") not in (None, root):
            raise ValueError(f"two data roots: DATA {root} and --data {values['data']}; give one")
        values["data"] = root
    if values.get("dataset") is None:  # train_imagenet.py's positional DATA is an ImageNet folder
        values["dataset"] = "imagenet" if root is not None else "cifar10"
    cfg = TrainConfig(**values)
    if cfg.n_classes is not None and cfg.n_classes < 1:
        raise ValueError(f"--n_classes must be >= 1 (or left out for the dataset's), got {cfg.n_classes}")
    return cfg
