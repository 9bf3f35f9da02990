"""Student, teacher and the distillation loss of fine-tuning.

Student: ``net.config`` + weights (``load_network``), the head replaced only when the class count differs (or
when forced), unlike train_cifar.py, which reset it after loading and so lost the trained head. ``--drop`` sets
the head's dropout whether or not the head is reset (the original ignored it without ``--reset-classifier``).

Teacher: the supernet's largest subnet, in eval mode by default (``teacher_mode="train"`` reproduces the
original, which left it in train mode as OFA does).

Loss with a teacher: ``(label_loss + kd_ratio * kd) * 2 / (1 + kd_ratio)`` as in train_imagenet.py, where
``kd = T^2 * KL(softmax(teacher / T) || softmax(student / T))``. KL differs from the original's soft
cross-entropy only by the teacher's entropy, a constant: the gradients are the same.
"""
from __future__ import annotations

import logging
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger(__name__)

__all__ = ["build_student", "distillation_loss", "load_teacher", "mixed_loss", "set_head_dropout"]


def set_head_dropout(net: nn.Module, rate: float) -> None:
    """Give the classifier dropout ``rate`` in place, keeping its weights."""
    from nsganetv2.supernet.layers import LinearLayer

    old = net.classifier
    if getattr(old, "dropout_rate", None) == rate:
        return
    head = LinearLayer(old.in_features, old.out_features, bias=old.bias, dropout_rate=rate)
    head.linear = old.linear
    net.classifier = head.train(old.training)


def build_student(model_config: str | os.PathLike, weights: str | os.PathLike | None, n_classes: int,
                  drop: float = 0.2, drop_path: float = 0.0, reset_classifier: bool = False) -> nn.Module:
    """The network to fine-tune: built, loaded, head replaced only if the class count differs (or forced)."""
    from nsganetv2.evaluation.validate import load_network

    net = load_network(model_config, weights)
    if reset_classifier or net.n_classes != n_classes:
        log.info("new %d-class head (the checkpoint's has %d classes)", n_classes, net.n_classes)
        net.reset_classifier(n_classes, dropout_rate=drop)
    else:
        set_head_dropout(net, drop)
    net.set_drop_path(drop_path)
    return net.train()


def load_teacher(path: str | os.PathLike, n_classes: int, mode: str = "eval") -> nn.Module:
    """The largest subnet of the supernet in ``path`` (its head must already have ``n_classes`` outputs)."""
    from nsganetv2.supernet import load_supernet

    if not os.path.isfile(path):
        raise ValueError(f"teacher checkpoint {path} does not exist; pass an OFA supernet file to --teacher")
    sup = load_supernet(path)
    if sup.n_classes != n_classes:
        raise ValueError(f"the teacher supernet has a {sup.n_classes}-class head but the data has {n_classes} "
                         "classes; give a supernet trained on this data set, or drop --teacher")
    teacher = sup.extract(sup.max_config())
    del sup
    for p in teacher.parameters():
        p.requires_grad_(False)
    if mode not in ("eval", "train"):
        raise ValueError(f"teacher mode must be 'eval' or 'train', got {mode!r}")
    return teacher.train(mode == "train")


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher/T) || softmax(student/T))`` averaged over the batch (>= 0)."""
    t = float(temperature)
    log_p = F.log_softmax(student.float() / t, dim=1)
    log_q = F.log_softmax(teacher.float() / t, dim=1)
    return F.kl_div(log_p, log_q, reduction="batchmean", log_target=True) * (t * t)


def mixed_loss(label_loss: torch.Tensor, kd: torch.Tensor | None, kd_ratio: float) -> torch.Tensor:
    """``(label_loss + kd_ratio * kd) * 2 / (1 + kd_ratio)``; ``label_loss`` alone without a teacher."""
    if kd is None or kd_ratio == 0:
        return label_loss
    return (label_loss + kd_ratio * kd) * 2.0 / (1.0 + kd_ratio)
