"""Latency in the deploy runtime: ONNX Runtime or OpenVINO timing, tables that record their runtime and refuse
to mix."""
import json

import pytest
import torch

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.evaluation.latency import LatencyMeter, build_lut, measure_onnx
from nsganetv2.evaluation.latency.build import table_runtime
from nsganetv2.evaluation.latency.measure import runtime_record
from nsganetv2.evaluation.runtimes import runtime_version
from nsganetv2.supernet import OFAMobileNetV3Supernet


@pytest.fixture(scope="module")
def net(one_thread):
    torch.manual_seed(0)
    supernet = OFAMobileNetV3Supernet(n_classes=10).eval()
    return supernet.extract({**supernet.mid_config(), "r": 32})


@pytest.mark.parametrize("runtime,precision", [("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16")])
def test_measure_in_each_runtime_and_precision(net, runtime, precision):
    stats = measure_onnx(net, 32, runs=5, warmup=1, runtime=runtime, precision=precision)
    assert stats.runs == 5 and 0 < stats.min <= stats.median_ms <= stats.p90


def test_bf16_on_onnxruntime_and_unknown_runtimes_are_refused(net):
    with pytest.raises(ValueError, match="fp32 only"):
        measure_onnx(net, 32, runs=1, runtime="onnxruntime", precision="bf16")
    with pytest.raises(ValueError, match="unknown runtime 'tvm'"):
        measure_onnx(net, 32, runs=1, runtime="tvm")
    with pytest.raises(ValueError, match="--precision bf16 needs --runtime openvino"):
        api.LatencyTableSettings(precision="bf16")
    with pytest.raises(ValueError, match="--runtime must be one of"):
        api.SearchSettings(runtime="tvm")


def test_runtime_record_names_runtime_version_cpu_and_settings():
    rec = runtime_record("openvino", threads=2, precision="bf16", batch_size=4)
    assert rec["runtime"] == "openvino" and rec["version"] == runtime_version("openvino")
    assert rec["threads"] == 2 and rec["precision"] == "bf16" and rec["batch"] == 4 and rec["cpu"]


def test_a_table_records_its_runtime_and_refuses_to_mix(tmp_path):
    path = tmp_path / "ov.yaml"
    table = build_lut(path, [32], runtime="openvino", max_keys=2, calibrate=0, runs=2, passes=1, warmup=0,
                      progress=False)
    assert len(table) == 2
    rec = table_runtime(table.header)
    assert rec == runtime_record("openvino", 1, "fp32", 1)
    assert "openvino" in path.read_text().splitlines()[1]  # readable in the YAML header too
    with pytest.raises(ValueError, match=r"measured with .*runtime 'openvino' \(this build: 'onnxruntime'\)"):
        build_lut(path, [32], runtime="onnxruntime", max_keys=1, calibrate=0, runs=2, passes=1, progress=False)
    with pytest.raises(ValueError, match=r"threads 1 \(this build: 2\)"):
        build_lut(path, [32], runtime="openvino", threads=2, max_keys=1, calibrate=0, runs=2, passes=1,
                  progress=False)
    more = build_lut(path, [32], runtime="openvino", max_keys=1, calibrate=0, runs=2, passes=1, warmup=0,
                     progress=False)  # the same settings resume
    assert len(more) == 3
    # a search's --runtime must be the table's
    with pytest.raises(ValueError, match="measured with openvino, but --runtime is onnxruntime"):
        api._check_table_runtime(str(path), "onnxruntime")
    api._check_table_runtime(str(path), "openvino")


def test_a_table_from_before_runtime_records_counts_as_onnxruntime(tmp_path):
    path = tmp_path / "old.yaml"
    build_lut(path, [32], max_keys=1, calibrate=0, runs=2, passes=1, warmup=0, progress=False)
    text = "".join(line + "\n" for line in path.read_text().splitlines() if not line.startswith("# runtime:"))
    path.write_text(text)
    api._check_table_runtime(str(path), "onnxruntime")
    with pytest.raises(ValueError, match="runtime 'onnxruntime' \\(this build: 'openvino'\\)"):
        build_lut(path, [32], runtime="openvino", max_keys=1, calibrate=0, runs=2, passes=1, progress=False)


def test_meter_times_in_the_runtime_and_keeps_old_caches_valid(net, tmp_path):
    ov = LatencyMeter(lambda c: net, runtime="openvino", runs=2, warmup=0, cache_path=tmp_path / "c.json")
    assert ov({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 32}) > 0
    assert json.loads((tmp_path / "c.json").read_text())["settings"]["runtime"] == "openvino"
    assert "runtime" not in LatencyMeter(lambda c: net).settings  # the settings of caches written before runtimes
    with pytest.raises(ValueError, match="made with settings"):
        LatencyMeter(lambda c: net, runs=2, warmup=0, cache_path=tmp_path / "c.json")


def test_cli_latency_flags_reach_the_settings(tmp_path, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(api, "build_latency_table", lambda settings, save: seen.update(build=settings))
    monkeypatch.setattr(api, "measure_latency", lambda *a, **k: seen.update(measure=k) or measure_onnx(
        OFAMobileNetV3Supernet(n_classes=10).extract({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 32}), 32,
        runs=1, warmup=0))
    with pytest.raises(SystemExit):
        main(["latency", "build-lut", "--save", str(tmp_path / "t.yaml"), "--runtime", "tvm"])
    assert main(["latency", "build-lut", "--save", str(tmp_path / "t.yaml"), "--runtime", "openvino",
                 "--precision", "bf16", "--batch_size", "2", "--threads", "2", "-q"]) == 0
    s = seen["build"]
    assert (s.runtime, s.precision, s.batch_size, s.threads) == ("openvino", "bf16", 2, 2)
    assert main(["latency", "measure", "-m", "net.config", "--runtime", "openvino", "--precision", "bf16"]) == 0
    assert seen["measure"]["runtime"] == "openvino" and seen["measure"]["precision"] == "bf16"
    assert main(["latency", "build-lut", "--save", str(tmp_path / "t.yaml"), "--runtime", "onnxruntime",
                 "--precision", "bf16"]) == 2
    assert "needs --runtime openvino" in capsys.readouterr().err
