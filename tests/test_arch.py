"""The Arch value type: one normaliser for every config layout, one key, JSON round trip, resolutions."""
import json

import numpy as np
import pytest

from nsganetv2.space import Arch, OFAMobileNetV3Space, default_resolutions, parse_resolutions

UNPADDED = {"ks": [3, 5, 7, 3, 5, 7, 3, 5, 7, 3], "e": [3, 4, 6, 3, 4, 6, 3, 4, 6, 3], "d": [2, 2, 2, 2, 2],
            "r": 224}


def _padded(cfg):
    ks, e, pos = [], [], 0
    for d in cfg["d"]:
        ks += cfg["ks"][pos:pos + d] + [None] * (4 - d)
        e += cfg["e"][pos:pos + d] + [None] * (4 - d)
        pos += d
    return {"ks": ks, "e": e, "d": cfg["d"], "r": cfg["r"]}


def test_every_layout_gives_the_same_arch_and_key():
    a = Arch.from_config(UNPADDED)
    layouts = [
        _padded(UNPADDED),
        {**UNPADDED, "ks": str(np.array(UNPADDED["ks"])), "e": str(UNPADDED["e"])},  # lists written as text
        {k: v for k, v in UNPADDED.items() if k != "r"} | {"resolution": 224},
        {k: v for k, v in UNPADDED.items() if k != "r"} | {"img_size": 224},
        {**UNPADDED, "w": 1.0},
        a,
    ]
    for cfg in layouts:
        b = Arch.from_config(cfg)
        assert b == a and hash(b) == hash(a) and b.key == a.key
    assert a.ks == tuple(UNPADDED["ks"]) and a.n_active == 10 and a.width == 1.0
    assert json.loads(a.key) == UNPADDED  # compact sorted JSON of the unpadded config


def test_scalars_width_and_overrides():
    a = Arch.from_config({"ks": 7, "e": 6, "d": 4})  # OFA's set_active_subnet takes one value for all layers
    assert a.ks == (7,) * 20 and a.d == (4,) * 5 and a.r is None
    w = Arch.from_config({**UNPADDED, "w": 1.2})
    assert w.width == 1.2 and w.key != Arch.from_config(UNPADDED).key and w.to_config()["w"] == 1.2
    assert Arch.from_config(UNPADDED, width=1.2) == w and Arch.from_config(w, width=1.2) == w
    with pytest.raises(ValueError, match="says width 1.2 but width 1.0"):
        Arch.from_config(w, width=1.0)
    assert Arch.from_config(UNPADDED, resolution=192).r == 192 and a.with_resolution(160).r == 160


def test_json_round_trip_padded_form_and_files(tmp_path):
    a = Arch.from_config({**UNPADDED, "w": 1.2})
    assert Arch.from_json(a.to_json()) == a
    padded = a.to_config(padded=True)
    assert len(padded["ks"]) == 20 and padded["ks"][2] is None and Arch.from_config(padded) == a
    a.save(tmp_path / "net.subnet")
    assert Arch.load(tmp_path / "net.subnet") == a
    (tmp_path / "bad.subnet").write_text("{not json")
    with pytest.raises(ValueError, match="bad.subnet: not valid JSON"):
        Arch.load(tmp_path / "bad.subnet")


@pytest.mark.parametrize("cfg, match", [
    ({"ks": [3] * 10, "e": [3] * 10}, "missing the field 'd'"),
    ({**UNPADDED, "d": [2, 2, 2, 2]}, "'d' must hold 5 ints"),
    ({**UNPADDED, "d": [2, 2, 2, 2, 9]}, "depth outside 1..4"),
    ({**UNPADDED, "ks": [3] * 9}, "sum\\(d\\) = 10 entries"),
    ({**UNPADDED, "r": "big"}, "'r' = 'big' is not a resolution"),
    ({**UNPADDED, "w": -1}, "not a width multiplier"),
    ({**UNPADDED, "e": [3.5] * 10}, "must hold ints"),
    ([1, 2, 3], "a dict with keys ks, e, d"),
])
def test_bad_configs_name_the_field(cfg, match):
    with pytest.raises(ValueError, match=match):
        Arch.from_config(cfg)


def test_space_and_resolutions_share_one_home():
    assert OFAMobileNetV3Space().resolutions == default_resolutions("imagenet") == list(range(192, 257, 4))
    assert default_resolutions("mnist5k") == [32, 36, 40]
    assert parse_resolutions("192-256:16") == [192, 208, 224, 240, 256] and parse_resolutions("32,40") == [32, 40]
    with pytest.raises(ValueError, match="bad resolution list"):
        parse_resolutions("a-b")
    space = OFAMobileNetV3Space()
    assert space.validate_config(_padded(UNPADDED)) == UNPADDED
