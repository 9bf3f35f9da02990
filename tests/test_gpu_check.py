"""The CPU-only parts of benchmarks/gpu_check.py (bf16 autocast training steps, compile, worker processes, torchrun
with gloo), so that the GPU readiness script is known to run before a GPU machine is used."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def gpu_check(one_thread):
    sys.path.insert(0, str(BENCH))  # spawned workers import the probe from the same module name
    try:
        yield importlib.import_module("gpu_check")
    finally:
        sys.path.remove(str(BENCH))


def test_amp_steps_on_cpu_train_in_bf16_and_skip_fp16(gpu_check):
    cpu = torch.device("cpu")
    name, status, _, detail = gpu_check.check_amp(cpu, torch.bfloat16, steps=1, r=32, batch=4)
    assert (name, status) == ("amp bf16", "ok") and "loss" in detail
    assert gpu_check.check_amp(cpu, torch.float16, steps=1, r=32, batch=4)[1] == "skip"


def test_worker_pinning_and_torchrun_with_gloo(gpu_check):
    cpu = torch.device("cpu")
    name, status, _, detail = gpu_check.check_workers(cpu, 2)
    assert status == "ok", detail
    assert "2 process(es)" in detail
    name, status, _, detail = gpu_check.check_torchrun(cpu, 2)
    assert (name, status) == ("torchrun gloo", "ok"), detail


@pytest.mark.slow
def test_compile_check_on_cpu_matches_eager():
    # in a fresh process: torch.compile's global state is not this test session's (other tests patch dynamo's config)
    code = ("import sys, torch; sys.path.insert(0, sys.argv[1]); import gpu_check; torch.set_num_threads(1); "
            "print('ROW', *gpu_check.check_compile(torch.device('cpu'), r=32, batch=2, runs=1)[:2])")
    proc = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, timeout=900)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("ROW")]
    assert rows == ["ROW compile ok"], proc.stdout[-2000:] + proc.stderr[-2000:]


def test_the_script_refuses_cuda_without_a_gpu(gpu_check, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        gpu_check.main(["--device", "cuda"])
