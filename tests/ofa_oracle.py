"""Test helpers: the PyPI ``ofa`` package as an oracle (imported lazily; ``ofa`` is a test-only dependency)."""

from __future__ import annotations

import torch
import torch.nn as nn
import yaml


def build_ofa(width_mult: float, n_classes: int = 1000):
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3

    return OFAMobileNetV3(n_classes=n_classes, dropout_rate=0.0, width_mult=width_mult, ks_list=[3, 5, 7],
                          expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])


@torch.no_grad()
def randomize_and_calibrate(net: nn.Module, seed: int = 0, resolution: int = 32) -> nn.Module:
    """Random non-identity kernel transforms, random BN affine, BN statistics calibrated on random images."""
    g = torch.Generator().manual_seed(seed)
    for name, p in net.named_parameters():
        if name.endswith("_matrix"):
            n = p.shape[0]
            p.copy_(torch.eye(n) + 0.15 * torch.randn(n, n, generator=g))
        elif ".bn." in name or name.startswith("bn."):
            if name.endswith("weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        elif name.endswith("bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    net(torch.randn(8, 3, resolution, resolution, generator=g))
    for m in bns:
        m.momentum = 0.1
    net.eval()
    return net


def ofa_tutorial_module(name: str):
    """``ofa/tutorial/{name}.py`` loaded from its file (``ofa.tutorial`` itself imports ``gdown``)."""
    import importlib.util
    import os

    import ofa

    path = os.path.join(os.path.dirname(ofa.__file__), "tutorial", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_ofa_tutorial_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ofa_latency_module():
    """OFA's ``tutorial/latency_table.py``."""
    return ofa_tutorial_module("latency_table")


def ofa_latency_table(luts: dict):
    """OFA's ``LatencyTable`` over in-memory tables ``{resolution: {key: {"mean": ...}}}`` (no download)."""
    m = ofa_latency_module()
    table = m.LatencyTable.__new__(m.LatencyTable)
    table.latency_tables = {}
    for r, lut in luts.items():
        est = m.LatencyEstimator.__new__(m.LatencyEstimator)
        est.lut = lut
        table.latency_tables[r] = est
    return table


# the layer signatures of OFA 0.0.4 (the layout the original NSGANetV2 and NAT read): its set_layer_from_config calls
# ``cls(**config)`` without 'name', so a key outside these is a TypeError there
def _conv_layer(in_channels, out_channels, kernel_size=3, stride=1, dilation=1, groups=1, bias=False,
                has_shuffle=False, use_bn=True, act_func="relu", dropout_rate=0, ops_order="weight_bn_act"):
    pass


def _identity_layer(in_channels, out_channels, use_bn=False, act_func=None, dropout_rate=0,
                    ops_order="weight_bn_act"):
    pass


def _linear_layer(in_features, out_features, bias=True, use_bn=False, act_func=None, dropout_rate=0,
                  ops_order="weight_bn_act"):
    pass


def _mb_inverted_conv_layer(in_channels, out_channels, kernel_size=3, stride=1, expand_ratio=6, mid_channels=None,
                            act_func="relu6", use_se=False):
    pass


OLD_LAYERS = {"ConvLayer": _conv_layer, "IdentityLayer": _identity_layer, "LinearLayer": _linear_layer,
              "MBInvertedConvLayer": _mb_inverted_conv_layer, "ZeroLayer": lambda: None}


def read_old_layout(config: dict) -> dict:
    """Read a net.config as OFA 0.0.4 / the original's NSGANetV2.build_from_config does (first_conv, each block's
    ``mobile_inverted_conv`` and ``shortcut``, final_expand_layer, feature_mix_layer, classifier; the resolution
    from ``img_size`` as its validation.py), raising TypeError/KeyError where it would. Returns the config in our
    layout built from what the old reader saw (``conv`` <- ``mobile_inverted_conv``, ``resolution`` <- ``img_size``)."""
    import copy
    import inspect

    def layer(d):
        if d is None:
            return None
        d = dict(d)
        name = d.pop("name")
        if name not in OLD_LAYERS:
            raise TypeError(f"OFA 0.0.4 has no layer {name!r}")
        inspect.signature(OLD_LAYERS[name]).bind(**d)  # TypeError on a key the old class does not take
        return {"name": {"MBInvertedConvLayer": "MBConvLayer"}.get(name, name), **d}

    out = {k: copy.deepcopy(config[k]) for k in ("bn",) if k in config}
    for k in ("first_conv", "final_expand_layer", "feature_mix_layer", "classifier"):
        out[k] = layer(config[k])
    out["blocks"] = [{"name": "ResidualBlock", "conv": layer(b["mobile_inverted_conv"]),
                      "shortcut": layer(b["shortcut"])} for b in config["blocks"]]
    out["resolution"] = config.get("img_size")
    return out


def ofa_specs(n, resolutions, seed=0):
    """Random specs in OFA's EvolutionFinder layout: 20 ks/e values (inactive ones too), 5 depths, r as [r]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for i in range(n):
        yield {"ks": rng.choice([3, 5, 7], 20).tolist(), "e": rng.choice([3, 4, 6], 20).tolist(),
               "d": rng.choice([2, 3, 4], 5).tolist(), "r": [int(resolutions[i % len(resolutions)])]}


def write_ofa_tables(folder, specs, resolutions):
    """OFA-format files (one per resolution, OFA's name and fields) holding every key OFA's predictor queries for
    ``specs``, with distinct random means; the keys are collected from OFA's own code, not ours."""
    import collections

    import numpy as np

    m = ofa_latency_module()
    rng = np.random.default_rng(1)
    luts = {}
    for r in resolutions:
        lut = collections.defaultdict(lambda: {"count": 100, "mean": float(rng.uniform(0.01, 2.0)), "std": 0.01})
        est = m.LatencyEstimator.__new__(m.LatencyEstimator)
        est.lut = lut
        for spec in specs:
            if spec["r"][0] == r:
                est.predict_network_latency_given_spec(spec)
        luts[r] = dict(lut)
        (folder / f"{r}_lookup_table.yaml").write_text(yaml.safe_dump(luts[r]))
    return luts


def ofa_accuracy_module():
    """OFA's ``tutorial/accuracy_predictor.py``."""
    return ofa_tutorial_module("accuracy_predictor")


def complete_ofa_specs(resolutions):
    """Specs whose keys cover every subnet at ``resolutions``: every layer at depth 4 with each (k, e)."""
    for r in resolutions:
        for k in (3, 5, 7):
            for e in (3, 4, 6):
                yield {"ks": [k] * 20, "e": [e] * 20, "d": [4] * 5, "r": [int(r)]}
