"""Latency look-up table vs end-to-end measurement on this machine, in ONNX Runtime or OpenVINO (--runtime).

For each resolution set: build (or resume) the table for the search space at those resolutions, draw random
subnets (k, e, d uniform as the supernet samples them, r uniform from the set), measure each end to end with
ONNX Runtime (batch 1, 1 thread) in several interleaved rounds, and compare with the table's prediction.

Reported: MAPE and mean signed error of the table vs the measurement (best round per subnet), Spearman rho and
Kendall tau, and the run-to-run spread of the measurement itself (MAPE and rho between two rounds, and the
median (max - min) / min over rounds). Targets: MAPE < 10 %, rho > 0.95.

    python benchmarks/bench_latency.py            # 50 subnets, sets 128/144/160 and 224
    python benchmarks/bench_latency.py --quick    # 10 subnets, set 128/160
    python benchmarks/bench_latency.py --runtime openvino [--precision bf16]   # the table and timing in OpenVINO
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nsganetv2.evaluation.latency import build_lut, count_lut_keys, export_onnx, measure_onnx  # noqa: E402
from nsganetv2.space import OFAMobileNetV3Space  # noqa: E402
from nsganetv2.supernet import OFAMobileNetV3Supernet  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _load() -> str:
    try:
        return "%.1f" % os.getloadavg()[0]
    except OSError:
        return "?"


def run_set(resolutions: list[int], args: argparse.Namespace, rng: np.random.Generator) -> dict:
    tag = "-".join(str(r) for r in resolutions)
    suffix = "" if (args.runtime, args.precision) == ("onnxruntime", "fp32") else f"_{args.runtime}_{args.precision}"
    lut_path = args.lut or os.path.join(HERE, ".cache", f"lut_w{args.width}_r{tag}_{args.statistic}{suffix}.yaml")
    n_keys = count_lut_keys(resolutions=resolutions, width_mult=args.width)
    load0 = _load()
    t0 = time.perf_counter()
    lut = build_lut(lut_path, resolutions, width_mult=args.width, runs=args.lut_runs, warmup=3,
                    statistic=args.statistic, calibrate=args.calibrate, seed=args.seed + 1000,
                    progress=not args.no_progress, runtime=args.runtime, precision=args.precision)
    t_lut = time.perf_counter() - t0

    net = OFAMobileNetV3Supernet(width_mult=args.width).eval()
    configs = OFAMobileNetV3Space(resolutions=resolutions).sample(args.n, rng)
    t0 = time.perf_counter()
    models = [export_onnx(net.extract(cfg), cfg["r"]) for cfg in configs]
    t_export = time.perf_counter() - t0

    t0 = time.perf_counter()
    meas = np.empty((args.rounds, args.n))
    for rnd in range(args.rounds):  # interleaved rounds: a burst of load hits one round of many subnets
        for i, (cfg, model) in enumerate(zip(configs, models)):
            meas[rnd, i] = measure_onnx(model, cfg["r"], runs=args.runs, warmup=3, runtime=args.runtime,
                                        precision=args.precision).value(args.statistic)
    t_meas = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = np.array([lut.predict(c) for c in configs])
    t_pred = (time.perf_counter() - t0) / args.n

    if args.dump:
        import json

        with open(f"{args.dump}.{tag}.json", "w") as f:
            json.dump({"configs": configs, "pred": pred.tolist(), "meas": meas.tolist()}, f)
    best = meas.min(axis=0)
    err = (pred - best) / best
    out = {
        "set": tag, "n": args.n, "keys": n_keys, "lut_s": t_lut, "export_s": t_export, "measure_s": t_meas,
        "predict_us": t_pred * 1e6, "mape": 100 * np.mean(np.abs(err)), "bias": 100 * np.mean(err),
        "rho": spearmanr(pred, best)[0], "tau": kendalltau(pred, best)[0],
        "lat_min": best.min(), "lat_max": best.max(), "load": f"{load0}->{_load()}", "scale": lut.scale,
        "mape_raw": 100 * np.mean(np.abs(pred / lut.scale - best) / best),
    }
    if args.rounds >= 2:
        a, b = meas[0], meas[1]
        out["rr_mape"] = 100 * np.mean(np.abs(a - b) / np.minimum(a, b))
        out["rr_rho"] = spearmanr(a, b)[0]
        out["spread"] = 100 * np.median((meas.max(0) - meas.min(0)) / meas.min(0))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10 subnets, one low resolution set")
    p.add_argument("--n", type=int, default=None, help="subnets per set (default 50, quick 10)")
    p.add_argument("--sets", nargs="+", default=None,
                   help="resolution sets, comma separated (default '128,144,160' '224'; quick '128,160')")
    p.add_argument("--lut", default=None, help="table path (default benchmarks/.cache/lut_...yaml per set)")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=20, help="timed runs per end-to-end measurement round")
    p.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds; best round per subnet")
    p.add_argument("--lut_runs", type=int, default=15, help="timed runs per table entry")
    p.add_argument("--statistic", default="min", choices=["median", "p10", "min"],
                   help="per-run-set statistic for the table entries and the measurement (min: robust to load)")
    p.add_argument("--calibrate", type=int, default=8, help="whole subnets timed to calibrate the table (0: off)")
    p.add_argument("--runtime", default="onnxruntime", choices=["onnxruntime", "openvino"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: openvino only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no_progress", action="store_true")
    p.add_argument("--dump", default=None, help="write configs, predictions and measurements to DUMP.<set>.json")
    args = p.parse_args()
    if args.n is None:
        args.n = 10 if args.quick else 50
    sets = args.sets or (["128,160"] if args.quick else ["128,144,160", "224"])
    if args.lut and len(sets) > 1:
        p.error("--lut names one table: give one --sets entry with it")
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    rows = [run_set([int(v) for v in s.split(",")], args, rng) for s in sets]

    print(f"\nLUT prediction vs end-to-end {args.runtime} {args.precision} (batch 1, 1 thread, "
          f"{args.statistic} of {args.runs} runs, "
          f"best of {args.rounds} rounds; clock = thread CPU time), w{args.width}, {os.cpu_count()} CPUs")
    head = (f"{'resolutions':>12} {'n':>3} {'keys':>5} {'lut s':>6} {'scale':>6} {'ms range':>12} {'MAPE %':>7} "
            f"{'raw MAPE':>8} {'bias %':>7} "
            f"{'rho':>6} {'tau':>6} | {'meas rr MAPE %':>14} {'rr rho':>6} {'spread %':>8} | {'predict us':>10} "
            f"{'load':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['set']:>12} {r['n']:>3} {r['keys']:>5} {r['lut_s']:>6.0f} {r['scale']:>6.3f} "
              f"{r['lat_min']:>5.2f}-{r['lat_max']:<6.2f} {r['mape']:>7.1f} {r['mape_raw']:>8.1f} {r['bias']:>+7.1f} "
              f"{r['rho']:>6.3f} "
              f"{r['tau']:>6.3f} | {r.get('rr_mape', float('nan')):>14.1f} {r.get('rr_rho', float('nan')):>6.3f} "
              f"{r.get('spread', float('nan')):>8.1f} | {r['predict_us']:>10.1f} {r['load']:>9}")
    print("targets: MAPE < 10 %, rho > 0.95.  'meas rr' = round 1 vs round 2 of the measurement itself; "
          "'lut s' = table build + calibration time this run (~0 when resumed from the cache); "
          "'raw MAPE' = without the calibration scale; 'scale' = the table's calibration factor.")


if __name__ == "__main__":
    main()
