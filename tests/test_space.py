"""OFA MobileNetV3 search space: genome encoding, canonical form, sampling, features, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nsganetv2.space import OFAMobileNetV3Space

SPACE = OFAMobileNetV3Space()

# the worked example of the spec (section 2.2)
EXAMPLE = {"d": [2, 3, 4, 2, 3], "ks": [3, 5, 7, 3, 5, 3, 3, 5, 7, 5, 7, 3, 5, 7],
           "e": [3, 4, 6, 3, 4, 4, 6, 3, 6, 3, 3, 6, 4, 3], "r": 224}
EXAMPLE_GENOME = [0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2, 0, 1, 0, 2, 0, 1, 0, 2, 0, 0, 1, 2, 1, 2, 0, 2,
                  0, 1, 2, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 0, 2, 1, 0, 0, 8]


def test_bounds_and_default_resolutions():
    assert SPACE.n_var == 46
    assert SPACE.resolutions == list(range(192, 257, 4)) and len(SPACE.resolutions) == 17
    assert SPACE.xl.tolist() == [0] * 46
    assert SPACE.xu.tolist() == [2] * 45 + [16]
    small = OFAMobileNetV3Space(resolutions=range(32, 65, 4))
    assert small.xu[-1] == 8 and small.decode(small.encode({**EXAMPLE, "r": 40}))["r"] == 40


def test_worked_example_encode_decode():
    g = SPACE.encode(EXAMPLE)
    assert g.tolist() == EXAMPLE_GENOME
    assert SPACE.decode(g) == EXAMPLE


def test_padded_and_string_forms_are_accepted():
    padded = SPACE.pad(EXAMPLE)
    assert len(padded["ks"]) == 20 and padded["ks"][2] is None
    assert SPACE.encode(padded).tolist() == EXAMPLE_GENOME
    filled = {**padded, "ks": [5 if v is None else v for v in padded["ks"]],
              "e": [6 if v is None else v for v in padded["e"]]}
    assert SPACE.encode(filled).tolist() == EXAMPLE_GENOME
    as_str = {**EXAMPLE, "ks": str(np.array(EXAMPLE["ks"])), "e": str(np.array(EXAMPLE["e"]))}
    assert SPACE.validate_config(as_str) == EXAMPLE


@pytest.mark.parametrize("bad, field", [
    ({**EXAMPLE, "ks": EXAMPLE["ks"][:-1]}, "'ks'"),
    ({**EXAMPLE, "e": [5] * 14}, "'e'"),
    ({**EXAMPLE, "d": [2, 3, 4, 2]}, "'d'"),
    ({**EXAMPLE, "d": [2, 3, 4, 2, 5]}, "'d'"),
    ({**EXAMPLE, "r": 225}, "'r'"),
    ({**EXAMPLE, "r": "big"}, "'r'"),
    ({k: v for k, v in EXAMPLE.items() if k != "r"}, "'r'"),
    ({**EXAMPLE, "ks": "[3 5 x]"}, "'ks'"),
    ({**EXAMPLE, "ks": [3.5] * 14}, "'ks'"),
    ("not a dict", "dict"),
])
def test_malformed_configs_name_the_field(bad, field):
    with pytest.raises(ValueError, match=field):
        SPACE.validate_config(bad)


def test_malformed_genomes():
    with pytest.raises(ValueError, match="46"):
        SPACE.decode(np.zeros(45, dtype=int))
    g = np.array(EXAMPLE_GENOME)
    g[45] = 17
    with pytest.raises(ValueError, match="gene 45"):
        SPACE.decode(g)
    with pytest.raises(ValueError, match="integers"):
        SPACE.decode(np.full(46, 0.5))


def test_config_files(tmp_path):
    path = tmp_path / "net.subnet"
    SPACE.save_config(EXAMPLE, path)
    assert json.loads(path.read_text()) == EXAMPLE
    assert SPACE.load_config(path) == EXAMPLE
    (tmp_path / "bad.subnet").write_text("{'ks': [3,")
    with pytest.raises(ValueError, match="not valid JSON"):
        SPACE.load_config(tmp_path / "bad.subnet")


def test_canonical_and_key():
    g = np.array(EXAMPLE_GENOME)
    noisy = g.copy()
    noisy[3:5] = 2  # stage 1 has depth 2: kernel genes 3, 4 are inactive
    noisy[35] = 1  # stage 4 (depth 2) expand gene of layer 3
    assert SPACE.decode(noisy) == EXAMPLE
    assert SPACE.canonical(noisy).tolist() == EXAMPLE_GENOME
    assert SPACE.key(noisy) == SPACE.key(g) == SPACE.key(EXAMPLE)
    assert isinstance(SPACE.key(g), str) and len(SPACE.key(g)) >= 16
    other = g.copy()
    other[1] = 2
    assert SPACE.key(other) != SPACE.key(g)
    batch = SPACE.canonical(np.stack([noisy, g]))
    assert batch.shape == (2, 46) and (batch == g).all()
    # the key is a pure function of the network (same across space instances / processes)
    assert OFAMobileNetV3Space().key(g) == SPACE.key(g)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=45, max_size=45), st.integers(0, 16))
def test_decode_encode_is_canonical(genes, r):
    g = np.array(genes + [r])
    c = SPACE.canonical(g)
    assert SPACE.encode(SPACE.decode(g)).tolist() == c.tolist()
    assert SPACE.canonical(c).tolist() == c.tolist()
    cfg = SPACE.decode(g)
    assert len(cfg["ks"]) == len(cfg["e"]) == sum(cfg["d"])


def test_sampling_and_initial_design():
    a = SPACE.sample(30, np.random.default_rng(5))
    b = SPACE.sample(30, 5)
    assert a == b
    for cfg in a:
        assert SPACE.validate_config(cfg) == cfg
    depths = np.array([c["d"] for c in SPACE.sample(300, 1)])
    assert set(np.unique(depths)) == {2, 3, 4}
    rs = {c["r"] for c in SPACE.sample(300, 2)}
    assert len(rs) > 10 and rs <= set(SPACE.resolutions)
    doe = SPACE.initial_design(10, 3)
    assert len(doe) == 10
    assert doe[0] == {"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 192}
    assert doe[1] == {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": 256}
    with pytest.raises(ValueError):
        SPACE.initial_design(1)


def test_features_raw_and_onehot():
    G = SPACE.encode_many(SPACE.sample(20, 4))
    noisy = G.copy()
    noisy[:, 1:9] = np.where(SPACE.active_mask(G)[:, 1:9], G[:, 1:9], 2)
    raw = SPACE.features(noisy, "raw")
    assert raw.dtype == np.float64 and raw.shape == (20, 46)
    assert (raw == G).all()  # canonicalised
    assert (SPACE.features(noisy, "raw", canonicalize=False) == noisy).all()
    X = SPACE.features(G, "onehot")
    assert X.shape == (20, 120 + 17)
    d_tot = np.array([sum(SPACE.decode(g)["d"]) for g in G])
    assert (X.sum(1) == 2 * d_tot + 1).all()
    assert (X[:, 120:].argmax(1) == G[:, -1]).all()
    assert (SPACE.features(noisy, "onehot") == X).all()
    # first layer of the first stage: kernel one-hot at columns 0..2, expand at 3..5
    assert (X[:, 0:3].argmax(1) == G[:, 1]).all() and (X[:, 3:6].argmax(1) == G[:, 5]).all()
    with pytest.raises(ValueError, match="kind"):
        SPACE.features(G, "bits")


def test_stage_features_sum_each_stages_active_choices():
    configs = SPACE.sample(15, 5)
    S = SPACE.features(SPACE.encode_many(configs), "stages")
    assert S.shape == (15, 21)
    k_idx, e_idx = {3: 0, 5: 1, 7: 2}, {3: 0, 4: 1, 6: 2}
    for row, c in zip(S, configs):
        pos = 0
        for s, d in enumerate(c["d"]):
            ks, es = c["ks"][pos:pos + d], c["e"][pos:pos + d]
            pos += d
            expected = [d - 2, sum(k_idx[k] for k in ks), sum(e_idx[e] for e in es),
                        sum(k_idx[k] * e_idx[e] for k, e in zip(ks, es))]
            assert row[4 * s:4 * s + 4].tolist() == expected
        assert row[-1] == SPACE.resolutions.index(c["r"])


def test_batch_canonical_validates_rows():
    G = SPACE.encode_many(SPACE.sample(5, 8)).astype(float)  # GA operators may hand over floats
    assert (SPACE.canonical(G) == SPACE.encode_many(SPACE.sample(5, 8))).all()
    G[3, 45] = 40
    with pytest.raises(ValueError, match="row 3 gene 45"):
        SPACE.canonical(G)
    with pytest.raises(ValueError, match="46"):
        SPACE.canonical(np.zeros((2, 3, 46)))
