"""GPU readiness: one short run that checks and times what a GPU search and training rely on, and prints a table.

Checks (each row: check, status ok/FAIL/skip, seconds, detail):

1. ``amp fp16`` / ``amp bf16``: supernet sandwich steps (largest, smallest, a random subnet) under autocast, fp16
   with the gradient scaler (``torch.amp.GradScaler``), bf16 without; the loss stays finite and the weights move.
2. ``compile``: ``torch.compile`` of an extracted candidate; logits equal eager's (fp32, 1e-3) and the compiled
   throughput against eager.
3. ``n_gpus pinning``: ``--n_gpus`` worker processes (``MultiProcessRunner``), one per GPU: each worker sees only its
   own GPU (``CUDA_VISIBLE_DEVICES``) and evaluates there; all GPUs are used.
4. ``torchrun``: ``torch.distributed.run`` with one process per GPU and NCCL: an all-reduce sums every rank's
   tensor and each rank sits on its own device.

On a machine without a GPU, ``--device cpu`` runs the CPU-only parts (bf16 autocast, compile on CPU, CPU worker
processes, torchrun with gloo) so that they are tested; fp16 needs CUDA and is skipped there.
Exit code 1 when any check fails. Budget: under 8 minutes on one H100 (a few seconds per check there).

Usage: python benchmarks/gpu_check.py [--device cuda|cpu] [--n_gpus N] [--steps 10] [--resolution 224]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nsganetv2.supernet import OFAMobileNetV3Supernet  # noqa: E402

Row = tuple[str, str, float, str]


def check_amp(device: torch.device, dtype: torch.dtype, steps: int, r: int, batch: int) -> Row:
    """Sandwich steps of the supernet under autocast (with the grad scaler for fp16)."""
    name = f"amp {'fp16' if dtype == torch.float16 else 'bf16'}"
    if dtype == torch.float16 and device.type != "cuda":
        return name, "skip", 0.0, "fp16 autocast needs CUDA"
    torch.manual_seed(0)
    net = OFAMobileNetV3Supernet(n_classes=10).to(device).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    rng = np.random.default_rng(0)
    x = torch.randn(batch, 3, r, r, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    before = next(net.parameters()).detach().float().clone()
    losses = []
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        for config in (net.max_config(), net.min_config(), net.sample_active(rng)):
            net.set_active(config)
            with torch.autocast(device.type, dtype=dtype):
                loss = F.cross_entropy(net(x), y)
            scaler.scale(loss).backward()
            losses.append(float(loss.detach()))
        scaler.step(opt)
        scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    dt = time.perf_counter() - t0
    moved = float((next(net.parameters()).detach().float() - before).abs().max())
    ok = all(np.isfinite(losses)) and moved > 0
    scale = f", scale {scaler.get_scale():.0f}" if scaler.is_enabled() else ""
    return name, "ok" if ok else "FAIL", dt, (f"{steps} steps x 3 subnets, batch {batch} @{r}: {dt / steps * 1e3:.0f} "
                                              f"ms/step, loss {losses[0]:.3f} -> {losses[-1]:.3f}{scale}")


def check_compile(device: torch.device, r: int, batch: int, runs: int = 5) -> Row:
    """torch.compile of an extracted candidate: same logits as eager, and its speed."""
    torch.manual_seed(0)
    supernet = OFAMobileNetV3Supernet(n_classes=1000).eval()
    net = supernet.extract({**supernet.mid_config(), "r": r}).to(device).eval()
    x = torch.randn(batch, 3, r, r, device=device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    torch.compiler.reset()
    compiled = torch.compile(net)
    with torch.no_grad():
        ref = net(x)
        t0 = time.perf_counter()
        out = compiled(x)
        sync()
        t_compile = time.perf_counter() - t0
        timings = {}
        for label, model in (("eager", net), ("compiled", compiled)):
            model(x)
            sync()
            t0 = time.perf_counter()
            for _ in range(runs):
                model(x)
            sync()
            timings[label] = batch * runs / (time.perf_counter() - t0)
    err = float((out - ref).abs().max())
    ok = err <= 1e-3 * max(1.0, float(ref.abs().max()))
    return "compile", "ok" if ok else "FAIL", t_compile, (
        f"compile {t_compile:.1f} s; max |logit diff| {err:.1e}; {timings['compiled']:.0f} vs eager "
        f"{timings['eager']:.0f} img/s ({timings['compiled'] / timings['eager']:.2f}x), batch {batch} @{r}")


def probe(item: int, device: torch.device) -> dict:
    """What one evaluation worker sees (module level: sent to worker processes)."""
    out = {"item": item, "pid": os.getpid(), "device": str(device),
           "visible": os.environ.get("CUDA_VISIBLE_DEVICES")}
    if device.type == "cuda":
        x = torch.ones(256, 256, device=device)
        out["sum"] = float((x @ x).sum())
        out["gpu"] = torch.cuda.get_device_properties(device).uuid.hex if hasattr(
            torch.cuda.get_device_properties(device), "uuid") else str(torch.cuda.current_device())
    else:
        out["sum"] = float((torch.ones(256, 256) @ torch.ones(256, 256)).sum())
    return out


def check_workers(device: torch.device, n: int) -> Row:
    """One worker process per GPU (``--n_gpus``), or ``n`` CPU workers: each pinned to its own device."""
    from nsganetv2.distributed import plan_devices
    from nsganetv2.evaluation.runners import make_runner

    plan = plan_devices("cuda" if device.type == "cuda" else "cpu", n_gpus=n if device.type == "cuda" else 0,
                        n_workers=None if device.type == "cuda" else n)
    if not plan.workers:  # one GPU: evaluated in this process, as --n_gpus 1 does
        plan = plan_devices("cuda", n_gpus=1) if device.type == "cuda" else plan
    t0 = time.perf_counter()
    with make_runner(plan) as runner:
        results = runner.run(probe, list(range(max(2, n) * 2)))
    dt = time.perf_counter() - t0
    failed = [r.error for r in results if not r.ok]
    if failed:
        return "n_gpus pinning", "FAIL", dt, failed[0]
    values = [r.value for r in results]
    ok = all(v["sum"] == 256.0 ** 3 for v in values)
    if device.type == "cuda" and plan.workers:
        visible = {v["visible"] for v in values}
        ok = ok and len(visible) == len(plan.workers) and all(v["device"] in ("cuda", "cuda:0") for v in values)
        detail = f"{len(plan.workers)} workers, CUDA_VISIBLE_DEVICES seen: {sorted(visible)}"
    else:
        pids = {v["pid"] for v in values}
        ok = ok and (len(pids) == len(plan.workers) if plan.workers else True)
        detail = f"{len(plan.workers) or 1} worker(s) on {values[0]['device']}, {len(pids)} process(es)"
    return "n_gpus pinning", "ok" if ok else "FAIL", dt, detail


DIST_WORKER = """
import os, sys, torch, torch.distributed as dist
backend = sys.argv[1]
rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
device = torch.device("cuda", local) if backend == "nccl" else torch.device("cpu")
if backend == "nccl":
    torch.cuda.set_device(device)
dist.init_process_group(backend)
x = torch.full((1024,), float(rank + 1), device=device)
dist.all_reduce(x)
expected = world * (world + 1) / 2
ok = bool(torch.all(x == expected))
devices = [None] * world
dist.all_gather_object(devices, str(device))
if rank == 0:
    distinct = len(set(devices)) == world or backend == "gloo"
    print("RESULT", "ok" if ok and distinct else "FAIL", world, ",".join(devices))
dist.destroy_process_group()
"""


def check_torchrun(device: torch.device, n: int) -> Row:
    """``torchrun`` with NCCL (gloo on CPU): one process per GPU, an all-reduce across them."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "dist_worker.py")
        with open(script, "w") as f:
            f.write(DIST_WORKER)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", script,
               backend]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        dt = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"torchrun {backend}", "FAIL", dt, f"exit {proc.returncode}: {tail}"
    _, status, world, devices = lines[0].split(" ", 3)
    return f"torchrun {backend}", status, dt, f"{world} process(es), all-reduce ok, devices {devices}"


def main(argv: list[str] | None = None) -> list[Row]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cuda", "cpu"))
    p.add_argument("--n_gpus", type=int, default=None, help="GPUs for the pinning and torchrun checks (default: all)")
    p.add_argument("--steps", type=int, default=10, help="supernet training steps per precision")
    p.add_argument("--resolution", type=int, default=None, help="default 224 on CUDA, 32 on CPU")
    p.add_argument("--batch", type=int, default=None, help="default 64 on CUDA, 8 on CPU")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but no CUDA GPU is visible: use --device cpu for the CPU-only parts")
    n = a.n_gpus or (torch.cuda.device_count() if device.type == "cuda" else 2)
    r = a.resolution or (224 if device.type == "cuda" else 32)
    batch = a.batch or (64 if device.type == "cuda" else 8)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check on {device.type} ({name}), torch {torch.__version__}, {n} device(s) for the worker checks",
          flush=True)
    rows: list[Row] = []
    checks = [lambda: check_amp(device, torch.float16, a.steps, r, batch),
              lambda: check_amp(device, torch.bfloat16, a.steps, r, batch),
              lambda: check_compile(device, r, batch),
              lambda: check_workers(device, n),
              lambda: check_torchrun(device, n)]
    print(f"{'check':16} {'status':6} {'s':>7}  detail", flush=True)
    for check in checks:
        try:
            row = check()
        except Exception as exc:  # noqa: BLE001 - every check reports, one failure does not stop the others
            row = (getattr(check, "__name__", "check"), "FAIL", 0.0, f"{type(exc).__name__}: {exc}".splitlines()[0])
        rows.append(row)
        print(f"{row[0]:16} {row[1]:6} {row[2]:7.1f}  {row[3]}", flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(1 if any(r[1] == "FAIL" for r in main()) else 0)
