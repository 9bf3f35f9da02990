"""Latency: ONNX export and timing, the measured-latency cache, look-up tables (original key format), building."""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

from nsganetv2.evaluation.latency import (
    LatencyMeter,
    LatencyStats,
    LatencyTable,
    MissingLatencyKeyError,
    build_lut,
    count_lut_keys,
    cpu_latency_fn,
    export_onnx,
    keys_for,
    keys_for_net,
    lut_specs,
    measure_onnx,
    measure_torch,
)
from nsganetv2.space import Arch, OFAMobileNetV3Space
from nsganetv2.supernet import OFAMobileNetV3Supernet

# spec section 2.2 worked example
EXAMPLE = {"ks": [3, 5, 7, 3, 5, 3, 3, 5, 7, 5, 7, 3, 5, 7], "e": [3, 4, 6, 3, 4, 4, 6, 3, 6, 3, 3, 6, 4, 3],
           "d": [2, 3, 4, 2, 3], "r": 224}
# worked by hand from the OFA MobileNetV3 w1.0 layout (spec fact 13) and the summation rule (spec 5.5)
EXAMPLE_KEYS = [
    "first_conv-input:224x224x3-output:112x112x16",
    "final_expand_layer-input:7x7x160-output:7x7x960",
    "feature_mix_layer-input:1x1x960-output:1x1x1280",
    "classifier-input:1280-output:1000",
    "MBConv-input:112x112x16-output:112x112x16-expand:1-kernel:3-stride:1-idskip:1-se:0",
    "MBConv-input:112x112x16-output:56x56x24-expand:3-kernel:3-stride:2-idskip:0-se:0",
    "MBConv-input:56x56x24-output:56x56x24-expand:4-kernel:5-stride:1-idskip:1-se:0",
    "MBConv-input:56x56x24-output:28x28x40-expand:6-kernel:7-stride:2-idskip:0-se:1",
    "MBConv-input:28x28x40-output:28x28x40-expand:3-kernel:3-stride:1-idskip:1-se:1",
    "MBConv-input:28x28x40-output:28x28x40-expand:4-kernel:5-stride:1-idskip:1-se:1",
    "MBConv-input:28x28x40-output:14x14x80-expand:4-kernel:3-stride:2-idskip:0-se:0",
    "MBConv-input:14x14x80-output:14x14x80-expand:6-kernel:3-stride:1-idskip:1-se:0",
    "MBConv-input:14x14x80-output:14x14x80-expand:3-kernel:5-stride:1-idskip:1-se:0",
    "MBConv-input:14x14x80-output:14x14x80-expand:6-kernel:7-stride:1-idskip:1-se:0",
    "MBConv-input:14x14x80-output:14x14x112-expand:3-kernel:5-stride:1-idskip:0-se:1",
    "MBConv-input:14x14x112-output:14x14x112-expand:3-kernel:7-stride:1-idskip:1-se:1",
    "MBConv-input:14x14x112-output:7x7x160-expand:6-kernel:3-stride:2-idskip:0-se:1",
    "MBConv-input:7x7x160-output:7x7x160-expand:4-kernel:5-stride:1-idskip:1-se:1",
    "MBConv-input:7x7x160-output:7x7x160-expand:3-kernel:7-stride:1-idskip:1-se:1",
]
TINY = dict(resolutions=[32], ks_list=[3], expand_list=[3], depth_list=[2])
TINY_CONFIG = {"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 32}


@pytest.fixture(scope="module")
def supernet() -> OFAMobileNetV3Supernet:
    torch.manual_seed(0)
    return OFAMobileNetV3Supernet().eval()


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 5)).eval()


def _check_stats(s: LatencyStats, runs: int) -> None:
    assert s.runs == runs
    assert 0 < s.min <= s.p10 <= s.median_ms <= s.p90
    assert s.mean > 0 and s.std >= 0 and math.isfinite(s.mean)


# ---- measurement -------------------------------------------------------------------------------------------------
def test_export_onnx_matches_torch_and_measures(tmp_path):
    net = _tiny_net()
    path = export_onnx(net, 16, batch_size=2, path=tmp_path / "m.onnx")
    assert not list(tmp_path.glob(".tmp-*")), "temp file left behind"
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"input": x})
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    _check_stats(measure_onnx(path, 16, batch_size=2, warmup=2, runs=7), 7)
    _check_stats(measure_onnx(net, 16, warmup=1, runs=5, clock="wall"), 5)
    _check_stats(measure_onnx(export_onnx(net, 16), 16, runs=3), 3)  # bytes
    with pytest.raises(ValueError, match="re-export"):
        measure_onnx(path, 32, batch_size=2)
    with pytest.raises(ValueError, match="does not exist"):
        measure_onnx(tmp_path / "missing.onnx", 16)
    with pytest.raises(ValueError, match="clock"):
        measure_onnx(path, 16, batch_size=2, threads=2, clock="cpu")


def test_measure_torch_restores_threads_and_mode():
    net = _tiny_net().train()
    threads = torch.get_num_threads()
    _check_stats(measure_torch(net, 16, warmup=1, runs=4), 4)
    assert net.training and torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="runs"):
        measure_torch(net, 16, runs=0)


def test_stats_from_samples_and_dict_round_trip():
    s = LatencyStats.from_samples([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s.median_ms, s.min, s.mean, s.runs) == (3.0, 1.0, 3.0, 5)
    assert s.value("p10") == pytest.approx(1.4) and s.var == pytest.approx(2.0)
    assert LatencyStats.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="statistic"):
        s.value("max")


# ---- meter -------------------------------------------------------------------------------------------------------
def test_meter_caches_by_canonical_config(tmp_path):
    calls = []

    def build(cfg):  # any config -> module; the meter only sees the config's key and r
        calls.append(cfg)
        return _tiny_net()

    cache = tmp_path / "lat.json"
    meter = LatencyMeter(build, warmup=1, runs=3, cache_path=cache)
    cfg = {"ks": [3] * 10, "e": [4] * 10, "d": [2] * 5, "r": 32}
    padded = {"ks": [3, 3, 7, 7] * 5, "e": [4, 4, 6, 6] * 5, "d": [2] * 5, "r": 32}  # same active layers
    assert Arch.from_config(cfg).key == Arch.from_config(padded).key
    first = meter(cfg)
    assert first > 0 and meter(padded) == first and meter.measure(cfg).median_ms == first
    assert meter.n_measured == 1 and len(calls) == 1 and cfg in meter
    other = dict(cfg, r=40)
    assert other not in meter
    meter(other)
    assert meter.n_measured == 2 and len(calls) == 2

    again = LatencyMeter(build, warmup=1, runs=3, cache_path=cache)  # the JSON file serves both
    assert again(padded) == first and again.n_measured == 0 and len(calls) == 2
    with pytest.raises(ValueError, match="settings"):
        LatencyMeter(build, warmup=1, runs=4, cache_path=cache)
    torch_meter = LatencyMeter(build, backend="torch", warmup=1, runs=2)
    assert torch_meter(cfg) > 0 and torch_meter.n_measured == 1
    assert cpu_latency_fn(meter=meter)(cfg) == first


# ---- table ---------------------------------------------------------------------------------------------------------
def test_keys_for_hand_worked_example(supernet):
    assert keys_for(EXAMPLE) == EXAMPLE_KEYS
    padded = dict(EXAMPLE)
    padded["ks"] = [3, 5, 0, 0, 7, 3, 5, 0, 3, 3, 5, 7, 5, 7, 0, 0, 3, 5, 7, 0]
    padded["e"] = [3, 4, 0, 0, 6, 3, 4, 0, 4, 6, 3, 6, 3, 3, 0, 0, 6, 4, 3, 0]
    assert keys_for(padded) == EXAMPLE_KEYS
    # the original algorithm (walk of the built subnet's config) gives the same keys
    net = supernet.extract(EXAMPLE)
    assert keys_for_net(net, 224) == EXAMPLE_KEYS
    cfg = net.config
    for b in cfg["blocks"]:  # old OFA layout
        b["mobile_inverted_conv"] = b.pop("conv")
    assert keys_for_net(cfg, 224) == EXAMPLE_KEYS
    wide = keys_for(EXAMPLE, width_mult=1.2, n_classes=10)
    assert wide[0] == "first_conv-input:224x224x3-output:112x112x24"
    assert wide[3] == "classifier-input:1536-output:10"
    assert wide[-1] == "MBConv-input:7x7x192-output:7x7x192-expand:3-kernel:7-stride:1-idskip:1-se:1"


def test_predict_sums_entries_and_round_trips_yaml(tmp_path):
    rng = np.random.default_rng(0)
    values = {k: float(v) for k, v in zip(EXAMPLE_KEYS, rng.uniform(0.01, 2.0, len(EXAMPLE_KEYS)))}
    table = LatencyTable({k: {"mean": v, "var": v / 100} for k, v in values.items()})
    table.add("MBConv-input:7x7x160-output:7x7x160-expand:6-kernel:7-stride:1-idskip:1-se:1", 99.0)  # unused
    assert table.predict(EXAMPLE) == pytest.approx(sum(values.values()))
    path = table.save(tmp_path / "lut.yaml")
    text = open(path).read()
    assert "MBConv-input:56x56x24-output:28x28x40-expand:6-kernel:7-stride:2-idskip:0-se:1:\n  mean:" in text
    loaded = LatencyTable.load(path)
    assert loaded.entries == table.entries and loaded.predict(EXAMPLE) == table.predict(EXAMPLE)


def test_reads_published_format_with_extra_fields(tmp_path):
    lines = [f"{k}:\n  count: 10\n  mean: {0.5 + i}\n  var: 0.001\n" for i, k in enumerate(EXAMPLE_KEYS)]
    (tmp_path / "i7.yaml").write_text("".join(lines))
    table = LatencyTable.load(tmp_path / "i7.yaml")
    assert len(table) == len(EXAMPLE_KEYS)
    assert table.predict(EXAMPLE) == pytest.approx(sum(0.5 + i for i in range(len(EXAMPLE_KEYS))))
    assert table[EXAMPLE_KEYS[0]]["count"] == 10
    (tmp_path / "bad.yaml").write_text("first_conv-input:1x1x3-output:1x1x16:\n  var: 1.0\n")
    with pytest.raises(ValueError, match="mean"):
        LatencyTable.load(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="build"):
        LatencyTable.load(tmp_path / "none.yaml")



@pytest.mark.parametrize("field,value", [("mean", -0.5), ("var", -1e-3), ("var", float("nan")), ("mean", float("inf"))])
def test_negative_or_non_finite_mean_and_variance_are_refused_with_the_key(tmp_path, field, value):
    key = EXAMPLE_KEYS[3]
    entry = {"mean": 0.5, "var": 0.001, field: value}
    (tmp_path / "neg.yaml").write_text(f"{key}:\n  mean: {entry['mean']}\n  var: {entry['var']}\n")
    with pytest.raises(ValueError, match=f"neg.yaml: latency table entry '{key}' has {'mean' if field == 'mean' else 'variance'}"):
        LatencyTable.load(tmp_path / "neg.yaml")
    table = LatencyTable()
    with pytest.raises(ValueError, match=f"entry '{key}'") as info:
        table.add(key, **entry)
    assert "\n" not in str(info.value) and key not in table
    with pytest.raises(ValueError, match=f"entry '{key}'"):
        table[key] = entry
    with pytest.raises(ValueError, match=f"entry '{key}'"):
        LatencyTable({key: entry})
    table.add(key, 0.0, 0.0)  # zero is a valid (if odd) measurement
    table[key] = {"mean": 0.25, "var": 0.0}
    assert table.mean(key) == 0.25

def test_unknown_key_error_names_key():
    table = LatencyTable({k: {"mean": 1.0, "var": 0.0} for k in EXAMPLE_KEYS[:-1]})
    with pytest.raises(KeyError) as info:
        table.predict(EXAMPLE)
    assert isinstance(info.value, ValueError) and isinstance(info.value, MissingLatencyKeyError)
    assert EXAMPLE_KEYS[-1] in str(info.value) and "build" in str(info.value)
    with pytest.raises(ValueError, match="classifier-input:1280-output:10'"):
        table.predict(EXAMPLE, n_classes=10)
    with pytest.raises(ValueError, match="first_conv-input:224x224x3-output:112x112x24'"):
        cpu_latency_fn(table, width_mult=1.2)(EXAMPLE)
    with pytest.raises(ValueError, match="resolution"):
        table.predict({k: v for k, v in EXAMPLE.items() if k != "r"})


def test_key_counts():
    assert count_lut_keys(**TINY) == 15  # 4 fixed + first block + 5 stages x (layer 0, layer 1)
    assert count_lut_keys(resolutions=[224]) == 95  # 4 + 1 + 5 x 2 x 9
    assert count_lut_keys() == 867  # r 192..256 step 4: feature sizes shared between resolutions
    specs = lut_specs(**TINY)
    assert set(keys_for(TINY_CONFIG)) == set(specs)
    # the lists are read from the search space object
    assert count_lut_keys(space=OFAMobileNetV3Space()) == 867
    tiny_space = OFAMobileNetV3Space(resolutions=[32], kernel_sizes=[3], expand_ratios=[3], depths=[2])
    assert count_lut_keys(space=tiny_space) == 15
    # every subnet the space samples has all its keys in the table's key set
    space = OFAMobileNetV3Space(resolutions=[160, 176])
    all_keys = set(lut_specs([160, 176]))
    for cfg in space.sample(20, rng=0):
        assert set(keys_for(cfg)) <= all_keys


# ---- building ------------------------------------------------------------------------------------------------------
def test_build_lut_resumes_without_remeasuring(tmp_path):
    path = tmp_path / "lut.yaml"
    seen = []

    t1 = build_lut(path, **TINY, warmup=1, runs=3, progress=False, max_keys=5, save_every=2)
    assert len(t1) == 5 and len(LatencyTable.load(path)) == 5

    def stop_after_three(key, stats, done, total):
        seen.append(key)
        assert total == 15 and stats.runs == 3
        if len(seen) == 3:
            raise KeyboardInterrupt  # an interrupted build keeps what it measured

    with pytest.raises(KeyboardInterrupt):
        build_lut(path, **TINY, warmup=1, runs=3, progress=False, callback=stop_after_three, save_every=100)
    partial = LatencyTable.load(path)
    assert len(partial) == 8 and set(seen) <= set(partial) and not set(seen) & set(t1)

    final_seen = []
    table = build_lut(path, **TINY, warmup=1, runs=3, progress=False, calibrate=2,
                      callback=lambda key, *a: final_seen.append(key))
    assert len(final_seen) == 7 and not set(final_seen) & set(partial)
    loaded = LatencyTable.load(path)
    assert len(loaded) == 15 and all(loaded[k] == partial[k] for k in partial)
    assert not list(tmp_path.glob(".tmp-*"))
    # calibrated on 2 whole subnets: a positive scale, kept in a comment line, applied to the sum of entries
    assert loaded.scale == table.scale and loaded.scale > 0 and loaded.scale != 1.0
    assert "# calibration_scale:" in open(path).read()
    pred = loaded.predict(TINY_CONFIG)
    assert pred == pytest.approx(loaded.scale * sum(loaded.mean(k) for k in keys_for(TINY_CONFIG))) and pred > 0
    assert cpu_latency_fn(path)(TINY_CONFIG) == pytest.approx(pred)
    assert table.predict(TINY_CONFIG) == pytest.approx(pred)
    head = open(path).read().split("\nMBConv")[0].split("\nfirst_conv")[0]
    assert "onnxruntime" in head and all(line.startswith("#") for line in head.splitlines()[:3])  # provenance

    # complete and calibrated: nothing is measured again
    again = build_lut(path, **TINY, progress=False, calibrate=2, callback=lambda *a: final_seen.append(a))
    assert len(final_seen) == 7 and again.scale == loaded.scale and again.entries == loaded.entries


def test_every_pass_times_a_fresh_session_and_calibration_takes_its_own_passes(tmp_path, monkeypatch):
    import nsganetv2.evaluation.latency.build as build

    opened = []
    real = build.make_session
    monkeypatch.setattr(build, "make_session", lambda model, threads: opened.append(model) or real(model, threads))
    table = build_lut(tmp_path / "lut.yaml", **TINY, warmup=1, runs=2, passes=2, progress=False, calibrate=2,
                      calibrate_passes=3)
    # 15 layers x 2 passes, then 2 whole subnets x 3 passes: one new session per model and pass
    assert len(opened) == 15 * 2 + 2 * 3
    assert len(set(map(bytes, opened[:15]))) == 15 and opened[:15] == opened[15:30]
    assert table.scale > 0
    with pytest.raises(ValueError, match="calibrate_passes"):
        build_lut(tmp_path / "other.yaml", **TINY, progress=False, calibrate_passes=0)


_KILLED_IN_CALIBRATION = """
import os, signal, sys
import nsganetv2.evaluation.latency.build as build

calibrating, timed = [], []
real_calibrate, real_time = build.calibrate_lut, build._time_session

def calibrate(*args, **kw):
    calibrating.append(True)
    return real_calibrate(*args, **kw)

def time_session(*args, **kw):
    if calibrating:
        if len(timed) == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
        timed.append(True)
    return real_time(*args, **kw)

build.calibrate_lut, build._time_session = calibrate, time_session
build.build_lut(sys.argv[1], resolutions=[32], ks_list=[3], expand_list=[3], depth_list=[2], warmup=1, runs=2,
                passes=1, progress=False, calibrate=3, calibrate_passes=2)
"""


def test_a_kill_in_the_calibration_keeps_its_finished_timings(tmp_path, monkeypatch):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import nsganetv2.evaluation.latency.build as build

    path = tmp_path / "lut.yaml"
    # killed when the 4th of the 3 subnets x 2 passes is about to be timed: 3 timings made, the table complete
    proc = subprocess.run([sys.executable, "-c", _KILLED_IN_CALIBRATION, str(path), "3"],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -9, proc.stderr[-3000:]
    table = LatencyTable.load(path)
    assert len(table) == 15 and table.scale == 1.0  # the entries were saved, the calibration not finished
    state = build.calibration_path(path)
    kept = json.loads(open(state).read())
    assert kept["passes"] == 2 and [len(t) for t in kept["times"]] == [1, 1, 1]  # pass 1 of each subnet

    timed = []
    real = build._time_session
    monkeypatch.setattr(build, "_time_session", lambda *a, **kw: timed.append(a) or real(*a, **kw))
    again = build_lut(path, **TINY, warmup=1, runs=2, passes=1, progress=False, calibrate=3, calibrate_passes=2)
    assert len(timed) == 3  # only pass 2 of each subnet: no layer and no finished timing is measured again
    assert again.scale > 0 and again.scale != 1.0 and LatencyTable.load(path).scale == again.scale
    assert not os.path.exists(state)  # a finished calibration leaves the table alone beside it

    # the kept timings are reused by the same calibration only, not by one with other settings
    for runs, expected in ((2, 3), (99, 6)):
        open(state, "w").write(json.dumps({**kept, "runs": runs}))
        timed.clear()
        build.calibrate_lut(again, kept["configs"], warmup=1, runs=2, passes=2, statistic="min", state_path=state)
        assert len(timed) == expected


@pytest.mark.parametrize("r", [32, 64, 160])
def test_onnx_export_with_a_dynamic_batch_at_every_resolution(r):
    torch.manual_seed(0)
    sup = OFAMobileNetV3Supernet(n_classes=10).eval()
    net = sup.extract({**sup.mid_config(), "r": r}).eval()  # maps of 1x1..4x4 at 32/64 px: the cropped-kernel path
    sess = ort.InferenceSession(export_onnx(net, r, 1, dynamic_batch=True), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[0] == "batch"
    x = torch.randn(5, 3, r, r)
    with torch.no_grad():
        ref = net(x).numpy()
    np.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0], ref, rtol=1e-4, atol=1e-4)
