"""Static layers with OFA's module names (state-dict keys) and OFA's config dicts.

Each layer has a ``config`` property and a ``build_from_config`` method that read and write the
layer dicts of OFA's ``net.config`` files, so subnets saved by OFA/NSGANetV2 load here and vice versa.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional

import torch
import torch.nn as nn

from ._ops import DepthwiseConv2d, Hsigmoid, Hswish, build_activation, drop_path, same_padding, se_channels

__all__ = [
    "Hswish",
    "SEModule",
    "ConvLayer",
    "IdentityLayer",
    "LinearLayer",
    "ZeroLayer",
    "MBConvLayer",
    "ResidualBlock",
    "set_layer_from_config",
]


class _ConfigLayer(nn.Module):
    """A layer whose OFA config dict is its class name and its ``FIELDS``, in that order."""

    FIELDS: tuple[str, ...] = ()

    @property
    def config(self) -> dict:
        return {"name": type(self).__name__, **{f: getattr(self, f) for f in self.FIELDS}}

    @classmethod
    def build_from_config(cls, config: dict) -> nn.Module:
        unknown = [k for k in config if k not in cls.FIELDS]
        if unknown:
            raise ValueError(f"{cls.__name__} config has unknown field {unknown[0]!r}; allowed fields: {cls.FIELDS}")
        return cls(**config)


class SEModule(nn.Module):
    """Squeeze-excitation: mean-pool, 1x1 reduce (bias) + ReLU, 1x1 expand (bias) + h-sigmoid, scale."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.channel = channel
        num_mid = se_channels(channel)
        self.fc = nn.Sequential(
            OrderedDict(
                [
                    ("reduce", nn.Conv2d(channel, num_mid, 1, 1, 0, bias=True)),
                    ("relu", nn.ReLU(inplace=True)),
                    ("expand", nn.Conv2d(num_mid, channel, 1, 1, 0, bias=True)),
                    ("h_sigmoid", Hsigmoid(inplace=True)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean(3, keepdim=True).mean(2, keepdim=True)
        return x * self.fc(y)


class ConvLayer(_ConfigLayer):
    """Conv -> [BN] -> [act] (ops order ``weight_bn_act`` only, the only one MobileNetV3 uses)."""

    FIELDS = ("kernel_size", "stride", "dilation", "groups", "bias", "has_shuffle", "use_se", "in_channels",
              "out_channels", "use_bn", "act_func", "dropout_rate", "ops_order")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = False, has_shuffle: bool = False,
                 use_se: bool = False, use_bn: bool = True, act_func: Optional[str] = "relu",
                 dropout_rate: float = 0, ops_order: str = "weight_bn_act") -> None:
        super().__init__()
        if ops_order != "weight_bn_act":
            raise ValueError(f"ConvLayer ops_order {ops_order!r} is not supported; use 'weight_bn_act'")
        if has_shuffle and groups > 1:
            raise ValueError("ConvLayer has_shuffle with groups > 1 is not supported")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation, self.groups = kernel_size, stride, dilation, groups
        self.bias, self.has_shuffle, self.use_se = bias, has_shuffle, use_se
        self.use_bn, self.act_func, self.dropout_rate, self.ops_order = use_bn, act_func, dropout_rate, ops_order
        if dropout_rate > 0:
            self.dropout = nn.Dropout2d(dropout_rate, inplace=True)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, same_padding(kernel_size) * dilation,
                              dilation=dilation, groups=groups, bias=bias)
        if use_bn:
            self.bn = nn.BatchNorm2d(out_channels)
        act = build_activation(act_func, use_bn)
        if act is not None:
            self.act = act
        if use_se:
            self.se = SEModule(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            x = module(x)
        return x


class IdentityLayer(_ConfigLayer):
    FIELDS = ("in_channels", "out_channels", "use_bn", "act_func", "dropout_rate", "ops_order")

    def __init__(self, in_channels: int, out_channels: int, use_bn: bool = False, act_func: Optional[str] = None,
                 dropout_rate: float = 0, ops_order: str = "weight_bn_act") -> None:
        super().__init__()
        if use_bn or act_func not in (None, "none") or dropout_rate:
            raise ValueError("IdentityLayer with use_bn, act_func or dropout_rate is not supported")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.use_bn, self.act_func, self.dropout_rate, self.ops_order = use_bn, act_func, dropout_rate, ops_order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class LinearLayer(_ConfigLayer):
    """[Dropout] -> Linear (the classifier)."""

    FIELDS = ("in_features", "out_features", "bias", "use_bn", "act_func", "dropout_rate", "ops_order")

    def __init__(self, in_features: int, out_features: int, bias: bool = True, use_bn: bool = False,
                 act_func: Optional[str] = None, dropout_rate: float = 0, ops_order: str = "weight_bn_act") -> None:
        super().__init__()
        if use_bn or act_func not in (None, "none"):
            raise ValueError("LinearLayer with use_bn or act_func is not supported")
        self.in_features, self.out_features, self.bias = in_features, out_features, bias
        self.use_bn, self.act_func, self.dropout_rate, self.ops_order = use_bn, act_func, dropout_rate, ops_order
        if dropout_rate > 0:
            self.dropout = nn.Dropout(dropout_rate, inplace=True)
        self.linear = nn.Linear(in_features, out_features, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self._modules.values():
            x = module(x)
        return x


class ZeroLayer(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - never run in MobileNetV3
        raise ValueError("ZeroLayer has no forward")

    @property
    def config(self) -> dict:
        return {"name": "ZeroLayer"}

    @staticmethod
    def build_from_config(config: dict) -> "ZeroLayer":
        return ZeroLayer()


class MBConvLayer(_ConfigLayer):
    """Inverted bottleneck: [1x1 expand + BN + act] -> kxk depthwise + BN + act [+ SE] -> 1x1 project + BN."""

    FIELDS = ("in_channels", "out_channels", "kernel_size", "stride", "expand_ratio", "mid_channels", "act_func",
              "use_se", "groups")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 expand_ratio: float = 6, mid_channels: Optional[int] = None, act_func: str = "relu6",
                 use_se: bool = False, groups: Optional[int] = None) -> None:
        super().__init__()
        if groups is not None:
            raise ValueError("MBConvLayer groups other than None (depthwise) are not supported")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.expand_ratio = kernel_size, stride, expand_ratio
        self.mid_channels, self.act_func, self.use_se, self.groups = mid_channels, act_func, use_se, groups
        feature_dim = round(in_channels * expand_ratio) if mid_channels is None else mid_channels
        if expand_ratio == 1:
            self.inverted_bottleneck = None
        else:
            self.inverted_bottleneck = nn.Sequential(OrderedDict([
                ("conv", nn.Conv2d(in_channels, feature_dim, 1, 1, 0, bias=False)),
                ("bn", nn.BatchNorm2d(feature_dim)),
                ("act", build_activation(act_func, inplace=True)),
            ]))
        dw = [
            ("conv", DepthwiseConv2d(feature_dim, feature_dim, kernel_size, stride, same_padding(kernel_size),
                                     groups=feature_dim, bias=False)),
            ("bn", nn.BatchNorm2d(feature_dim)),
            ("act", build_activation(act_func, inplace=True)),
        ]
        if use_se:
            dw.append(("se", SEModule(feature_dim)))
        self.depth_conv = nn.Sequential(OrderedDict(dw))
        self.point_linear = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(feature_dim, out_channels, 1, 1, 0, bias=False)),
            ("bn", nn.BatchNorm2d(out_channels)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class ResidualBlock(nn.Module):
    """``conv(x) + shortcut(x)``; ``drop_path_rate`` drops the conv branch per sample in training."""

    def __init__(self, conv: Optional[nn.Module], shortcut: Optional[nn.Module], drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.conv = conv
        self.shortcut = shortcut
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is None or isinstance(self.conv, ZeroLayer):
            return x
        if self.shortcut is None or isinstance(self.shortcut, ZeroLayer):
            return self.conv(x)
        return drop_path(self.conv(x), self.drop_path_rate, self.training) + self.shortcut(x)

    @property
    def mobile_inverted_conv(self) -> Optional[nn.Module]:
        return self.conv

    @property
    def config(self) -> dict:
        return {"name": "ResidualBlock", "conv": self.conv.config if self.conv is not None else None,
                "shortcut": self.shortcut.config if self.shortcut is not None else None}

    @staticmethod
    def build_from_config(config: dict) -> "ResidualBlock":
        if "conv" in config:
            conv_cfg = config["conv"]
        elif "mobile_inverted_conv" in config:
            conv_cfg = config["mobile_inverted_conv"]
        else:
            raise ValueError("ResidualBlock config needs a 'conv' (or 'mobile_inverted_conv') field")
        return ResidualBlock(set_layer_from_config(conv_cfg), set_layer_from_config(config.get("shortcut")))


_LAYERS: dict[str, Any] = {
    "ConvLayer": ConvLayer,
    "IdentityLayer": IdentityLayer,
    "LinearLayer": LinearLayer,
    "ZeroLayer": ZeroLayer,
    "MBConvLayer": MBConvLayer,
    "MBInvertedConvLayer": MBConvLayer,
    "ResidualBlock": ResidualBlock,
}


def set_layer_from_config(layer_config: Optional[dict]) -> Optional[nn.Module]:
    """Build a layer from an OFA layer dict (``name`` picks the class). The input dict is not modified."""
    if layer_config is None:
        return None
    if not isinstance(layer_config, dict) or "name" not in layer_config:
        raise ValueError(f"a layer config must be a dict with a 'name' field, got {layer_config!r}")
    cfg = dict(layer_config)
    name = cfg.pop("name")
    if name not in _LAYERS:
        raise ValueError(f"unknown layer name {name!r}; known: {sorted(_LAYERS)}")
    return _LAYERS[name].build_from_config(cfg)
