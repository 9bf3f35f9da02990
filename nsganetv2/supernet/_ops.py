"""Small shared layers and functions: depthwise convolution, activations, drop path (OFA semantics); the shape
arithmetic lives in ``shapes.py``."""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

from .shapes import (
    CHANNEL_DIVISIBLE,
    SE_REDUCTION,
    conv_out_size,
    make_divisible,
    middle_channels,
    same_padding,
    se_channels,
    sub_filter_start_end,
)

__all__ = [
    "CHANNEL_DIVISIBLE",
    "SE_REDUCTION",
    "make_divisible",
    "middle_channels",
    "se_channels",
    "same_padding",
    "sub_filter_start_end",
    "conv_out_size",
    "depthwise_conv2d",
    "DepthwiseConv2d",
    "Hswish",
    "Hsigmoid",
    "build_activation",
    "drop_path",
]

MATRIX_DW_MAX_PIXELS = 16  # depthwise maps up to 4x4 run as one batched matmul (see depthwise_conv2d)


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """'Same'-padded (``k // 2``) depthwise convolution, fast on the small maps of low-resolution inputs.

    Same output and gradients as ``F.conv2d(x, weight, None, stride, k // 2, 1, C)``, computed in one of
    two ways that avoid oneDNN's slow paths for kernels as large as or larger than the map (7x7 kernels on
    the 4x4, 2x2 and 1x1 maps that late stages see at 32-64 px):

    - maps of 2..16 pixels (not during ONNX export): each channel's convolution is a small dense
      ``[out_pixels x in_pixels]`` matrix gathered from its taps, applied by one ``bmm`` over channels;
    - otherwise the kernel is centre-cropped to the taps that can reach the input (a tap further than
      ``size - 1`` from the centre only multiplies padding zeros; the cropped taps' gradients are zero).
    """
    c, h, w = x.shape[1], x.shape[-2], x.shape[-1]
    if torch.onnx.is_in_onnx_export():  # a dynamic batch axis traces shapes as values: the map size is static
        c, h, w = int(c), int(h), int(w)
    k_h, k_w = weight.shape[-2:]
    if 2 <= h * w <= MATRIX_DW_MAX_PIXELS and not torch.onnx.is_in_onnx_export():
        # torch.compile traces the index construction into the graph (constants there); the cache is for eager
        index = _tap_index.__wrapped__ if torch.compiler.is_compiling() else _tap_index
        gather, h_out, w_out = index(h, w, k_h, k_w, stride, x.device)
        taps = torch.cat([weight.reshape(c, k_h * k_w), weight.new_zeros(c, 1)], dim=1)
        matrices = taps[:, gather]  # [C, out_pixels, in_pixels]
        y = torch.bmm(x.reshape(x.shape[0], c, h * w).transpose(0, 1), matrices.transpose(1, 2))
        return y.transpose(0, 1).reshape(x.shape[0], c, h_out, w_out)
    p_h, p_w = k_h // 2, k_w // 2
    m_h, m_w = min(p_h, h - 1), min(p_w, w - 1)
    if m_h < p_h or m_w < p_w:
        weight = weight[:, :, p_h - m_h : p_h + m_h + 1, p_w - m_w : p_w + m_w + 1]
    return F.conv2d(x, weight, None, stride, (m_h, m_w), 1, c)


@functools.lru_cache(maxsize=256)
def _tap_index(h: int, w: int, k_h: int, k_w: int, stride: int, device: torch.device) -> tuple[torch.Tensor, int, int]:
    """For each (output pixel, input pixel) the flat tap index that links them, or ``k_h * k_w`` (zero) if none."""
    p_h, p_w = k_h // 2, k_w // 2
    h_out, w_out = (h - 1) // stride + 1, (w - 1) // stride + 1
    oi, oj = np.divmod(np.arange(h_out * w_out), w_out)
    ii, jj = np.divmod(np.arange(h * w), w)
    a = ii[None, :] - oi[:, None] * stride + p_h  # kernel row linking output (oi, oj) to input (ii, jj)
    b = jj[None, :] - oj[:, None] * stride + p_w
    inside = (a >= 0) & (a < k_h) & (b >= 0) & (b < k_w)
    index = np.where(inside, a * k_w + b, k_h * k_w)
    return torch.as_tensor(index, dtype=torch.long, device=device), h_out, w_out


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d`` (depthwise, 'same' padding, no bias) computed by :func:`depthwise_conv2d`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv2d(x, self.weight, self.stride[0])


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
    if act_func == "mish":  # NAT's configs: x * tanh(softplus(x))
        return nn.Mish(inplace=inplace)
    if act_func is None or act_func == "none":
        return None
    raise ValueError(f"unknown act_func {act_func!r}; use relu, relu6, h_swish, h_sigmoid, sigmoid, tanh, mish or none")


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample: zero the residual branch with probability ``rate``, rescale the rest."""
    if rate <= 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep
