"""Dynamic (elastic) operations of the OFA MobileNetV3 supernet, with OFA's parameter names.

Elastic kernel: the 7x7 depthwise weight is centre-cropped and passed through learned ``7to5_matrix`` (25x25)
and ``5to3_matrix`` (9x9) transforms. Elastic width: the first ``make_divisible(round(in*e), 8)`` middle
channels (and BN / SE slices). Elastic depth lives in the network (``runtime_depth``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._ops import build_activation, depthwise_conv2d, middle_channels, se_channels, sub_filter_start_end
from .layers import SEModule

__all__ = ["DynamicSeparableConv2d", "DynamicConv2d", "DynamicBatchNorm2d", "DynamicSE", "DynamicMBConvLayer"]


class DynamicSeparableConv2d(nn.Module):
    """Depthwise conv with elastic kernel size (transform matrices initialised to the identity)."""

    def __init__(self, max_in_channels: int, kernel_size_list: Sequence[int], stride: int = 1) -> None:
        super().__init__()
        self.max_in_channels = max_in_channels
        self.kernel_size_list = sorted(set(int(k) for k in kernel_size_list))
        self.stride = stride
        kmax = max(self.kernel_size_list)
        self.conv = nn.Conv2d(max_in_channels, max_in_channels, kmax, stride, groups=max_in_channels, bias=False)
        self._ks_set = list(self.kernel_size_list)
        for small, large in zip(self._ks_set[:-1], self._ks_set[1:]):
            self.register_parameter(f"{large}to{small}_matrix", nn.Parameter(torch.eye(small ** 2)))
        self.active_kernel_size = kmax

    def get_active_filter(self, in_channel: int, kernel_size: int) -> torch.Tensor:
        kmax = self._ks_set[-1]
        weight = self.conv.weight[:in_channel]
        if kernel_size == kmax:
            return weight
        if kernel_size not in self._ks_set:
            raise ValueError(f"kernel size {kernel_size} not in {self._ks_set}")
        filt = weight
        for i in range(len(self._ks_set) - 1, 0, -1):
            src = self._ks_set[i]
            if src <= kernel_size:
                break
            tgt = self._ks_set[i - 1]
            start, end = sub_filter_start_end(src, tgt)
            sub = filt[:, :, start:end, start:end].contiguous().view(-1, tgt * tgt)
            sub = F.linear(sub, getattr(self, f"{src}to{tgt}_matrix"))
            filt = sub.view(in_channel, 1, tgt, tgt)
        return filt

    def forward(self, x: torch.Tensor, kernel_size: Optional[int] = None) -> torch.Tensor:
        k = self.active_kernel_size if kernel_size is None else kernel_size
        c = x.size(1)
        return depthwise_conv2d(x, self.get_active_filter(c, k).contiguous(), self.stride)


class DynamicConv2d(nn.Module):
    """1x1 conv using ``weight[:out, :in]``."""

    def __init__(self, max_in_channels: int, max_out_channels: int, kernel_size: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.max_in_channels, self.max_out_channels = max_in_channels, max_out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.conv = nn.Conv2d(max_in_channels, max_out_channels, kernel_size, stride=stride, bias=False)
        self.active_out_channel = max_out_channels

    def get_active_filter(self, out_channel: int, in_channel: int) -> torch.Tensor:
        return self.conv.weight[:out_channel, :in_channel]

    def forward(self, x: torch.Tensor, out_channel: Optional[int] = None) -> torch.Tensor:
        out = self.active_out_channel if out_channel is None else out_channel
        filters = self.get_active_filter(out, x.size(1)).contiguous()
        return F.conv2d(x, filters, None, self.stride, self.kernel_size // 2, 1, 1)


class DynamicBatchNorm2d(nn.Module):
    """BatchNorm over the first C channels of a max-width ``nn.BatchNorm2d``."""

    SET_RUNNING_STATISTICS = False

    def __init__(self, max_feature_dim: int) -> None:
        super().__init__()
        self.max_feature_dim = max_feature_dim
        self.bn = nn.BatchNorm2d(max_feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        c = x.size(1)
        if c == bn.num_features or DynamicBatchNorm2d.SET_RUNNING_STATISTICS:
            return bn(x)
        factor = 0.0
        if bn.training and bn.track_running_stats:
            bn.num_batches_tracked += 1
            factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
        return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                            bn.training or not bn.track_running_stats, factor, bn.eps)


class DynamicSE(SEModule):
    """SE whose reduce/expand convs are sliced to the active channel count."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        mid = se_channels(c)
        y = x.mean(3, keepdim=True).mean(2, keepdim=True)
        fc = self.fc
        y = F.conv2d(y, fc.reduce.weight[:mid, :c].contiguous(), fc.reduce.bias[:mid], 1, 0, 1, 1)
        y = fc.relu(y)
        y = F.conv2d(y, fc.expand.weight[:c, :mid].contiguous(), fc.expand.bias[:c], 1, 0, 1, 1)
        y = fc.h_sigmoid(y)
        return x * y


class DynamicMBConvLayer(nn.Module):
    """Elastic MBConv block (kernel, expand ratio); its output width is fixed."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size_list: Sequence[int],
                 expand_ratio_list: Sequence[float], stride: int = 1, act_func: str = "relu6",
                 use_se: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size_list = sorted(set(int(k) for k in kernel_size_list))
        self.expand_ratio_list = sorted(set(expand_ratio_list))
        self.stride, self.act_func, self.use_se = stride, act_func, use_se
        max_mid = middle_channels(in_channels, max(self.expand_ratio_list))
        self.max_middle_channels = max_mid
        if max(self.expand_ratio_list) == 1:
            self.inverted_bottleneck = None
        else:
            self.inverted_bottleneck = nn.Sequential(OrderedDict([
                ("conv", DynamicConv2d(in_channels, max_mid)),
                ("bn", DynamicBatchNorm2d(max_mid)),
                ("act", build_activation(act_func)),
            ]))
        self.depth_conv = nn.Sequential(OrderedDict([
            ("conv", DynamicSeparableConv2d(max_mid, self.kernel_size_list, stride)),
            ("bn", DynamicBatchNorm2d(max_mid)),
            ("act", build_activation(act_func)),
        ]))
        if use_se:
            self.depth_conv.add_module("se", DynamicSE(max_mid))
        self.point_linear = nn.Sequential(OrderedDict([
            ("conv", DynamicConv2d(max_mid, out_channels)),
            ("bn", DynamicBatchNorm2d(out_channels)),
        ]))
        self.active_kernel_size = max(self.kernel_size_list)
        self.active_expand_ratio = max(self.expand_ratio_list)
        self.active_out_channel = out_channels

    def active_middle_channel(self, in_channel: int) -> int:
        return middle_channels(in_channel, self.active_expand_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            ib = self.inverted_bottleneck
            x = ib.act(ib.bn(ib.conv(x, self.active_middle_channel(x.size(1)))))
        dc = self.depth_conv
        x = dc.act(dc.bn(dc.conv(x, self.active_kernel_size)))
        if self.use_se:
            x = dc.se(x)
        pl = self.point_linear
        return pl.bn(pl.conv(x, self.active_out_channel))

    def get_active_subnet_config(self, in_channel: int) -> dict:
        return {"name": "MBConvLayer", "in_channels": in_channel, "out_channels": self.active_out_channel,
                "kernel_size": self.active_kernel_size, "stride": self.stride,
                "expand_ratio": self.active_expand_ratio, "mid_channels": self.active_middle_channel(in_channel),
                "act_func": self.act_func, "use_se": self.use_se, "groups": None}

    @torch.no_grad()
    def active_state_dict(self, in_channel: int, prefix: str, out: dict) -> None:
        """Write the static MBConvLayer's tensors (cloned slices) into ``out`` under ``prefix``."""
        mid = self.active_middle_channel(in_channel)
        cout = self.active_out_channel

        def bn(dst: str, src: nn.BatchNorm2d, c: int) -> None:
            out[dst + "weight"] = src.weight[:c].clone()
            out[dst + "bias"] = src.bias[:c].clone()
            out[dst + "running_mean"] = src.running_mean[:c].clone()
            out[dst + "running_var"] = src.running_var[:c].clone()
            out[dst + "num_batches_tracked"] = torch.zeros_like(src.num_batches_tracked)  # fresh, as OFA

        if self.inverted_bottleneck is not None:
            ib = self.inverted_bottleneck
            out[prefix + "inverted_bottleneck.conv.weight"] = ib.conv.get_active_filter(mid, in_channel).clone()
            bn(prefix + "inverted_bottleneck.bn.", ib.bn.bn, mid)
        dc = self.depth_conv
        out[prefix + "depth_conv.conv.weight"] = dc.conv.get_active_filter(mid, self.active_kernel_size).clone()
        bn(prefix + "depth_conv.bn.", dc.bn.bn, mid)
        if self.use_se:
            se_mid = se_channels(mid)
            fc = dc.se.fc
            out[prefix + "depth_conv.se.fc.reduce.weight"] = fc.reduce.weight[:se_mid, :mid].clone()
            out[prefix + "depth_conv.se.fc.reduce.bias"] = fc.reduce.bias[:se_mid].clone()
            out[prefix + "depth_conv.se.fc.expand.weight"] = fc.expand.weight[:mid, :se_mid].clone()
            out[prefix + "depth_conv.se.fc.expand.bias"] = fc.expand.bias[:mid].clone()
        pl = self.point_linear
        out[prefix + "point_linear.conv.weight"] = pl.conv.get_active_filter(cout, mid).clone()
        bn(prefix + "point_linear.bn.", pl.bn.bn, cout)


