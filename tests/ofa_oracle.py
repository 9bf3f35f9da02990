"""Test helpers: the PyPI ``ofa`` package as an oracle (imported lazily; ``ofa`` is a test-only dependency)."""

from __future__ import annotations

import torch
import torch.nn as nn


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


def ofa_latency_module():
    """``ofa/tutorial/latency_table.py`` loaded from its file (``ofa.tutorial`` itself imports ``gdown``)."""
    import importlib.util
    import os

    import ofa

    path = os.path.join(os.path.dirname(ofa.__file__), "tutorial", "latency_table.py")
    spec = importlib.util.spec_from_file_location("_ofa_latency_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
