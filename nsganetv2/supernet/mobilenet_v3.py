"""Static MobileNetV3 (the extracted subnet), built from and written to OFA-layout ``net.config`` files."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Union

import torch
import torch.nn as nn

from .layers import ConvLayer, LinearLayer, MBConvLayer, ResidualBlock, set_layer_from_config

__all__ = ["MobileNetV3", "remap_state_dict_keys", "load_net_config", "save_net_config", "with_legacy_keys"]


def remap_state_dict_keys(state_dict: Mapping[str, torch.Tensor], target_keys: Mapping[str, Any]) -> dict:
    """Map old OFA key layouts onto ``target_keys``.

    Handles ``.mobile_inverted_conv.`` -> ``.conv.`` and the wrapped/plain names of dynamic vs static layers
    (``.bn.bn.`` <-> ``.bn.``, ``.conv.conv.weight`` <-> ``.conv.weight``, ``.linear.linear.`` <-> ``.linear.``),
    as OFA's ``load_state_dict`` does. Keys that map to nothing are kept unchanged (reported by the caller).
    """
    out = {}
    for key, value in state_dict.items():
        new_key = key.replace(".mobile_inverted_conv.", ".conv.")
        if new_key not in target_keys:
            for a, b in ((".bn.bn.", ".bn."), (".conv.conv.weight", ".conv.weight"),
                         (".linear.linear.", ".linear."), (".linear.", ".linear.linear."),
                         ("bn.", "bn.bn."), ("conv.weight", "conv.conv.weight")):
                if a in new_key and new_key.replace(a, b) in target_keys:
                    new_key = new_key.replace(a, b)
                    break
        out[new_key] = value
    for key in target_keys:  # files from before torch 0.4.1 have no BN batch counters
        if key.endswith("num_batches_tracked") and key not in out:
            out[key] = torch.tensor(0, dtype=torch.long)
    return out


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str = "checkpoint") -> None:
    """Raise ``ValueError`` naming the first missing/unexpected key or the first shape mismatch."""
    own = model.state_dict()
    for key, value in state_dict.items():
        if key not in own:
            raise ValueError(f"{what} has unexpected key {key!r} (shape {tuple(value.shape)}); "
                             f"the model has no such parameter or buffer: is it a MobileNetV3/OFA file?")
        if tuple(own[key].shape) != tuple(value.shape):
            raise ValueError(f"{what} key {key!r} has shape {tuple(value.shape)} but the model expects "
                             f"{tuple(own[key].shape)}: wrong width multiplier, class count or architecture?")
    for key in own:
        if key not in state_dict:
            raise ValueError(f"{what} is missing key {key!r} (model shape {tuple(own[key].shape)})")


class MobileNetV3(nn.Module):
    """first_conv -> blocks -> final_expand_layer -> global average pool -> feature_mix_layer -> classifier."""

    def __init__(self, first_conv: ConvLayer, blocks: list, final_expand_layer: ConvLayer,
                 feature_mix_layer: ConvLayer, classifier: LinearLayer, resolution: Optional[int] = None) -> None:
        super().__init__()
        self.first_conv = first_conv
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = final_expand_layer
        self.feature_mix_layer = feature_mix_layer
        self.classifier = classifier
        self.resolution = resolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        x = self.final_expand_layer(x)
        x = x.mean(3, keepdim=True).mean(2, keepdim=True)
        x = self.feature_mix_layer(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)

    # ---- batch norm / drop path / head ---------------------------------------------------------------------
    def set_bn_param(self, momentum: Optional[float] = 0.1, eps: float = 1e-5, **kwargs: Any) -> None:
        for m in self.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.momentum = momentum
                m.eps = eps

    def get_bn_param(self) -> dict:
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                return {"momentum": m.momentum, "eps": m.eps, "ws_eps": None}
        return {"momentum": 0.1, "eps": 1e-5, "ws_eps": None}

    def set_drop_path(self, rate: float) -> None:
        """Stochastic depth on residual blocks, rising linearly with depth to ``rate`` at the last block."""
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop path rate must be in [0, 1), got {rate}")
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            block.drop_path_rate = rate * i / n

    @property
    def last_channel(self) -> int:
        return self.classifier.in_features

    @property
    def n_classes(self) -> int:
        return self.classifier.out_features

    def reset_classifier(self, n_classes: int, dropout_rate: float = 0.2) -> None:
        """Replace the head with a fresh ``Linear(last_channel, n_classes)`` preceded by dropout."""
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        old = self.classifier.linear.weight
        head = LinearLayer(self.last_channel, n_classes, dropout_rate=dropout_rate)
        self.classifier = head.to(device=old.device, dtype=old.dtype)

    # ---- config ----------------------------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        cfg = {
            "name": "MobileNetV3",
            "bn": self.get_bn_param(),
            "first_conv": self.first_conv.config,
            "blocks": [block.config for block in self.blocks],
            "final_expand_layer": self.final_expand_layer.config,
            "feature_mix_layer": self.feature_mix_layer.config,
            "classifier": self.classifier.config,
        }
        if self.resolution is not None:
            cfg["resolution"] = int(self.resolution)
        return cfg

    @staticmethod
    def build_from_config(config: Mapping[str, Any], drop_path_rate: float = 0.0) -> "MobileNetV3":
        """Build from an OFA MobileNetV3 config dict (``resolution`` optional)."""
        if not isinstance(config, Mapping):
            raise ValueError(f"net config must be a dict, got {type(config).__name__}")
        for field in ("first_conv", "blocks", "final_expand_layer", "feature_mix_layer", "classifier"):
            if field not in config:
                raise ValueError(f"net config is missing the field {field!r} (OFA MobileNetV3 layout expected)")
        blocks = [ResidualBlock.build_from_config(b) for b in config["blocks"]]
        net = MobileNetV3(
            set_layer_from_config(config["first_conv"]), blocks, set_layer_from_config(config["final_expand_layer"]),
            set_layer_from_config(config["feature_mix_layer"]), set_layer_from_config(config["classifier"]),
            resolution=config.get("resolution", config.get("img_size")),  # img_size: NAT's configs
        )
        bn = config.get("bn") or {"momentum": 0.1, "eps": 1e-5}
        net.set_bn_param(momentum=bn.get("momentum", 0.1), eps=bn.get("eps", 1e-5))
        if drop_path_rate:
            net.set_drop_path(drop_path_rate)
        return net

    # ---- weights ---------------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False):
        """Load a state dict; accepts the old ``.mobile_inverted_conv.`` layout. Mismatches raise ValueError."""
        sd = remap_state_dict_keys(state_dict, self.state_dict())
        if strict:
            check_state_dict(self, sd, "state dict")
        return super().load_state_dict(sd, strict=strict, assign=assign)

    def mbconv_layers(self) -> list[MBConvLayer]:
        return [b.conv for b in self.blocks if isinstance(b.conv, MBConvLayer)]


def load_net_config(path: Union[str, os.PathLike]) -> dict:
    """Read a ``net.config`` JSON file (OFA layout plus optional ``resolution``)."""
    try:
        with open(path) as f:
            cfg = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(cfg, dict) or "blocks" not in cfg:
        raise ValueError(f"{path}: not an OFA MobileNetV3 net.config (no 'blocks' field)")
    if not isinstance(cfg["blocks"], list) or not cfg["blocks"]:
        raise ValueError(f"{path}: 'blocks' must be a non-empty list of blocks")
    return cfg


def with_legacy_keys(cfg: Mapping[str, Any]) -> dict:
    """The config readable by both OFA layouts: each block keeps ``conv`` (OFA >= 0.1, and ours) and gains
    ``mobile_inverted_conv`` in the old layout (``MBInvertedConvLayer``, no ``groups``) that OFA 0.0.4 and the
    original NSGANetV2 read; ``ConvLayer`` dicts drop a false ``use_se`` (old ConvLayer has no such argument);
    ``img_size`` repeats ``resolution`` (the original's validation.py and NAT read it)."""
    out = json.loads(json.dumps(cfg))
    for name in ("first_conv", "final_expand_layer", "feature_mix_layer"):
        if isinstance(out.get(name), dict) and out[name].get("name") == "ConvLayer" and not out[name].get("use_se"):
            out[name].pop("use_se", None)
    for block in out.get("blocks", []):
        conv = block.get("conv") or block.get("mobile_inverted_conv")
        if conv is None:
            continue
        old = {k: v for k, v in conv.items() if not (k == "groups" and v is None)}
        if old.get("name") == "MBConvLayer":
            old["name"] = "MBInvertedConvLayer"
        block["mobile_inverted_conv"] = old
    if out.get("resolution") is not None:
        out["img_size"] = int(out["resolution"])
    return out


def save_net_config(net: MobileNetV3, path: Union[str, os.PathLike], resolution: Optional[int] = None) -> dict:
    """Write ``net.config`` (OFA layout plus ``resolution``, with the legacy keys of :func:`with_legacy_keys`
    so that OFA 0.0.4 and the original's code read it too) and return the dict."""
    cfg = net.config
    if resolution is not None:
        cfg["resolution"] = int(resolution)
    cfg = with_legacy_keys(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=4)
    return cfg
