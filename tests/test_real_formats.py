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
