import pytest
import torch
import torch.nn as nn

from nsganetv2.evaluation.accuracy import (
    NATIVE_BF16_ENV,
    amp_for_record,
    amp_name,
    autocast,
    cpu_description,
    cpu_has_native_bf16,
    evaluate,
    precision_record,
    recalibrate_bn,
    resolve_amp,
)


class Fixed(nn.Module):
    """Returns pre-set logits for each sample index carried in the input."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("table", logits)

    def forward(self, idx):
        return self.table[idx.long().view(-1)]


def test_evaluate_counts_top1_top5_and_loss():
    logits = torch.tensor([[9.0, 1, 0, 0, 0, 0], [0, 9, 1, 0, 0, 0], [1, 0, 0, 0, 0, 9], [0, 0, 0, 0, 0, 9]])
    labels = torch.tensor([0, 2, 0, 1])  # only the first is a top-1 hit
    idx = torch.arange(4).float()
    loader = [(idx[:2], labels[:2]), (idx[2:], labels[2:])]
    acc = evaluate(Fixed(logits), loader)
    top = logits.topk(5, 1).indices
    exp5 = sum(int(labels[i] in top[i]) for i in range(4)) / 4 * 100
    assert acc.top1 == pytest.approx(25.0)
    assert acc.top5 == pytest.approx(exp5)
    assert acc.loss == pytest.approx(nn.functional.cross_entropy(logits, labels).item())
    assert acc.n == 4


def test_evaluate_rejects_nan_logits_and_empty_loader():
    with pytest.raises(FloatingPointError, match="NaN"):
        evaluate(Fixed(torch.full((2, 3), float("nan"))), [(torch.zeros(2), torch.zeros(2, dtype=torch.long))])
    with pytest.raises(ValueError, match="empty loader"):
        evaluate(Fixed(torch.zeros(2, 3)), [])


def test_recalibrate_bn_sets_average_batch_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), nn.BatchNorm2d(4))
    net[1].running_mean.fill_(123.0)
    batches = [torch.randn(8, 3, 5, 5) * 3 + 1 for _ in range(3)]
    seen = recalibrate_bn(net, batches)
    assert seen == 24
    assert not net.training
    with torch.no_grad():
        feats = [net[0](b) for b in batches]
    mean = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats]).mean(0)
    var = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in feats]).mean(0)
    torch.testing.assert_close(net[1].running_mean, mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(net[1].running_var, var, rtol=1e-5, atol=1e-5)
    assert net[1].momentum == 0.1  # restored


def test_amp_resolution_and_cpu_autocast_runs():
    cpu = torch.device("cpu")
    assert resolve_amp("off", cpu) is None
    assert resolve_amp("bf16", cpu) is torch.bfloat16
    assert resolve_amp("auto", torch.device("cuda")) is torch.float16
    with pytest.raises(ValueError, match="fp16 autocast needs a CUDA"):
        resolve_amp("fp16", cpu)
    with pytest.raises(ValueError, match="amp must be one of"):
        resolve_amp("half", cpu)
    lin = nn.Linear(4, 3)
    with autocast(cpu, torch.bfloat16):
        out = lin(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16


def test_compiled_evaluation_equals_eager_and_falls_back_when_compiling_fails(monkeypatch, caplog):
    from nsganetv2.evaluation.accuracy import CompiledWithFallback, maybe_compile
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    torch.manual_seed(0)
    sub = OFAMobileNetV3Supernet(n_classes=10).extract({"ks": [7] * 10, "e": [3] * 10, "d": [2] * 5}).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        eager = sub(x)
        compiled = maybe_compile(sub, True)
        assert isinstance(compiled, CompiledWithFallback)
        assert torch.allclose(compiled(x), eager, atol=1e-4, rtol=1e-4) and compiled.failed is None
    assert compiled.state_dict().keys() == {f"model.{k}" for k in sub.state_dict()}
    assert maybe_compile(sub, False) is sub

    # the next candidate, another architecture at another resolution, as the search's evaluator compiles it: a
    # fresh static graph (no symbolic-shape recompile of the first one), even at dynamo's recompile limit (8 by
    # default, 1 here: without the reset this candidate would silently run eagerly); another batch size then runs
    # eagerly instead of recompiling
    from torch._dynamo.utils import counters

    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 1)

    other = OFAMobileNetV3Supernet(n_classes=10).extract({"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5}).eval()
    y = torch.randn(4, 3, 40, 40)
    with torch.no_grad():
        second = maybe_compile(other, True, reset=True)
        graphs = counters["stats"]["unique_graphs"]
        assert torch.allclose(second(y), other(y), atol=1e-4, rtol=1e-4) and second.failed is None
        assert counters["stats"]["unique_graphs"] == graphs + 1
        assert torch.equal(second(y[:3]), other(y[:3]))  # the partial last batch: eager, not a recompile
    assert counters["stats"]["unique_graphs"] == graphs + 1

    def broken(model, dynamic=False):
        def call(*a, **k):
            raise RuntimeError("inductor: no C++ compiler found")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    fallback = maybe_compile(sub, True)
    with torch.no_grad(), caplog.at_level("WARNING"):
        assert torch.equal(fallback(x), eager) and torch.equal(fallback(x), eager)
    assert fallback.failed == "RuntimeError: inductor: no C++ compiler found"
    assert sum("torch.compile failed" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize("forced, dtype", [("1", torch.bfloat16), ("0", None)])
def test_native_bf16_override_decides_auto_on_cpu(monkeypatch, forced, dtype):
    monkeypatch.setenv(NATIVE_BF16_ENV, forced)
    assert cpu_has_native_bf16() is (forced == "1")
    assert resolve_amp("auto", torch.device("cpu")) is dtype
    monkeypatch.setenv(NATIVE_BF16_ENV, "yes")
    with pytest.raises(ValueError, match="NSGANETV2_NATIVE_BF16 must be 0 or 1"):
        cpu_has_native_bf16()


def test_amp_for_record_keeps_the_recorded_precision_and_refuses_a_mix(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv(NATIVE_BF16_ENV, "0")  # auto is off here
    assert amp_for_record("auto", cpu, None, "x") == "off"
    assert amp_for_record("auto", cpu, "bf16", "x") == "bf16"  # kept, though auto differs
    assert amp_for_record("bf16", cpu, "bf16", "x") == "bf16"
    with pytest.raises(ValueError, match="measured with --amp bf16; --amp off would mix precisions"):
        amp_for_record("off", cpu, "bf16", "the search in s")
    with pytest.raises(ValueError, match="which this device cannot run"):
        amp_for_record("auto", cpu, "fp16", "x")
    assert precision_record(torch.bfloat16, cpu) == {"amp": "bf16", "device": "cpu", "torch": torch.__version__}
    assert amp_name(None) == "off" and amp_name(torch.float16) == "fp16"


def test_cpu_description_names_the_features_that_change_numerics(monkeypatch):
    monkeypatch.setenv(NATIVE_BF16_ENV, "0")
    text = cpu_description()
    assert "AVX-512: " in text and "native bf16: no (forced by NSGANETV2_NATIVE_BF16)" in text
