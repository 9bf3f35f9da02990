"""Shape arithmetic of the OFA MobileNetV3 blocks (channel rounding, SE width, padding, output size): plain ints,
shared by the layers and by the analytic FLOPs / latency-table code."""

from __future__ import annotations

from typing import Optional

__all__ = ["CHANNEL_DIVISIBLE", "SE_REDUCTION", "conv_out_size", "make_divisible", "middle_channels", "same_padding",
           "se_channels", "sub_filter_start_end"]

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
