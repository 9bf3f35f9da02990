"""Supernet exactness against the PyPI ``ofa`` package, extraction, net.config and checkpoints."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from nsganetv2.space import OFAMobileNetV3Space
from nsganetv2.supernet import (
    MobileNetV3,
    OFAMobileNetV3Supernet,
    load_net_config,
    load_supernet,
    save_net_config,
    save_supernet,
)
from ofa_oracle import build_ofa, randomize_and_calibrate

TOL = 1e-5
SPACE = OFAMobileNetV3Space(resolutions=range(32, 65, 4))


def _configs(seed: int, n_random: int = 3) -> list[dict]:
    return [SPACE.smallest(), SPACE.largest()] + SPACE.sample(n_random, seed)


@pytest.fixture(scope="module", autouse=True)
def _threads(one_thread):
    yield


@pytest.fixture(scope="module", params=[(1.0, 1000), (1.2, 10)], ids=["w1.0", "w1.2-10cls"])
def pair(request):
    width, n_classes = request.param
    torch.manual_seed(0)
    ofa_net = randomize_and_calibrate(build_ofa(width, n_classes), seed=1)
    ours = OFAMobileNetV3Supernet(n_classes=n_classes, width_mult=width, dropout_rate=0.0)
    ours.load_state_dict(ofa_net.state_dict())
    ours.eval()
    return width, ofa_net, ours


def test_state_dict_layout_matches_ofa(pair):
    _, ofa_net, ours = pair
    theirs, mine = ofa_net.state_dict(), ours.state_dict()
    assert list(theirs) == list(mine)
    assert all(theirs[k].shape == mine[k].shape for k in theirs)
    mats = [v for k, v in mine.items() if k.endswith("7to5_matrix")]
    assert mats and not torch.allclose(mats[0], torch.eye(25))  # the oracle really uses the transforms


@torch.no_grad()
def test_logits_match_ofa_and_extraction_is_exact(pair):
    """In float64, so that the few convolutions we compute differently (small maps) agree to rounding."""
    width, ofa_net, ours = pair
    ofa_net, ours = copy.deepcopy(ofa_net).double(), copy.deepcopy(ours).double()
    for i, cfg in enumerate(_configs(seed=int(width * 10))):
        x = torch.randn(2, 3, cfg["r"], cfg["r"], generator=torch.Generator().manual_seed(i), dtype=torch.float64)
        padded = SPACE.pad(cfg)
        ofa_net.set_active_subnet(ks=padded["ks"], e=padded["e"], d=padded["d"])
        ours.set_active(cfg)
        ref = ofa_net(x)
        out = ours(x)
        assert ref.abs().max() > 1e-3 and ref.std() > 1e-3  # not a constant-output network
        assert (out - ref).abs().max().item() <= TOL * max(1.0, ref.abs().max().item()) * 1e-3, cfg
        sub = ours.extract(cfg)
        sub.eval()
        assert sub.resolution == cfg["r"]
        assert (sub(x) - out).abs().max().item() <= TOL * max(1.0, out.abs().max().item()) * 1e-3
        ofa_sub = ofa_net.get_active_subnet(preserve_weight=True)
        assert ofa_sub.config == {k: v for k, v in sub.config.items() if k != "resolution"}
        assert ours.active_net_config() == ofa_sub.config  # ofa omits "groups" in get_active_net_config
        ref_sd, sub_sd = ofa_sub.state_dict(), sub.state_dict()
        assert list(ref_sd) == list(sub_sd)
        assert max((ref_sd[k].double() - sub_sd[k].double()).abs().max().item() for k in ref_sd) <= 1e-6


def test_train_mode_sliced_batchnorm_matches_ofa(pair):
    width, ofa_net, ours = pair
    cfg = SPACE.sample(1, 7)[0]
    padded = SPACE.pad(cfg)
    a, b = copy.deepcopy(ofa_net), copy.deepcopy(ours)
    a.set_active_subnet(ks=padded["ks"], e=padded["e"], d=padded["d"])
    b.set_active(cfg)
    a.train()
    b.train()
    x = torch.randn(4, 3, 40, 40, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        diff = (a(x) - b(x)).abs().max().item()
    assert diff <= TOL
    sa, sb = a.state_dict(), b.state_dict()
    assert max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa if "running" in k) <= 1e-6


def test_sample_active_is_seeded_and_valid():
    net = OFAMobileNetV3Supernet(n_classes=10)
    c1, c2 = net.sample_active(np.random.default_rng(3)), net.sample_active(np.random.default_rng(3))
    assert c1 == c2
    assert net.active_config == c1
    assert len(c1["ks"]) == len(c1["e"]) == sum(c1["d"])
    seen = {tuple(net.sample_active(s)["d"]) for s in range(20)}
    assert len(seen) > 1


def test_min_mid_max_configs_are_valid_and_ordered_by_flops():
    from nsganetv2.evaluation.complexity import count_flops

    net = OFAMobileNetV3Supernet(n_classes=10)
    configs = [net.min_config(), net.mid_config(), net.max_config()]
    assert configs[1] == {"ks": [5] * 15, "e": [4] * 15, "d": [3] * 5}
    for c in configs:
        net.set_active(c)
        assert net.active_config == c
    flops = [count_flops({**c, "r": 32}, n_classes=10) for c in configs]
    assert flops[0] < flops[1] < flops[2]


def test_set_active_rejects_bad_configs():
    net = OFAMobileNetV3Supernet(n_classes=10)
    good = SPACE.sample(1, 0)[0]
    with pytest.raises(ValueError, match="'ks'"):
        net.set_active({**good, "ks": [9] * len(good["ks"])})
    with pytest.raises(ValueError, match="'e'"):
        net.set_active({**good, "e": good["e"][:-1]})
    with pytest.raises(ValueError, match="'d'"):
        net.set_active({**good, "d": [2, 2]})
    with pytest.raises(ValueError, match="'d'"):
        net.set_active({"ks": [3] * 5, "e": [3] * 5, "d": [1, 1, 1, 1, 1]})


@torch.no_grad()
def test_padded_and_string_configs_select_the_same_subnet():
    net = OFAMobileNetV3Supernet(n_classes=10).eval()
    cfg = SPACE.sample(1, 11)[0]
    padded = SPACE.pad(cfg)
    as_str = {"ks": str(np.array(cfg["ks"])), "e": str(np.array(cfg["e"])), "d": cfg["d"]}
    net.set_active(padded)
    a = net.active_config
    net.set_active(as_str)
    assert net.active_config == a == {"ks": cfg["ks"], "e": cfg["e"], "d": cfg["d"]}
    net.set_max()
    net.set_active_subnet(ks=padded["ks"], e=padded["e"], d=padded["d"])  # OFA's signature
    assert net.active_config == a
    net.set_active_subnet(ks=3, e=4, d=2)
    assert net.active_config == {"ks": [3] * 10, "e": [4] * 10, "d": [2] * 5}


@torch.no_grad()
def test_checkpoint_roundtrip_old_keys_and_head_reset(tmp_path, pair):
    width, ofa_net, ours = pair
    sd = ofa_net.state_dict()
    old = {k.replace("blocks.5.conv.", "blocks.5.mobile_inverted_conv.").replace(
        "blocks.1.conv.", "blocks.1.mobile_inverted_conv."): v for k, v in sd.items()}
    assert any(".mobile_inverted_conv." in k for k in old)
    path = tmp_path / f"ofa_mbv3_d234_e346_k357_w{width}"
    torch.save({"state_dict": old}, path)
    cfg = SPACE.sample(1, 2)[0]
    x = torch.randn(2, 3, 40, 40)
    ours.set_active(cfg)
    ref = ours(x)
    loaded = load_supernet(path).eval()  # a file in the old layout
    assert loaded.width_mult == width and loaded.n_classes == ours.n_classes
    loaded.set_active(cfg)
    assert (loaded(x) - ref).abs().max().item() == 0.0
    net = load_supernet(old, n_classes=7, dropout_rate=0.2)  # a raw state dict, then a new head
    assert net.n_classes == 7 and net.classifier.dropout_rate == 0.2
    assert torch.equal(net.blocks[3].conv.point_linear.conv.conv.weight,
                       ours.blocks[3].conv.point_linear.conv.conv.weight)
    assert net.blocks[3].conv.point_linear.conv.conv.weight.data_ptr() != old[
        "blocks.3.conv.point_linear.conv.conv.weight"].data_ptr()
    # our saved file loads into ofa
    out = tmp_path / "saved.pth"
    save_supernet(loaded, out)
    ofa2 = copy.deepcopy(ofa_net)
    for p in ofa2.parameters():
        p.data.zero_()
    ofa2.load_state_dict(torch.load(out)["state_dict"])
    assert all(torch.equal(v, ofa2.state_dict()[k]) for k, v in sd.items())


def test_checkpoint_mismatch_names_key_and_shapes(tmp_path):
    w12 = OFAMobileNetV3Supernet(n_classes=10, width_mult=1.2)
    path = tmp_path / "w12.pth"
    save_supernet(w12, path)
    with pytest.raises(ValueError, match=r"first_conv\.conv\.weight.*\(24, 3, 3, 3\).*\(16, 3, 3, 3\)"):
        load_supernet(path, width_mult=1.0)
    sd = w12.state_dict()
    sd["blocks.7.conv.point_linear.conv.conv.weight"] = torch.zeros(3, 3, 1, 1)
    with pytest.raises(ValueError, match=r"blocks\.7\.conv\.point_linear\.conv\.conv\.weight.*\(3, 3, 1, 1\)"):
        load_supernet(sd)
    sd = w12.state_dict()
    del sd["blocks.9.conv.depth_conv.bn.bn.weight"]
    with pytest.raises(ValueError, match=r"missing key 'blocks\.9\.conv\.depth_conv\.bn\.bn\.weight'"):
        load_supernet(sd)
    bad = tmp_path / "bad.pth"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"supernet checkpoint .*bad\.pth is not a readable torch file"):
        load_supernet(bad)


@torch.no_grad()
def test_net_config_roundtrip_and_ofa_builds_it(tmp_path, pair):
    from ofa.imagenet_classification.networks import MobileNetV3 as OFAStatic

    width, _, ours = pair
    cfg = SPACE.sample(1, 21)[0]
    sub = ours.extract(cfg).eval()
    path = tmp_path / "net.config"
    save_net_config(sub, path)
    loaded = load_net_config(path)
    assert loaded["resolution"] == cfg["r"]
    rebuilt = MobileNetV3.build_from_config(loaded)
    rebuilt.load_state_dict(sub.state_dict())
    rebuilt.eval()
    x = torch.randn(2, 3, cfg["r"], cfg["r"])
    assert torch.equal(rebuilt(x), sub(x))
    theirs = OFAStatic.build_from_config({k: v for k, v in json.loads(path.read_text()).items()
                                          if k != "resolution"})
    theirs.load_state_dict(sub.state_dict())
    theirs.eval().double()
    x64 = x.double()
    ref = theirs(x64)
    assert (ref - sub.double()(x64)).abs().max().item() <= TOL * max(1.0, ref.abs().max().item()) * 1e-3
    (tmp_path / "broken.config").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_net_config(tmp_path / "broken.config")
    with pytest.raises(ValueError, match="first_conv"):
        MobileNetV3.build_from_config({"blocks": []})


def test_drop_path_and_reset_classifier():
    net = OFAMobileNetV3Supernet(n_classes=10)
    sub = net.extract(SPACE.smallest())
    sub.set_drop_path(0.5)
    rates = [b.drop_path_rate for b in sub.blocks]
    assert rates[0] == 0.0 and rates == sorted(rates) and rates[-1] < 0.5
    x = torch.randn(4, 3, 32, 32)
    sub.eval()
    with torch.no_grad():
        assert torch.equal(sub(x), sub(x))
    sub.train()
    block = sub.blocks[-1]
    block.drop_path_rate = 0.9
    h = torch.randn(64, block.conv.in_channels, 2, 2)
    with torch.no_grad():
        out = block(h)
    dropped = [(out[i] - h[i]).abs().max().item() == 0.0 for i in range(64)]
    assert 0 < sum(dropped) < 64  # some samples keep only the shortcut
    sub.reset_classifier(5, dropout_rate=0.3)
    assert sub.classifier.linear.out_features == 5 and sub.config["classifier"]["dropout_rate"] == 0.3
    sub.eval()
    assert sub(x).shape == (4, 5)
    net.reset_classifier(3, 0.0)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    with pytest.raises(ValueError):
        sub.set_drop_path(1.5)
