"""Small shared pieces: channel rounding, activations, padding helpers (OFA semantics)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "CHANNEL_DIVISIBLE",
    "SE_REDUCTION",
    "make_divisible",
    "middle_channels",
    "se_channels",
    "same_padding",
    "sub_filter_start_end",
    "conv_out_size",
    "Hswish",
    "Hsigmoid",
    "build_activation",
    "drop_path",
]

CHANNEL_DIVISIBLE = 8
SE_REDUCTION = 4


def make_divisible(v: float, divisor: int = CHANNEL_DIVISIBLE, min_val: Optional[int] = None) -> int:
    """Round ``v`` to a multiple of ``divisor`` (TF/OFA rule: never more than 10% below ``v``)."""
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def middle_channels(in_channels: int, expand_ratio: float) -> int:
    """Middle (expanded) width of an MBConv block: ``make_divisible(round(in * e), 8)``."""
    return make_divisible(round(in_channels * expand_ratio), CHANNEL_DIVISIBLE)


def se_channels(channels: int) -> int:
    """Hidden width of the squeeze-excitation module: ``make_divisible(C // 4, 8)``."""
    return make_divisible(channels // SE_REDUCTION, CHANNEL_DIVISIBLE)


def same_padding(kernel_size: int) -> int:
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel size must be odd, got {kernel_size}")
    return kernel_size // 2


def sub_filter_start_end(kernel_size: int, sub_kernel_size: int) -> tuple[int, int]:
    center = kernel_size // 2
    dev = sub_kernel_size // 2
    return center - dev, center + dev + 1


def conv_out_size(size: int, kernel_size: int, stride: int) -> int:
    """Spatial output size of a 'same'-padded convolution (padding k//2)."""
    pad = kernel_size // 2
    return (size + 2 * pad - kernel_size) // stride + 1


class Hswish(nn.Module):
    """h-swish(x) = x * relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = True) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.relu6(x + 3.0, inplace=self.inplace) / 6.0

    def __repr__(self) -> str:
        return "Hswish()"


class Hsigmoid(nn.Module):
    """h-sigmoid(x) = relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = True) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0, inplace=self.inplace) / 6.0

    def __repr__(self) -> str:
        return "Hsigmoid()"


def build_activation(act_func: Optional[str], inplace: bool = True) -> Optional[nn.Module]:
    if act_func == "relu":
        return nn.ReLU(inplace=inplace)
    if act_func == "relu6":
        return nn.ReLU6(inplace=inplace)
    if act_func == "h_swish":
        return Hswish(inplace=inplace)
    if act_func == "h_sigmoid":
        return Hsigmoid(inplace=inplace)
    if act_func == "sigmoid":
        return nn.Sigmoid()
    if act_func == "tanh":
        return nn.Tanh()
    if act_func is None or act_func == "none":
        return None
    raise ValueError(f"unknown act_func {act_func!r}; use relu, relu6, h_swish, h_sigmoid, sigmoid, tanh or none")


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample: zero the residual branch with probability ``rate``, rescale the rest."""
    if rate <= 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep
