"""Analytic params/FLOPs against the ofa package's counters and our hook-based count."""

from __future__ import annotations

import pytest

from nsganetv2.evaluation.complexity import (
    _count,
    complexity,
    count_flops,
    count_params,
    in_millions,
    profile_module,
)
from nsganetv2.space import OFAMobileNetV3Space
from nsganetv2.supernet import OFAMobileNetV3Supernet
from ofa_oracle import build_ofa

SPACE = OFAMobileNetV3Space(resolutions=range(32, 65, 4))


@pytest.fixture(scope="module", autouse=True)
def _threads(one_thread):
    yield


@pytest.mark.parametrize("width, n_classes", [(1.0, 1000), (1.2, 10)])
def test_matches_ofa_counters_and_hooks(width, n_classes):
    from ofa.utils import count_net_flops, count_parameters

    ofa_net = build_ofa(width, n_classes)
    ours = OFAMobileNetV3Supernet(n_classes=n_classes, width_mult=width)
    for cfg in [SPACE.smallest(), SPACE.largest()] + SPACE.sample(3, 9):
        padded = SPACE.pad(cfg)
        ofa_net.set_active_subnet(ks=padded["ks"], e=padded["e"], d=padded["d"])
        ofa_sub = ofa_net.get_active_subnet(preserve_weight=False)
        r = cfg["r"]
        flops, params = count_flops(cfg, n_classes, width), count_params(cfg, n_classes, width)
        assert flops == int(count_net_flops(ofa_sub, (1, 3, r, r)))
        assert params == count_parameters(ofa_sub)
        assert profile_module(ours.extract(cfg), r) == (flops, params)


def test_large_resolution_and_supernet_reference():
    space = OFAMobileNetV3Space()
    net = OFAMobileNetV3Supernet(n_classes=1000)
    cfg = space.largest()
    c = complexity(cfg)
    assert profile_module(net.extract(cfg), cfg["r"]) == c
    # the supernet (7,678,880 params, spec 8.1) = the largest subnet + 20 x (625 + 81) transform parameters
    assert sum(p.numel() for p in net.parameters()) == c.params + 20 * (625 + 81)
    # complexity grows with the resolution only through FLOPs
    assert count_flops(cfg, resolution=192) < c.flops and count_params(cfg) == c.params
    assert in_millions(c.flops) == round(c.flops / 1e6, 2)


def test_ofa_float32_counter_agrees_at_224():
    from ofa.utils import count_net_flops

    ofa_net = build_ofa(1.0, 1000)
    space = OFAMobileNetV3Space()
    cfg = {**space.sample(1, 0)[0], "r": 224}
    padded = space.pad(cfg)
    ofa_net.set_active_subnet(ks=padded["ks"], e=padded["e"], d=padded["d"])
    theirs = count_net_flops(ofa_net.get_active_subnet(preserve_weight=False), (1, 3, 224, 224))
    assert abs(count_flops(cfg) - theirs) <= 1e-6 * theirs


def test_classes_padded_form_cache_and_errors():
    cfg = SPACE.sample(1, 3)[0]
    assert count_params(cfg, n_classes=10) == count_params(cfg, n_classes=1000) - 1280 * 990 - 990
    assert count_flops(SPACE.pad(cfg)) == count_flops(cfg)
    before = _count.cache_info().hits
    count_flops(cfg)
    assert _count.cache_info().hits == before + 1
    with pytest.raises(ValueError, match="resolution"):
        count_flops({k: v for k, v in cfg.items() if k != "r"})
    with pytest.raises(ValueError, match="'ks'"):
        count_flops({**cfg, "ks": cfg["ks"][:-1]})


def _traced_macs(net, resolution):
    """A count in the manner of torchprofile 0.0.1 on the ops the network runs: convolution (output elements x
    in/groups x kh x kw), addmm/mm (n p m), every elementwise mul and every mean (output elements). Everything else
    (add, div, BN, ReLU6, Mish ...) counts 0."""
    import math

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    total = [0]

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            packet = func.overloadpacket
            if packet is aten.convolution:
                total[0] += out.numel() * math.prod(args[1].shape[1:])
            elif packet is aten.addmm:
                total[0] += out.shape[0] * out.shape[1] * args[1].shape[1]
            elif packet is aten.mm:
                total[0] += out.shape[0] * out.shape[1] * args[0].shape[1]
            elif packet in (aten.mul, aten.mul_, aten.mean):
                total[0] += out.numel()
            return out

    net.eval()
    with torch.no_grad(), Count():
        net(torch.zeros(1, 3, resolution, resolution))
    return total[0]


@pytest.mark.parametrize("width, n_classes", [(1.0, 10), (1.2, 1000)])
def test_original_flops_counter_equals_a_torchprofile_style_count(width, n_classes):
    import numpy as np

    sup = OFAMobileNetV3Supernet(n_classes=n_classes, width_mult=width)
    rng = np.random.default_rng(4)
    # at 160 px and more every map is larger than 4x4, so the depthwise convolutions run as convolutions (on
    # smaller maps they run as matrix products, which this count does not see)
    for cfg, r in zip(SPACE.sample(3, rng), (160, 176, 197)):
        cfg = dict(cfg, r=r)
        net = sup.extract(cfg)
        expected = _traced_macs(net, cfg["r"])
        assert complexity(cfg, n_classes, width, counter="original").flops == expected
        assert profile_module(net, cfg["r"], counter="original").flops == expected
        assert complexity(cfg, n_classes, width).flops == _count(*(tuple(cfg[k]) for k in ("ks", "e", "d")),
                                                                 cfg["r"], n_classes, width).flops


def test_original_flops_counter_reproduces_net_stats_of_the_original():
    # two net_i.stats of a CIFAR-10 run of the original's code (CNAS, torchprofile 0.0.1, w1.0, 10-class head)
    smallest = {"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 192}
    net0 = {"ks": [7, 7, 7, 3, 3, 5, 7, 5, 3, 7, 7, 3, 7, 7, 7, 3, 7, 7],
            "e": [6, 4, 3, 3, 6, 6, 6, 3, 6, 3, 3, 6, 3, 3, 3, 3, 6, 3], "d": [4, 4, 4, 4, 2], "r": 192}
    for cfg, flops, params in ((smallest, 89.42, 2.14), (net0, 248.88, 3.09)):
        assert in_millions(count_flops(cfg, n_classes=10, counter="original")) == flops
        assert in_millions(count_params(cfg, n_classes=10)) == params
        assert in_millions(count_flops(cfg, n_classes=10)) < flops  # OFA's definition counts no elementwise ops
    with pytest.raises(ValueError, match="unknown FLOPs counter"):
        count_flops(smallest, counter="torchprofile")


def test_original_flops_counter_counts_mish_as_nats_published_flops():
    """Mish adds nothing: NAT's Mish networks are named by FLOPs that count no multiply for it (flowers102
    ``flops@400``: 399.7 M this way, 406.1 M counting one; stl10 ``flops@369``: 368.8 vs 374.2)."""
    import json

    import torch

    from nsganetv2.supernet import MobileNetV3

    sup = OFAMobileNetV3Supernet(n_classes=10)
    cfg = sup.extract({"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5}).config
    for layer in [cfg["first_conv"], cfg["final_expand_layer"], cfg["feature_mix_layer"]] + \
            [b["conv"] for b in cfg["blocks"]]:
        layer["act_func"] = "mish"
    net = MobileNetV3.build_from_config(json.loads(json.dumps(cfg)))
    assert sum(isinstance(m, torch.nn.Mish) for m in net.modules()) > 0
    assert profile_module(net, 160, counter="original").flops == _traced_macs(net, 160)
