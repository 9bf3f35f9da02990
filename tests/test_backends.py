"""Evaluation backends: the ONNX graph written from a static MobileNetV3, BN recalibration in the runtime, the
backend choice and its record."""
import copy
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from nsganetv2.evaluation import backends
from nsganetv2.evaluation.accuracy import precision_record, recalibrate_bn
from nsganetv2.evaluation.backends import (
    backend_amp,
    backend_for_record,
    check_backend,
    recalibrate,
    resolve_backend,
    validation_model,
)
from nsganetv2.evaluation.bn_stats import recalibrate_bn_runtime
from nsganetv2.evaluation.onnx_graph import mobilenet_onnx
from nsganetv2.evaluation.runtimes import load_graph, runtime_version
from nsganetv2.supernet import OFAMobileNetV3Supernet

RUNTIMES = ("onnxruntime", "openvino")


@pytest.fixture(scope="module")
def supernet(one_thread):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = OFAMobileNetV3Supernet(n_classes=10).eval()
        for m in net.modules():  # non-trivial running statistics, so that BN folding is exercised
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.5)
                m.running_var.uniform_(0.2, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0.0, 0.1)
    return net


def _configs(supernet):
    small = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5}
    return [supernet.mid_config(), small]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("r", [32, 40])
def test_written_graph_matches_eager_logits(supernet, runtime, r):
    x = torch.randn(5, 3, r, r, generator=torch.Generator().manual_seed(1))
    for config in _configs(supernet):
        net = supernet.extract({**config, "r": r}).eval()
        with torch.no_grad():
            ref = net(x)
        out = validation_model(net, r, runtime, "off", threads=1)(x)
        assert out.shape == ref.shape == (5, 10)
        assert float((out - ref).abs().max()) <= 1e-4 * max(1.0, float(ref.abs().max()))
        # the batch axis is dynamic: one image gives the same logits as in the batch
        one = validation_model(net, r, runtime, "off", threads=1)(x[:1])
        assert torch.allclose(one, out[:1], atol=1e-5)


def _stats(net):
    return [(m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked))
            for m in net.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_recalibration_equals_eager_to_1e5_relative(supernet, runtime):
    g = torch.Generator().manual_seed(2)
    # (images, labels) pairs with a smaller last batch, as a calibration loader yields them
    batches = [(torch.randn(n, 3, 40, 40, generator=g) * 0.7 + 0.1, torch.zeros(n, dtype=torch.long))
               for n in (16, 16, 16, 7)]
    net = supernet.extract({**supernet.mid_config(), "r": 40})
    eager, rt = copy.deepcopy(net), copy.deepcopy(net)
    assert recalibrate_bn(eager, batches) == recalibrate_bn_runtime(rt, batches, runtime) == 55
    assert not rt.training
    for (m_e, v_e, n_e), (m_r, v_r, n_r) in zip(_stats(eager), _stats(rt)):
        assert n_e == n_r == 4
        # the variance to 1e-5 relative; the mean to 1e-5 of its channel's standard deviation (a mean that is zero
        # up to rounding, e.g. after a BatchNorm and a linear conv, has no relative precision of its own)
        assert float(((v_r - v_e).abs() / v_e).max()) <= 1e-5
        assert float(((m_r - m_e).abs() / v_e.sqrt()).max()) <= 1e-5


def test_recalibration_refuses_an_empty_loader_and_other_networks(supernet):
    net = supernet.extract({**supernet.mid_config(), "r": 32})
    with pytest.raises(ValueError, match="no images"):
        recalibrate_bn_runtime(net, [], "onnxruntime")
    with pytest.raises(ValueError, match="only a static MobileNetV3.*torch backend"):
        mobilenet_onnx(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), (3, 8, 8))
    with pytest.raises(ValueError, match="form must be"):
        mobilenet_onnx(net, (3, 32, 32), "training")


def test_batch_stats_graph_outputs_every_batchnorm(supernet):
    net = supernet.extract({**supernet.mid_config(), "r": 32})
    written = mobilenet_onnx(net, (3, 32, 32), "batch_stats")
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert sorted(map(id, written.batchnorms)) == sorted(map(id, bns))
    assert written.map_sizes[0] == 16 * 16 and written.map_sizes[-1] == 1  # first conv stride 2; the last map 1x1
    mean, var = load_graph(written.model, "onnxruntime")(np.zeros((2, 3, 32, 32), np.float32))
    assert mean.shape == var.shape == (1, sum(b.num_features for b in bns), 1, 1) and (var >= 0).all()


def test_auto_picks_a_runtime_that_matches_eager_on_cpu_and_torch_on_cuda(monkeypatch):
    assert check_backend("openvino") <= backends.AUTO_TOLERANCE
    assert check_backend("onnxruntime") <= backends.AUTO_TOLERANCE
    assert resolve_backend("auto", "cpu") == "openvino"
    assert resolve_backend("auto", "cuda") == "torch"
    monkeypatch.setattr(backends, "check_backend", lambda name: 1.0)  # a runtime that disagrees is not chosen
    assert resolve_backend("auto", "cpu") == "torch"


def test_backend_errors_are_one_clear_line(monkeypatch):
    with pytest.raises(ValueError, match="unknown backend 'tvm'"):
        resolve_backend("tvm")
    with pytest.raises(ValueError, match="CPU only; use --backend torch"):
        resolve_backend("openvino", "cuda")
    monkeypatch.setattr(backends, "runtime_installed", lambda name: False)
    with pytest.raises(ValueError, match=r"openvino is not installed \(pip install nsganetv2\[openvino\]\)"):
        resolve_backend("openvino", "cpu")
    assert resolve_backend("auto", "cpu") == "torch"  # auto still works without any runtime
    with pytest.raises(ValueError, match="fp32 only"):
        backend_amp("bf16", "onnxruntime")
    with pytest.raises(ValueError, match="no fp16"):
        backend_amp("fp16", "openvino")
    with pytest.raises(ValueError, match="fp32 only on CPU"):
        load_graph(b"", "onnxruntime", precision="bf16")


def test_bf16_is_opt_in_on_the_runtimes_and_torch_keeps_its_auto():
    assert backend_amp("auto", "openvino") == "off" and backend_amp("bf16", "openvino") == "bf16"
    assert backend_amp("auto", "onnxruntime") == "off"
    assert backend_amp("auto", "torch") == "auto"


def test_a_recorded_backend_is_kept_by_auto_and_a_different_one_refused():
    assert backend_for_record("auto", "cpu", "onnxruntime", "the search") == "onnxruntime"
    assert backend_for_record("auto", "cpu", "torch", "the search") == "torch"
    assert backend_for_record("onnxruntime", "cpu", "onnxruntime", "the search") == "onnxruntime"
    with pytest.raises(ValueError, match="measured with --backend onnxruntime; --backend torch would mix backends"):
        backend_for_record("torch", "cpu", "onnxruntime", "the search")
    with pytest.raises(ValueError, match="unknown backend"):
        backend_for_record("auto", "cpu", "tensorrt", "the search")


def test_record_names_the_backend_and_its_version():
    cpu = torch.device("cpu")
    assert "backend" not in precision_record(None, cpu)  # torch: as every record before backends
    rec = precision_record(None, cpu, "openvino")
    assert rec["backend"] == "openvino" and rec["backend_version"] == runtime_version("openvino") and rec["amp"] == "off"


def test_recalibrate_dispatches_to_the_backend(supernet):
    net = supernet.extract({**supernet.mid_config(), "r": 32})
    batches = [torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(3))]
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    assert recalibrate(a, batches, "torch") == recalibrate(b, batches, "openvino") == 8
    assert all(float(((y[1] - x[1]).abs() / x[1].clamp_min(1e-6)).max()) <= 1e-4 for x, y in zip(_stats(a), _stats(b)))


@pytest.mark.slow
def test_evaluate_one_in_each_backend_gives_the_same_top1_and_records_it(supernet_file, tmp_path, capsys):
    from nsganetv2 import api
    from nsganetv2.cli import main

    subnet = tmp_path / "net.subnet"
    subnet.write_text(json.dumps({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 32}))
    out = {}
    for backend in ("torch", "onnxruntime", "openvino"):
        out[backend] = api.evaluate_one(api.EvaluateSettings(subnet=str(subnet), supernet_path=str(supernet_file),
                                                             vld_size=100, n_calib=100, amp="off", backend=backend))
    assert out["torch"]["top1"] == out["onnxruntime"]["top1"] == out["openvino"]["top1"]
    assert abs(out["torch"]["loss"] - out["openvino"]["loss"]) < 1e-4
    assert "backend" not in out["torch"]["precision"]
    assert out["openvino"]["precision"]["backend"] == "openvino"
    stats = tmp_path / "net.stats"
    assert main(["evaluate", "--subnet", str(subnet), "--supernet_path", str(supernet_file), "--vld_size", "100",
                 "--n_calib", "100", "--backend", "onnxruntime", "--save", str(stats), "-q"]) == 0
    assert json.loads(stats.read_text())["precision"]["backend"] == "onnxruntime"
    with pytest.raises(ValueError, match="--backend must be one of"):
        api.EvaluateSettings(subnet=str(subnet), supernet_path=str(supernet_file), backend="tvm")


def test_search_settings_take_a_backend_and_a_resume_keeps_the_recorded_one():
    from nsganetv2 import api

    assert api.SearchSettings(backend="openvino").to_config()["backend"] == "openvino"
    with pytest.raises(ValueError, match="--backend must be one of"):
        api.SearchSettings(backend="tvm")
    recorded = {"amp": "off", "environment": {"device": "cpu", "torch": torch.__version__, "backend": "openvino"}}
    assert api._backend_and_amp("auto", "auto", torch.device("cpu"), recorded, "s") == ("openvino", "off")
    with pytest.raises(ValueError, match="would mix backends"):
        api._backend_and_amp("auto", "torch", torch.device("cpu"), recorded, "s")
    old = {"amp": "off", "environment": {"device": "cpu", "torch": torch.__version__}}  # before backends: torch
    assert api._backend_and_amp("auto", "auto", torch.device("cpu"), old, "s") == ("torch", "off")
    assert api._backend_and_amp("auto", "openvino", torch.device("cpu"), None, "s") == ("openvino", "off")
