"""Per-candidate evaluation cost: extract, BN recalibration, validation; eager vs compiled, fp32 vs bf16.

Runs the search's evaluation path (``SubnetEvaluator`` pieces) on mnist5k at 32 px and on random images at 224 px,
for a middle-sized subnet, and prints wall times and images/s per setting with ratios against eager fp32.

Usage: python benchmarks/bench_eval.py [--quick] [--threads N]
"""
from __future__ import annotations

import argparse
import time

import torch

from nsganetv2.data import build_loaders
from nsganetv2.evaluation.accuracy import cpu_description, evaluate, maybe_compile, recalibrate_bn
from nsganetv2.supernet import OFAMobileNetV3Supernet


def _random_batches(n: int, batch: int, r: int, n_classes: int = 10):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(batch, 3, r, r, generator=g), torch.randint(0, n_classes, (batch,), generator=g))
            for _ in range(n // batch)]


def one(supernet, config, calib, valid, compile_: bool, amp_dtype) -> dict:
    t0 = time.perf_counter()
    net = supernet.extract(config)
    t1 = time.perf_counter()
    recalibrate_bn(net, calib)
    t2 = time.perf_counter()
    model = maybe_compile(net, compile_, reset=True)
    if compile_:  # the first call compiles; time it apart from the steady state
        tc = time.perf_counter()
        evaluate(model, valid[:1] if isinstance(valid, list) else valid, amp_dtype=amp_dtype)
        compile_s = time.perf_counter() - tc
    else:
        compile_s = 0.0
    t3 = time.perf_counter()
    acc = evaluate(model, valid, amp_dtype=amp_dtype)
    t4 = time.perf_counter()
    return {"extract": t1 - t0, "bn": t2 - t1, "compile": compile_s, "valid": t4 - t3, "n": acc.n,
            "img_s": acc.n / (t4 - t3)}


def main(quick: bool = False, threads: int = 1) -> list[dict]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    settings = [("eager", "fp32", False, None), ("eager", "bf16", False, torch.bfloat16)]
    if not quick:
        settings += [("compiled", "fp32", True, None)]
    cases = []
    lds = build_loaders("mnist5k", resolution=32, vld_size=1000, eval_batch_size=250, n_calib=500 if quick else 2000)
    cases.append(("mnist5k", 32, OFAMobileNetV3Supernet(n_classes=10), list(lds.calib), list(lds.valid)))
    n224 = 64 if quick else 256
    cases.append(("random", 224, OFAMobileNetV3Supernet(n_classes=1000),
                  _random_batches(n224, 32, 224, 1000), _random_batches(n224, 64, 224, 1000)))
    print(f"CPU: {cpu_description()}; torch {torch.__version__}; {threads} thread(s)", flush=True)
    print(f"{'data':8} {'r':>4} {'mode':9} {'prec':5} {'extract s':>10} {'BN s':>8} {'compile s':>10} "
          f"{'valid s':>8} {'img/s':>8} {'vs eager fp32':>14}", flush=True)
    for data, r, supernet, calib, valid in cases:
        supernet.eval()
        cfg = {**supernet.mid_config(), "r": r}
        base = None  # eager fp32 comes first in settings
        for mode, prec, comp, dtype in settings:  # each row printed when done: a long run shows progress
            row = {"data": data, "r": r, "mode": mode, "precision": prec,
                   **one(supernet, cfg, calib, valid, comp, dtype)}
            rows.append(row)
            base = base or row["img_s"]
            print(f"{data:8} {r:4d} {mode:9} {prec:5} {row['extract']:10.3f} {row['bn']:8.3f} {row['compile']:10.1f} "
                  f"{row['valid']:8.3f} {row['img_s']:8.1f} {row['img_s'] / base:13.2f}x", flush=True)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer images, no torch.compile")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    main(a.quick, a.threads)
