"""The Once-for-All MobileNetV3 supernet (elastic kernel, expand ratio and depth), OFA-compatible."""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ._ops import make_divisible
from .dynamic import DynamicMBConvLayer
from .layers import ConvLayer, IdentityLayer, LinearLayer, MBConvLayer, ResidualBlock, set_layer_from_config
from .mobilenet_v3 import MobileNetV3, check_state_dict, remap_state_dict_keys
from ..space.arch import Arch

__all__ = ["OFAMobileNetV3Supernet", "BASE_STAGE_WIDTH", "stage_widths"]

BASE_STAGE_WIDTH = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
STRIDE_STAGES = (1, 2, 2, 2, 1, 2)
ACT_STAGES = ("relu", "relu", "relu", "h_swish", "h_swish", "h_swish")
SE_STAGES = (False, False, True, False, True, True)


def stage_widths(width_mult: float) -> list[int]:
    """[stem, first block, stage1..5, final expand, last channel] for a width multiplier."""
    return [make_divisible(w * width_mult, 8) for w in BASE_STAGE_WIDTH]


def _structural_copy(module: nn.Module) -> nn.Module:
    """Copy a module tree without copying tensors: fresh containers, shared (placeholder) tensors."""
    new = module.__class__.__new__(module.__class__)
    state = {k: (v.copy() if isinstance(v, dict) else v) for k, v in module.__dict__.items()}
    new.__dict__.update(state)
    for name, child in module._modules.items():
        new._modules[name] = None if child is None else _structural_copy(child)
    return new


def _assign_tensors(net: nn.Module, tensors: Mapping[str, torch.Tensor]) -> None:
    """Put ``tensors`` (state-dict names) into ``net`` in place of its (meta) tensors; shapes must match."""
    modules = dict(net.named_modules())
    n_slots = sum(sum(v is not None for v in m._parameters.values()) + sum(v is not None for v in m._buffers.values())
                  for m in modules.values())
    if len(tensors) != n_slots:
        raise ValueError(f"internal error: {len(tensors)} tensors for {n_slots} parameter/buffer slots")
    for key, t in tensors.items():
        mod_name, _, attr = key.rpartition(".")
        mod = modules[mod_name]
        old = mod._parameters.get(attr)
        if old is None:
            old = mod._buffers[attr]
            if old.shape != t.shape:
                raise ValueError(f"internal error: {key} has shape {tuple(t.shape)}, expected {tuple(old.shape)}")
            mod._buffers[attr] = t
        else:
            if old.shape != t.shape:
                raise ValueError(f"internal error: {key} has shape {tuple(t.shape)}, expected {tuple(old.shape)}")
            mod._parameters[attr] = nn.Parameter(t, requires_grad=old.requires_grad)


class OFAMobileNetV3Supernet(nn.Module):
    """OFA MobileNetV3 supernet; state-dict keys equal those of ``ofa``'s ``OFAMobileNetV3``.

    ``set_active(config)`` selects a subnet (``{"ks", "e", "d"[, "r"]}``), ``forward`` runs it and
    ``extract(config)`` returns it as a static :class:`MobileNetV3` with copied weights.
    """

    def __init__(self, n_classes: int = 1000, width_mult: float = 1.0, dropout_rate: float = 0.1,
                 bn_param: tuple[float, float] = (0.1, 1e-5), ks_list: Sequence[int] = (3, 5, 7),
                 expand_ratio_list: Sequence[int] = (3, 4, 6), depth_list: Sequence[int] = (2, 3, 4)) -> None:
        super().__init__()
        self.width_mult = float(width_mult)
        self.ks_list = sorted(set(int(k) for k in ks_list))
        self.expand_ratio_list = sorted(set(expand_ratio_list))
        self.depth_list = sorted(set(int(d) for d in depth_list))
        self.dropout_rate = dropout_rate
        widths = stage_widths(self.width_mult)
        self.widths = widths
        stem, first_dim = widths[0], widths[1]
        self.first_conv = ConvLayer(3, stem, kernel_size=3, stride=2, act_func="h_swish")
        first_block = ResidualBlock(
            MBConvLayer(stem, first_dim, 3, STRIDE_STAGES[0], 1, act_func=ACT_STAGES[0], use_se=SE_STAGES[0]),
            IdentityLayer(first_dim, first_dim) if stem == first_dim else None,
        )
        blocks: list[nn.Module] = [first_block]
        self.block_group_info: list[list[int]] = []
        n_block = max(self.depth_list)
        feature_dim = first_dim
        for width, s, act, se in zip(widths[2:7], STRIDE_STAGES[1:], ACT_STAGES[1:], SE_STAGES[1:]):
            self.block_group_info.append(list(range(len(blocks), len(blocks) + n_block)))
            for i in range(n_block):
                stride = s if i == 0 else 1
                conv = DynamicMBConvLayer(feature_dim, width, self.ks_list, self.expand_ratio_list, stride, act, se)
                shortcut = IdentityLayer(feature_dim, feature_dim) if stride == 1 and feature_dim == width else None
                blocks.append(ResidualBlock(conv, shortcut))
                feature_dim = width
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = ConvLayer(feature_dim, widths[7], kernel_size=1, act_func="h_swish")
        self.feature_mix_layer = ConvLayer(widths[7], widths[8], kernel_size=1, bias=False, use_bn=False,
                                           act_func="h_swish")
        self.classifier = LinearLayer(widths[8], n_classes, dropout_rate=dropout_rate)
        self.set_bn_param(momentum=bn_param[0], eps=bn_param[1])
        self.runtime_depth = [len(g) for g in self.block_group_info]

    # ---- properties --------------------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return self.classifier.out_features

    @property
    def n_stages(self) -> int:
        return len(self.block_group_info)

    @property
    def max_depth(self) -> int:
        return max(self.depth_list)

    def set_bn_param(self, momentum: Optional[float] = 0.1, eps: float = 1e-5, **kwargs: Any) -> None:
        for m in self.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.momentum, m.eps = momentum, eps

    def get_bn_param(self) -> dict:
        bn = self.first_conv.bn
        return {"momentum": bn.momentum, "eps": bn.eps, "ws_eps": None}

    # ---- forward -----------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        x = self.blocks[0](x)
        for stage, idx in enumerate(self.block_group_info):
            for i in idx[: self.runtime_depth[stage]]:
                x = self.blocks[i](x)
        x = self.final_expand_layer(x)
        x = x.mean(3, keepdim=True).mean(2, keepdim=True)
        x = self.feature_mix_layer(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)

    # ---- active subnet -----------------------------------------------------------------------------------------
    def _check_values(self, ks: list, e: list, d: list) -> None:
        for name, vals, allowed in (("ks", ks, self.ks_list), ("e", e, self.expand_ratio_list),
                                    ("d", d, self.depth_list)):
            bad = [v for v in vals if v not in allowed]
            if bad:
                raise ValueError(f"config field {name!r} has value {bad[0]} outside the supernet's {allowed}")

    def set_active(self, config: Mapping[str, Any]) -> None:
        """Activate the subnet ``{"ks", "e", "d"}`` (``r`` is ignored; padded length-20 lists are accepted)."""
        arch = Arch.from_config(config, n_stages=self.n_stages, max_depth=self.max_depth)
        if arch.width != 1.0 and arch.width != self.width_mult:
            raise ValueError(f"the architecture is for width {arch.width} (its 'w') but this supernet is "
                             f"w{self.width_mult}: use the w{arch.width} supernet checkpoint")
        ks, e, d = arch.ks, arch.e, arch.d
        self._check_values(ks, e, d)
        pos = 0
        for stage, idx in enumerate(self.block_group_info):
            self.runtime_depth[stage] = d[stage]
            for i in idx[: d[stage]]:
                conv = self.blocks[i].conv
                conv.active_kernel_size = ks[pos]
                conv.active_expand_ratio = e[pos]
                pos += 1

    def set_max(self) -> None:
        self.set_active(self.max_config())

    def max_config(self) -> dict:
        n = self.n_stages * self.max_depth
        return {"ks": [max(self.ks_list)] * n, "e": [max(self.expand_ratio_list)] * n, "d": [self.max_depth] * 5}

    def mid_config(self) -> dict:
        """Every choice at the middle of its list (kernel 5, expand 4, depth 3 in the default space)."""
        def mid(values) -> int:
            return sorted(values)[len(values) // 2]

        n = self.n_stages * mid(self.depth_list)
        return {"ks": [mid(self.ks_list)] * n, "e": [mid(self.expand_ratio_list)] * n,
                "d": [mid(self.depth_list)] * self.n_stages}

    def min_config(self) -> dict:
        n = self.n_stages * min(self.depth_list)
        return {"ks": [min(self.ks_list)] * n, "e": [min(self.expand_ratio_list)] * n,
                "d": [min(self.depth_list)] * self.n_stages}

    @property
    def active_config(self) -> dict:
        ks, e = [], []
        for stage, idx in enumerate(self.block_group_info):
            for i in idx[: self.runtime_depth[stage]]:
                ks.append(int(self.blocks[i].conv.active_kernel_size))
                e.append(self.blocks[i].conv.active_expand_ratio)
        return {"ks": ks, "e": e, "d": list(self.runtime_depth)}

    def sample_active(self, rng: Union[np.random.Generator, int, None] = None) -> dict:
        """Draw depths, then kernel and expand ratio per active layer, uniformly; activate and return them."""
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        d = [int(v) for v in rng.choice(self.depth_list, size=self.n_stages)]
        n = sum(d)
        ks = [int(v) for v in rng.choice(self.ks_list, size=n)]
        e = [int(v) for v in rng.choice(self.expand_ratio_list, size=n)]
        config = {"ks": ks, "e": e, "d": d}
        self.set_active(config)
        return config

    def _active_blocks(self):
        in_channel = self.blocks[0].conv.out_channels
        for stage, idx in enumerate(self.block_group_info):
            for i in idx[: self.runtime_depth[stage]]:
                yield i, in_channel
                in_channel = self.blocks[i].conv.active_out_channel

    def active_net_config(self, resolution: Optional[int] = None) -> dict:
        """The active subnet as an OFA MobileNetV3 config dict (plus ``resolution`` if given)."""
        blocks = [self.blocks[0].config]
        for i, cin in self._active_blocks():
            sc = self.blocks[i].shortcut
            blocks.append({"name": "ResidualBlock", "conv": self.blocks[i].conv.get_active_subnet_config(cin),
                           "shortcut": sc.config if sc is not None else None})
        cfg = {"name": "MobileNetV3", "bn": self.get_bn_param(), "first_conv": self.first_conv.config,
               "blocks": blocks, "final_expand_layer": self.final_expand_layer.config,
               "feature_mix_layer": self.feature_mix_layer.config, "classifier": self.classifier.config}
        if resolution is not None:
            cfg["resolution"] = int(resolution)
        return cfg

    @torch.no_grad()
    def extract(self, config: Optional[Mapping[str, Any]] = None, resolution: Optional[int] = None) -> MobileNetV3:
        """Static subnet with copied (transformed, sliced) weights; ``config=None`` uses the active one.

        The resolution defaults to ``config["r"]`` when present; the supernet's active setting is left changed
        to ``config`` (as OFA's ``set_active_subnet`` + ``get_active_subnet`` would).
        """
        if config is not None:
            self.set_active(config)
            if resolution is None and "r" in config and config["r"] is not None:
                resolution = int(config["r"])
        net_cfg = self.active_net_config(resolution)
        net = MobileNetV3(
            self._skeleton(net_cfg["first_conv"]), [self._skeleton(b) for b in net_cfg["blocks"]],
            self._skeleton(net_cfg["final_expand_layer"]), self._skeleton(net_cfg["feature_mix_layer"]),
            self._skeleton(net_cfg["classifier"]), resolution=resolution,
        )
        sd: dict[str, torch.Tensor] = {}
        for name in ("first_conv", "blocks.0", "final_expand_layer", "feature_mix_layer", "classifier"):
            for k, v in self.get_submodule(name).state_dict(prefix=name + ".", keep_vars=True).items():
                sd[k] = v.detach().clone()
        for j, (i, cin) in enumerate(self._active_blocks(), start=1):
            self.blocks[i].conv.active_state_dict(cin, f"blocks.{j}.conv.", sd)
        _assign_tensors(net, sd)
        net.train(self.training)
        return net

    def _skeleton(self, layer_config: dict) -> nn.Module:
        """A fresh static layer for ``layer_config`` whose tensors are placeholders (to be assigned).

        Layers are built once per distinct config on the meta device and then copied structurally, which
        avoids module construction and random initialisation on every extraction.
        """
        cache = self.__dict__.setdefault("_skeleton_cache", {})
        key = json.dumps(layer_config, sort_keys=True)
        template = cache.get(key)
        if template is None:
            with torch.device("meta"):
                if layer_config.get("name") == "ResidualBlock":
                    template = ResidualBlock.build_from_config(layer_config)
                else:
                    template = set_layer_from_config(layer_config)
            bn = self.get_bn_param()
            for m in template.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum, m.eps = bn["momentum"], bn["eps"]
            cache[key] = template
        return _structural_copy(template)

    # ---- OFA-style aliases (for code written against ofa's OFAMobileNetV3) --------------------------------
    def set_active_subnet(self, ks: Any = None, e: Any = None, d: Any = None, **kwargs: Any) -> None:
        """OFA's signature: ints broadcast; ks/e of 20 (None keeps a setting), d of 5 (None keeps a depth)."""
        n_layers = self.n_stages * self.max_depth
        ks = [ks] * n_layers if ks is None or isinstance(ks, int) else list(ks)
        e = [e] * n_layers if e is None or isinstance(e, (int, float)) else list(e)
        d = [d] * self.n_stages if d is None or isinstance(d, int) else list(d)
        if len(ks) != n_layers or len(e) != n_layers or len(d) != self.n_stages:
            raise ValueError(f"set_active_subnet needs ks/e of {n_layers} and d of {self.n_stages} entries")
        for block, k, er in zip(self.blocks[1:], ks, e):
            if k is not None:
                if k not in self.ks_list:
                    raise ValueError(f"kernel size {k} outside {self.ks_list}")
                block.conv.active_kernel_size = k
            if er is not None:
                if er not in self.expand_ratio_list:
                    raise ValueError(f"expand ratio {er} outside {self.expand_ratio_list}")
                block.conv.active_expand_ratio = er
        for i, di in enumerate(d):
            if di is not None:
                self.runtime_depth[i] = min(self.max_depth, int(di))

    def get_active_subnet(self, preserve_weight: bool = True) -> MobileNetV3:
        """OFA's name for :meth:`extract` of the active subnet (weights are always copied)."""
        return self.extract()

    # ---- head / weights ----------------------------------------------------------------------------------------
    def reset_classifier(self, n_classes: int, dropout_rate: float = 0.2) -> None:
        """Replace the head with a fresh ``Linear(last_channel, n_classes)`` preceded by dropout."""
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        w = self.classifier.linear.weight
        self.classifier = LinearLayer(self.widths[8], n_classes, dropout_rate=dropout_rate).to(w.device, w.dtype)
        self.dropout_rate = dropout_rate

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False):
        """Load an OFA state dict (old ``.mobile_inverted_conv.`` or new ``.conv.`` keys).

        Mismatches raise ``ValueError`` naming the first offending key and both shapes.
        """
        sd = remap_state_dict_keys(state_dict, self.state_dict())
        if strict:
            check_state_dict(self, sd, "checkpoint")
        return super().load_state_dict(sd, strict=strict, assign=assign)

    def copy(self) -> "OFAMobileNetV3Supernet":
        return copy.deepcopy(self)
