"""Files users bring from the original NSGANetV2, from NAT and from OFA: each read exactly, nothing silent.

Every test writes small files of the real formats itself (the real files live outside the project; see
``benchmarks/check_real_files.py`` for the checks on them).
"""
import json

import pytest
import yaml

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.evaluation.latency import LatencyTable, keys_for
from nsganetv2.space import Arch
from tests.ofa_oracle import ofa_specs, write_ofa_tables

SUBNET = {"ks": [3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5], "e": [3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4], "d": [2, 2, 2, 2, 3],
          "r": 224}


# ---------------------------------------------------------------------------------------- 1. "w" in net.subnet
@pytest.fixture()
def w12_table(tmp_path):
    """A table holding only the layers of SUBNET at width 1.2 (as NAT's w1.2 subnets need from the i7 table)."""
    keys = keys_for(SUBNET, width_mult=1.2)
    entries = {k: {"mean": 0.5 + i / 10, "var": 0.0} for i, k in enumerate(keys)}
    path = tmp_path / "w12_lut.yaml"
    path.write_text(yaml.safe_dump(entries))
    return path, sum(e["mean"] for e in entries.values())


def test_latency_predict_honours_the_subnets_own_width(w12_table, tmp_path, capsys):
    lut, expected = w12_table
    sub = tmp_path / "net.subnet"
    sub.write_text(json.dumps({**SUBNET, "w": 1.2}))
    assert api.predict_latency(lut, sub) == pytest.approx(expected)
    assert api.predict_latency(lut, sub, width_mult=1.2) == pytest.approx(expected)
    assert LatencyTable.load(lut).predict({**SUBNET, "w": 1.2}) == pytest.approx(expected)  # the cpu objective's path
    assert main(["latency", "predict", "--lut", str(lut), "--subnet", str(sub)]) == 0
    assert capsys.readouterr().out.strip() == f"{expected:.3f} ms"
    with pytest.raises(ValueError, match="says width 1.2 but width 1.0"):
        api.predict_latency(lut, sub, width_mult=1.0)
    sub10 = tmp_path / "w10.subnet"
    sub10.write_text(json.dumps({**SUBNET, "w": 1.0}))  # an explicit 1.0 contradicts an explicit 1.2 too
    with pytest.raises(ValueError, match="says width 1.0 but width 1.2"):
        api.predict_latency(lut, sub10, width_mult=1.2)
    assert main(["latency", "predict", "--lut", str(lut), "--subnet", str(sub10)]) == 2
    assert "width 1.0" in capsys.readouterr().err  # the w1.0 layers are not in a w1.2 table: said, not guessed


def test_a_supernet_refuses_an_architecture_of_another_width():
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    net = OFAMobileNetV3Supernet(n_classes=10)
    with pytest.raises(ValueError, match="width 1.2 .* supernet is w1.0"):
        net.extract({**SUBNET, "w": 1.2})
    net.extract({**SUBNET, "w": 1.0})


# ------------------------------------------------------------------------ 5. the resolution of a net.config
def _old_layout(cfg):
    """A config in the old OFA layout that NAT and OFA's published nets use (mobile_inverted_conv, old names)."""
    cfg = json.loads(json.dumps(cfg))
    cfg.pop("resolution", None)
    for block in cfg["blocks"]:
        block["name"] = "MobileInvertedResidualBlock"
        block["mobile_inverted_conv"] = block.pop("conv")
        block["mobile_inverted_conv"]["name"] = "MBInvertedConvLayer"
    return cfg


@pytest.fixture(scope="module")
def small_net_config():
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    net = OFAMobileNetV3Supernet(n_classes=10).extract({"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5})
    return net.config


def test_validate_and_latency_measure_take_the_resolution_in_the_documented_order(small_net_config, tmp_path,
                                                                                     monkeypatch, caplog):
    import nsganetv2.data as data
    import nsganetv2.evaluation.latency as latency
    from nsganetv2.evaluation.validate import network_resolution

    seen = []

    def fake_loader(dataset, root, resolution, **kw):
        seen.append(resolution)
        raise RuntimeError("stop")  # the resolution is all this test needs

    def fake_measure(net, resolution, **kw):
        seen.append(resolution)
        return None

    monkeypatch.setattr(data, "build_test_loader", fake_loader)
    monkeypatch.setattr(latency, "measure_onnx", fake_measure)
    nat = tmp_path / "nat" / "net.config"  # NAT: img_size inside the config
    nat.parent.mkdir()
    nat.write_text(json.dumps({**_old_layout(small_net_config), "img_size": 40}))
    ofa = tmp_path / "ofa" / "net.config"  # OFA: image_size in run.config beside it
    ofa.parent.mkdir()
    ofa.write_text(json.dumps(_old_layout(small_net_config)))
    (ofa.parent / "run.config").write_text(json.dumps({"image_size": 36}))
    ours = tmp_path / "ours" / "net.config"
    ours.parent.mkdir()
    ours.write_text(json.dumps({**small_net_config, "resolution": 44}))
    bare = tmp_path / "bare" / "net.config"
    bare.parent.mkdir()
    bare.write_text(json.dumps(_old_layout(small_net_config)))
    assert network_resolution(nat) == (40, f"'img_size' in {nat}")
    assert network_resolution(ofa) == (36, f"'image_size' in {ofa.parent / 'run.config'}")
    assert network_resolution(ours)[0] == 44 and network_resolution(bare)[0] == 224
    assert network_resolution(nat, img_size=32) == (32, "--img-size")
    with caplog.at_level("INFO"):
        for path, flag in ((nat, None), (ofa, None), (ours, None), (bare, None), (nat, 32)):
            with pytest.raises(RuntimeError, match="stop"):
                api.validate(path, None, "mnist5k", img_size=flag)
            api.measure_latency(path, img_size=flag)
    assert seen == [40, 40, 36, 36, 44, 44, 224, 224, 32, 32]
    assert "validating at 36 px ('image_size' in" in caplog.text and "measuring at 224 px (the default" in caplog.text


# ------------------------------------------------------------------------------------------------- 7. Mish
def _with_act(cfg, act):
    cfg = json.loads(json.dumps(cfg))
    for layer in [cfg["first_conv"], cfg["final_expand_layer"], cfg["feature_mix_layer"]] + \
            [b["mobile_inverted_conv"] for b in cfg["blocks"]]:
        layer["act_func"] = act
    return cfg


def test_mish_configs_build_run_and_count_like_nats(small_net_config, tmp_path):
    import torch
    import torch.nn.functional as F

    from nsganetv2.evaluation.complexity import profile_module
    from nsganetv2.evaluation.latency import keys_for_net
    from nsganetv2.evaluation.validate import load_network
    from nsganetv2.supernet import MobileNetV3

    cfg = {**_with_act(_old_layout(small_net_config), "mish"), "img_size": 40}  # as NAT-M1..M4 are written
    path = tmp_path / "net.config"
    path.write_text(json.dumps(cfg))
    torch.manual_seed(0)
    net = load_network(path)
    assert net.resolution == 40
    assert sum(isinstance(m, torch.nn.Mish) for m in net.modules()) == 3 + 2 * 11 - 1  # the first block has no expand

    class NATMish(torch.nn.Module):  # NAT's own definition
        def forward(self, x):
            return x * torch.tanh(F.softplus(x))

    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        y = net(x)
        for name, m in list(net.named_modules()):
            for child_name, child in list(m.named_children()):
                if isinstance(child, torch.nn.Mish):
                    setattr(m, child_name, NATMish())
        torch.testing.assert_close(net(x), y, rtol=1e-5, atol=1e-6)
    relu = MobileNetV3.build_from_config(_with_act(_old_layout(small_net_config), "relu"))
    assert profile_module(net, 40) == profile_module(relu, 40)  # an activation adds no MACs in OFA's definition
    assert keys_for_net(cfg)  # the latency-table keys of a Mish net are those of its layers


# ------------------------------------------------------------------------------------------- 9. OFA's tables
def test_ofa_latency_tables_predict_as_ofas_latency_table(tmp_path, capsys):
    from nsganetv2.evaluation.latency import OFALatencyTable, cpu_latency_fn, load_latency_table
    from tests.ofa_oracle import ofa_latency_table

    resolutions = (160, 176)
    specs = list(ofa_specs(12, resolutions))
    luts = write_ofa_tables(tmp_path, specs, resolutions)
    ofa = ofa_latency_table(luts)
    ours = load_latency_table(tmp_path)  # the folder, recognised as OFA's format by its keys
    assert isinstance(ours, OFALatencyTable) and ours.resolutions == [160, 176] and ours.width_mult == 1.2
    single = load_latency_table(tmp_path / "160_lookup_table.yaml")
    cpu = cpu_latency_fn(str(tmp_path), width_mult=1.2, n_classes=1000)  # the `cpu` objective's table path
    for spec in specs:
        expected = ofa.predict_efficiency(spec)
        assert ours.predict(spec) == pytest.approx(expected, rel=1e-12)
        assert cpu(spec) == pytest.approx(expected, rel=1e-12)
        if spec["r"][0] == 160:
            assert single.predict(spec, width_mult=1.2) == pytest.approx(expected, rel=1e-12)
    # through the CLI, with a NAT-style net.subnet that says w 1.2
    arch = Arch.from_config(specs[0])
    sub = tmp_path / "net.subnet"
    sub.write_text(json.dumps({**arch.to_config(), "w": 1.2}))
    assert main(["latency", "predict", "--lut", str(tmp_path), "--subnet", str(sub)]) == 0
    assert capsys.readouterr().out.strip() == f"{ofa.predict_efficiency(specs[0]):.3f} ms"
    # a w1.0 architecture is not in a w1.2 table, and a resolution without a file is named
    with pytest.raises(KeyError, match="width 1.0"):
        ours.predict(specs[0], width_mult=1.0)
    with pytest.raises(KeyError, match=r"cover resolutions \[160, 176\], not 192"):
        ours.predict({**specs[0], "r": 192})


def test_a_table_of_a_foreign_format_is_named_as_such(tmp_path, capsys):
    from nsganetv2.evaluation.latency import load_latency_table

    bad = tmp_path / "tflite.yaml"
    bad.write_text(yaml.safe_dump({"CONV_2D-224x224x3": {"mean": 1.0}}))
    with pytest.raises(ValueError, match="format this version cannot read .*'CONV_2D-224x224x3'.*OFA's"):
        load_latency_table(bad)
    with pytest.raises(ValueError, match="format this version cannot read"):
        LatencyTable.load(bad)
    ofa = tmp_path / "160_lookup_table.yaml"
    ofa.write_text(yaml.safe_dump({"Conv-input:160x160x3-output:80x80x24": {"mean": 1.0}}))
    with pytest.raises(ValueError, match="is an OFA latency table"):
        LatencyTable.load(ofa)
    (tmp_path / "x.subnet").write_text(json.dumps(SUBNET))
    assert main(["latency", "predict", "--lut", str(bad), "--subnet", str(tmp_path / "x.subnet")]) == 2
    assert "format this version cannot read" in capsys.readouterr().err


def test_a_subnet_without_w_takes_the_width_of_the_net_config_beside_it(w12_table, small_net_config, tmp_path,
                                                                           caplog):
    """NAT's cifar100 and cinic10 net.subnet say no w, but their net.config (and network) is w1.2."""
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    lut, expected = w12_table
    folder = tmp_path / "nat"
    folder.mkdir()
    (folder / "net.subnet").write_text(json.dumps(SUBNET))
    net = OFAMobileNetV3Supernet(n_classes=10, width_mult=1.2).extract(SUBNET)
    (folder / "net.config").write_text(json.dumps(_old_layout(net.config)))
    with caplog.at_level("INFO"):
        assert api.predict_latency(lut, folder / "net.subnet") == pytest.approx(expected)
    assert "has no 'w'; the net.config beside it is w1.2" in caplog.text
    with pytest.raises(ValueError, match="net.config beside it is w1.2"):
        api.predict_latency(lut, folder / "net.subnet", width_mult=1.0)


# ----------------------------------------------------------------------------------- 12. net.config for old readers
def test_net_config_we_write_reads_in_the_old_layout_too(tmp_path):
    import torch

    from nsganetv2.supernet import MobileNetV3, OFAMobileNetV3Supernet, load_net_config, save_net_config
    from tests.ofa_oracle import read_old_layout

    torch.manual_seed(0)
    sup = OFAMobileNetV3Supernet(n_classes=10, width_mult=1.2)
    net = sup.extract(SUBNET).eval()
    save_net_config(net, tmp_path / "net.config", resolution=224)
    written = load_net_config(tmp_path / "net.config")
    assert written["resolution"] == written["img_size"] == 224
    assert all(b["conv"]["name"] == "MBConvLayer" and b["mobile_inverted_conv"]["name"] == "MBInvertedConvLayer"
               for b in written["blocks"])
    old = read_old_layout(written)  # what OFA 0.0.4 / the original's code sees: it builds without a TypeError
    rebuilt = MobileNetV3.build_from_config(old)
    rebuilt.load_state_dict(net.state_dict())
    rebuilt.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), net(x)) and rebuilt.resolution == 224
    ours = MobileNetV3.build_from_config(written)  # and we read our own file as before
    assert ours.config == {**net.config, "resolution": 224}
    with pytest.raises(TypeError):
        read_old_layout({**written, "first_conv": {**written["first_conv"], "use_se": False}})
