"""Benchmark the OFA MobileNetV3 supernet against the PyPI ``ofa`` package, and subnet throughput.

Times (ours vs ofa, same machine, same run): ``set_active``, ``extract``, the analytic complexity counter vs
the hook-based one (ours and ofa's ``count_net_flops``), and forward throughput (images/s) of an extracted
subnet: eager vs ``torch.compile``, fp32 vs bf16 autocast, batch 64 at resolutions 32, 64 and 224 (CPU).

    python benchmarks/bench_supernet.py [--quick] [--threads N] [--no-compile]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch


def timeit(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="short run: fewer repeats and no torch.compile rows (a cold compile takes minutes)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rep = 3 if args.quick else 10

    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
    from ofa.utils import count_net_flops

    from nsganetv2.evaluation.complexity import _count, count_flops, profile_module
    from nsganetv2.space import OFAMobileNetV3Space
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    space = OFAMobileNetV3Space()
    cfgs = space.sample(rep, np.random.default_rng(0))
    ours = OFAMobileNetV3Supernet(n_classes=1000, dropout_rate=0.0).eval()
    theirs = OFAMobileNetV3(n_classes=1000, dropout_rate=0.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6],
                            depth_list=[2, 3, 4]).eval()
    ours.load_state_dict(theirs.state_dict())
    padded = [space.pad(c) for c in cfgs]
    it = {"o": 0, "t": 0}

    def nxt(k: str) -> int:
        it[k] = (it[k] + 1) % len(cfgs)
        return it[k]

    rows = []

    def row(name: str, t_ours: float, t_peer: float | None, peer: str = "ofa") -> None:
        ratio = f"{t_peer / t_ours:7.1f}x" if t_peer else "      -"
        rows.append((name, fmt(t_ours), fmt(t_peer) if t_peer else "       -", peer if t_peer else "", ratio))

    t_o = timeit(lambda: ours.set_active(cfgs[nxt("o")]), rep * 20)
    t_t = timeit(lambda: theirs.set_active_subnet(**{k: v for k, v in padded[nxt("t")].items() if k != "r"}),
                 rep * 20)
    row("set_active (one config)", t_o, t_t)
    t_o = timeit(lambda: ours.extract(cfgs[nxt("o")]), rep)

    def ofa_extract() -> None:
        p = padded[nxt("t")]
        theirs.set_active_subnet(ks=p["ks"], e=p["e"], d=p["d"])
        theirs.get_active_subnet(preserve_weight=True)

    t_t = timeit(ofa_extract, rep)
    row("extract (set + static subnet)", t_o, t_t)

    _count.cache_clear()
    many = space.sample(2000, 1)
    t0 = time.perf_counter()
    for c in many:
        count_flops(c)
    t_cold = (time.perf_counter() - t0) / len(many)
    t_hot = timeit(lambda: count_flops(cfgs[0]), 2000)
    sub = ours.extract(cfgs[0])
    r0 = cfgs[0]["r"]
    t_hook = timeit(lambda: profile_module(sub, r0), rep)
    ofa_sub = theirs.get_active_subnet()
    t_ofa = timeit(lambda: count_net_flops(ofa_sub, (1, 3, r0, r0)), rep)
    row("FLOPs analytic, uncached", t_cold, t_hook, "our hooks")
    row("FLOPs analytic, cached", t_hot, t_ofa, "ofa count_net_flops")
    row("FLOPs hooks (ours)", t_hook, t_ofa, "ofa count_net_flops")

    print(f"\nOFA MobileNetV3 supernet, CPU, {args.threads} thread(s); median over {rep}+ runs; ratio = peer / ours")
    print(f"{'operation':34s} {'ours':>11s} {'peer':>11s}  {'peer is':22s} {'ratio':>8s}")
    for name, a, b, peer, ratio in rows:
        print(f"{name:34s} {a:>11s} {b:>11s}  {peer:22s} {ratio:>8s}")

    # ---- throughput of an extracted subnet ----------------------------------------------------------------
    cfg = {"ks": [5] * 15, "e": [4] * 15, "d": [3] * 5, "r": 224}  # a mid-sized subnet
    batch = 64
    print(f"\nForward throughput of an extracted subnet (d3 k5 e4, {count_flops(cfg) / 1e6:.0f} MMACs at 224), "
          f"batch {batch}, images/s")
    print(f"{'resolution':>10s} {'eager fp32':>11s} {'eager bf16':>11s} {'compiled fp32':>14s} "
          f"{'compile / eager':>16s} {'bf16 / fp32':>12s}")
    net = ours.extract(cfg).eval()
    resolutions = (32, 64, 224)
    for r in resolutions:
        x = torch.randn(batch, 3, r, r)
        n_rep = max(1, rep // (4 if r == 224 else 1))
        with torch.inference_mode():
            t_fp32 = timeit(lambda: net(x), n_rep)

            def bf16() -> None:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    net(x)

            t_bf16 = timeit(bf16, max(1, n_rep // 2))
        t_comp = None
        if not args.no_compile and not args.quick:
            compiled = torch.compile(net, dynamic=False)
            with torch.inference_mode():
                t0 = time.perf_counter()
                compiled(x)
                compile_s = time.perf_counter() - t0
                t_comp = timeit(lambda: compiled(x), n_rep, warmup=1)
            print(f"{'':>10s} (torch.compile at r={r}: first call {compile_s:.1f} s)")
        ips = lambda t: batch / t  # noqa: E731
        comp = f"{ips(t_comp):14.0f}" if t_comp else f"{'-':>14s}"
        ratio = f"{t_fp32 / t_comp:15.2f}x" if t_comp else f"{'-':>16s}"
        print(f"{r:>10d} {ips(t_fp32):11.0f} {ips(t_bf16):11.0f} {comp} {ratio} {t_fp32 / t_bf16:11.2f}x")


if __name__ == "__main__":
    main()
