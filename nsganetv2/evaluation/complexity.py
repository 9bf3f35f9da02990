"""Params and FLOPs of OFA MobileNetV3 subnets: analytic (from the config, cached) and hook-based.

Definitions (those of the ``ofa`` package: ``ofa.utils.count_parameters`` and ``ofa.utils.count_net_flops``):

* **params**: the number of elements of all trainable parameters of the extracted static subnet, classifier
  included (conv weights, BN affine weights and biases, SE conv weights and biases, linear weight and bias;
  BN running statistics are buffers, not parameters).
* **FLOPs** are multiply-accumulates (MACs) of convolutions and linear layers for one image of size r x r:
  a convolution counts ``in_channels / groups * kh * kw`` per output element (bias not counted), a linear layer
  ``in_features * out_features``. BatchNorm, activations, pooling, the SE multiplication and residual additions
  count 0.
* **FLOPs, the original's definition** (``counter="original"``, the CLI's ``--flops_counter original``): what
  torchprofile 0.0.1 counts on the traced network, which is what the original's and its forks' ``net_i.stats``
  hold: the MACs above plus the output elements of every elementwise multiply (each h-swish ``x * relu6(x+3) / 6``,
  each SE scaling) and of every ``mean`` (the SE squeeze and the global pooling, each two means over W then H). It
  is 0.5-1.1 % above the OFA definition on OFA MobileNetV3 subnets. Mish counts 0, as in the FLOPs NAT published
  for its Mish networks.

We return exact integers. ``ofa``'s counter accumulates in float32, so beyond 2**24 MACs its total can differ
from ours by float32 rounding (relative error < 1e-6); at small resolutions the two are identical.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, NamedTuple, Optional

import torch
import torch.nn as nn

from nsganetv2.supernet.shapes import conv_out_size, middle_channels, se_channels
from nsganetv2.space.arch import Arch
from nsganetv2.supernet.ofa_mbv3 import ACT_STAGES, SE_STAGES, STRIDE_STAGES, stage_widths

__all__ = ["Complexity", "FLOPS_COUNTERS", "count_params", "count_flops", "complexity", "profile_module",
           "in_millions"]

FLOPS_COUNTERS = ("ofa", "original")  # see the module docs
ELEMENTWISE_ACTS = ("h_swish",)  # activations torchprofile counts (one multiply); Mish counts 0 in NAT's numbers


class Complexity(NamedTuple):
    flops: int
    params: int


def in_millions(value: float, ndigits: int = 2) -> float:
    """``value / 1e6`` rounded, as the original's ``net.stats`` report MFLOPs and M params."""
    return round(value / 1e6, ndigits)


def _arch(config: Mapping[str, Any] | Arch, resolution: Optional[int], width_mult: float) -> Arch:
    """The config as an ``Arch``; its own width (``"w"`` in NAT's files) counts unless ``width_mult`` says otherwise."""
    return Arch.from_config(config, resolution=resolution, width=None if width_mult == 1.0 else width_mult)


def _check_counter(counter: str) -> str:
    if counter not in FLOPS_COUNTERS:
        raise ValueError(f"unknown FLOPs counter {counter!r}; choose one of {FLOPS_COUNTERS}")
    return counter


@lru_cache(maxsize=1 << 16)
def _elementwise(ks: tuple, e: tuple, d: tuple, r: int, width_mult: float) -> int:
    """The original counter's extra terms: output elements of h-swish and SE multiplies and of the means."""
    w = stage_widths(width_mult)
    h = conv_out_size(r, 3, 2)
    extra = w[0] * h * h  # stem h-swish (the first block is ReLU)
    cin, pos = w[1], 0
    for s in range(5):
        for j in range(d[s]):
            stride = STRIDE_STAGES[s + 1] if j == 0 else 1
            mid = middle_channels(cin, e[pos])
            h_out = conv_out_size(h, ks[pos], stride)
            pos += 1
            if ACT_STAGES[s + 1] in ELEMENTWISE_ACTS:
                extra += mid * h * h + mid * h_out * h_out  # inverted bottleneck and depthwise activations
            if SE_STAGES[s + 1]:
                extra += mid * h_out * h_out + mid * h_out + mid  # the scaling; mean over W, then over H
            cin, h = w[2 + s], h_out
    extra += w[7] * h * h + w[7] * h + w[7] + w[8]  # final expand h-swish; global pool means; feature mix h-swish
    return int(extra)


@lru_cache(maxsize=1 << 16)
def _count(ks: tuple, e: tuple, d: tuple, r: Optional[int], n_classes: int, width_mult: float) -> Complexity:
    w = stage_widths(width_mult)
    params = 0
    flops = 0
    h = r if r is not None else 1
    # stem: 3x3 conv stride 2 + BN
    h = conv_out_size(h, 3, 2)
    flops += 3 * 9 * w[0] * h * h
    params += 27 * w[0] + 2 * w[0]
    # first block: depthwise 3x3 + BN, pointwise + BN (expand ratio 1, no SE)
    flops += 9 * w[0] * h * h + w[0] * w[1] * h * h
    params += 9 * w[0] + 2 * w[0] + w[0] * w[1] + 2 * w[1]
    cin = w[1]
    pos = 0
    for s in range(5):
        cout = w[2 + s]
        for j in range(d[s]):
            k, er = ks[pos], e[pos]
            pos += 1
            stride = STRIDE_STAGES[s + 1] if j == 0 else 1
            mid = middle_channels(cin, er)
            h_out = conv_out_size(h, k, stride)
            flops += cin * mid * h * h  # inverted bottleneck 1x1
            params += cin * mid + 2 * mid
            flops += mid * k * k * h_out * h_out  # depthwise
            params += mid * k * k + 2 * mid
            if SE_STAGES[s + 1]:
                se = se_channels(mid)
                flops += 2 * mid * se
                params += 2 * mid * se + se + mid
            flops += mid * cout * h_out * h_out  # point linear
            params += mid * cout + 2 * cout
            cin, h = cout, h_out
    flops += cin * w[7] * h * h  # final expand 1x1 + BN
    params += cin * w[7] + 2 * w[7]
    flops += w[7] * w[8]  # feature mix 1x1 on the pooled 1x1 map, no BN
    params += w[7] * w[8]
    flops += w[8] * n_classes  # classifier
    params += w[8] * n_classes + n_classes
    return Complexity(int(flops), int(params))


def complexity(config: Mapping[str, Any], n_classes: int = 1000, width_mult: float = 1.0,
               resolution: Optional[int] = None, counter: str = "ofa") -> Complexity:
    """(FLOPs as MACs, params) of the subnet ``config`` at resolution ``config["r"]`` (or ``resolution``);
    ``counter`` picks the FLOPs definition (``"ofa"`` or ``"original"``, see the module docs)."""
    a = _arch(config, resolution, width_mult)
    if a.r is None:
        raise ValueError("FLOPs need a resolution: give config['r'] or resolution=")
    cx = _count(a.ks, a.e, a.d, a.r, int(n_classes), a.width)
    if _check_counter(counter) == "original":
        cx = Complexity(cx.flops + _elementwise(a.ks, a.e, a.d, a.r, a.width), cx.params)
    return cx


def count_params(config: Mapping[str, Any], n_classes: int = 1000, width_mult: float = 1.0) -> int:
    """Trainable parameters of the subnet (classifier with ``n_classes`` outputs included)."""
    a = _arch(config, None, width_mult)
    return _count(a.ks, a.e, a.d, None, int(n_classes), a.width).params


def count_flops(config: Mapping[str, Any], n_classes: int = 1000, width_mult: float = 1.0,
                resolution: Optional[int] = None, counter: str = "ofa") -> int:
    """MACs of convolutions and linear layers for one ``r x r`` image (OFA's definition), or with
    ``counter="original"`` the original's torchprofile count (see the module docs)."""
    return complexity(config, n_classes, width_mult, resolution, counter).flops


def profile_module(module: nn.Module, resolution: int, in_channels: int = 3, counter: str = "ofa") -> Complexity:
    """Hook-based count on a static module (e.g. an extracted subnet or a ``net.config`` network), same
    definitions as above (``counter``): any widths, any activation (h-swish, Mish, ...).

    The supernet itself runs sliced weights through functional calls, which hooks cannot see: it is
    extracted first. The module is run once in eval mode on a zero image and restored afterwards.
    """
    from nsganetv2.supernet import MobileNetV3, OFAMobileNetV3Supernet
    from nsganetv2.supernet.layers import Hswish, SEModule

    if isinstance(module, OFAMobileNetV3Supernet):
        module = module.extract()
    original = _check_counter(counter) == "original"
    total = [0]

    def elementwise_hook(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        total[0] += out.numel()

    def se_hook(m: nn.Module, inp: Any, out: torch.Tensor) -> None:
        n, c, h, _w = inp[0].shape
        total[0] += out.numel() + n * c * h + n * c  # the scaling; mean over W, then over H

    def pool_hook(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        n, c, h, _w = out.shape
        total[0] += n * c * h + n * c  # the global pooling's two means

    def conv_hook(m: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        kh, kw = m.weight.shape[2], m.weight.shape[3]
        total[0] += m.in_channels * out.numel() * kh * kw // m.groups

    def linear_hook(m: nn.Linear, _inp: Any, _out: torch.Tensor) -> None:
        total[0] += m.in_features * m.out_features

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
        elif original and isinstance(m, Hswish):
            handles.append(m.register_forward_hook(elementwise_hook))
        elif original and isinstance(m, SEModule):
            handles.append(m.register_forward_hook(se_hook))
        elif original and isinstance(m, MobileNetV3):
            handles.append(m.final_expand_layer.register_forward_hook(pool_hook))
    was_training = module.training
    try:
        p = next(module.parameters())
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, in_channels, resolution, resolution, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return Complexity(int(total[0]), int(params))
