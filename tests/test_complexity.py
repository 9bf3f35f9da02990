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
