"""MSuNAS loop vs plain pymoo NSGA-II at equal true evaluations, and the loop's overhead per iteration.

Part 1, quality: ZDT1, ZDT2, ZDT3 and DTLZ2 (2 objectives). Our loop (surrogate + NSGA-II on it + subset
selection) gets 200 true evaluations; plain NSGA-II (pop 100) gets 200 and 2,000. Reported: hypervolume in the raw
objective space with reference point (1.1, 1.1), as a fraction of the HV of the known Pareto front, median over
seeds. Two settings of which objectives are expensive (surrogate-modelled) for our loop:
``f1`` (objective 1 expensive, the other exact, as the issue specifies) and ``all`` (both expensive: the loop
sees nothing exactly). Target: ours@200 >= NSGA-II@2000.

Part 2, overhead: the time of one search iteration minus its real evaluations (surrogate fit, NSGA-II on the
surrogate, subset selection, HV, archive and stats writes) at archive sizes 100, 1,000 and 10,000, on the NAS
problem (46-integer OFA genome, exact FLOPs, a synthetic accuracy) and on ZDT1. Target: < 2 s at 10,000.

Run: ``python benchmarks/bench_search_quality.py [--quick]``.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nsganetv2.moo.hypervolume import hypervolume
from nsganetv2.moo.sorting import pareto_mask
from nsganetv2.search import MSuNAS, test_problem

REF = np.array([1.1, 1.1])


def hv_fraction(F: np.ndarray, front: np.ndarray) -> float:
    F = F[np.all(F < REF, axis=1)]
    if len(F) == 0:
        return 0.0
    return hypervolume(F[pareto_mask(F)], REF) / hypervolume(front, REF)


def run_nsga2_archive(name: str, n_evals: int, seed: int) -> np.ndarray:
    """NSGA-II with every evaluated point kept (a fair archive-vs-archive comparison)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.callback import Callback
    from pymoo.optimize import minimize

    seen: list[np.ndarray] = []

    class Keep(Callback):
        def notify(self, algorithm):
            seen.append(algorithm.off.get("F") if algorithm.off is not None else algorithm.pop.get("F"))

    p = test_problem(name)
    pop = min(100, n_evals // 2)
    minimize(p.pymoo, NSGA2(pop_size=pop), ("n_evals", n_evals), seed=seed, verbose=False, callback=Keep())
    return np.concatenate(seen)[:n_evals]


def run_ours(name: str, expensive: tuple[int, ...], n_doe: int, iterations: int, n_iter: int, seed: int,
             workdir: Path) -> np.ndarray:
    p = test_problem(name, expensive=expensive)
    res = MSuNAS(p, workdir / f"{name}_{len(expensive)}_{seed}", n_doe=n_doe, iterations=iterations,
                 n_iter=n_iter, seed=seed, progress=False).run()
    return res.F


def igd(F: np.ndarray, front: np.ndarray) -> float:
    """Mean distance from the known front to the nearest evaluated point (lower is better)."""
    d = np.sqrt(((front[:, None, :] - F[None, :, :]) ** 2).sum(-1))
    return float(d.min(axis=1).mean())


def _ratio(a: float, b: float) -> str:
    return "inf" if b == 0 and a > 0 else ("-" if b == 0 else f"{a / b:.2f}")


def quality(quick: bool) -> None:
    problems = ["zdt1", "zdt2", "zdt3", "dtlz2"]
    seeds = [0] if quick else [0, 1, 2]
    n_doe, n_iter = 100, 8
    iterations = (200 - n_doe) // n_iter  # 100 + 12 x 8 = 196 <= 200 true evaluations
    print(f"\n## Quality: HV / HV(true front) with ref (1.1, 1.1), and IGD; median of seeds {seeds}")
    print(f"ours: n_doe {n_doe} + {iterations} x {n_iter} = {n_doe + iterations * n_iter} evaluations; "
          "NSGA-II pop 100 (every evaluated point counted)\n")
    print("| problem | ours@200 f1-exp | ours@200 all-exp | NSGA-II@200 | NSGA-II@2000 | "
          "ratio f1 / @2000 | ratio all / @2000 | IGD ours all-exp | IGD NSGA-II@2000 | target (f1-exp) met | "
          "all-exp >= @2000 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in problems:
            front = test_problem(name).pareto_front(2000)
            runs = {
                "f1": [run_ours(name, (0,), n_doe, iterations, n_iter, s, Path(tmp)) for s in seeds],
                "all": [run_ours(name, (0, 1), n_doe, iterations, n_iter, s, Path(tmp)) for s in seeds],
                "n200": [run_nsga2_archive(name, 200, s) for s in seeds],
                "n2000": [run_nsga2_archive(name, 2000, s) for s in seeds],
            }
            hv = {k: statistics.median(hv_fraction(F, front) for F in v) for k, v in runs.items()}
            ig = {k: statistics.median(igd(F, front) for F in runs[k]) for k in ("all", "n2000")}
            met, met_all = hv["f1"] >= hv["n2000"], hv["all"] >= hv["n2000"]
            print(f"| {name} | {hv['f1']:.4f} | {hv['all']:.4f} | {hv['n200']:.4f} | {hv['n2000']:.4f} | "
                  f"{_ratio(hv['f1'], hv['n2000'])} | {_ratio(hv['all'], hv['n2000'])} | {ig['all']:.4f} | "
                  f"{ig['n2000']:.4f} | {'yes' if met else 'no'} | {'yes' if met_all else 'no'} |", flush=True)


def _nas_problem():
    from nsganetv2.search import OFANASProblem

    def accuracy(configs):  # a smooth synthetic top-1 that grows with capacity
        out = []
        for c in configs:
            out.append({"top1": 62 + 0.6 * np.mean(c["ks"]) + 1.2 * np.mean(c["e"]) + 0.4 * sum(c["d"])
                        + c["r"] / 40 - 0.002 * np.var(c["ks"]) * len(c["ks"])})
        return out

    return OFANASProblem(accuracy, objectives=("top1", "flops"))


def overhead(quick: bool) -> None:
    sizes = [100, 1000] if quick else [100, 1000, 10000]
    n_rounds = 2 if quick else 3
    print("\n## Search overhead per iteration (everything but the real evaluations), seconds, median of "
          f"{n_rounds} iterations after a warm-up one; rbf surrogate, default max_train 1000\n")
    print("| problem | archive | fit + NSGA-II + subset (wall) | HV + stats + files (wall) | total wall | "
          "total CPU | target < 2 s |")
    print("|---|---|---|---|---|---|---|")
    cases = [("nas (46 int, top1+flops)", _nas_problem), ("zdt1 (30 real, f2 expensive)",
                                                         lambda: test_problem("zdt1", expensive=(1,)))]
    for pname, make in cases:
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                p = make()
                MSuNAS(p, Path(tmp) / "s", n_doe=n, iterations=0, n_iter=8, seed=0, progress=False).run()
                s = MSuNAS.load(Path(tmp) / "s", p, iterations=n_rounds + 1)
                s._open()
                search, post, cpu = [], [], []
                for k in range(1, n_rounds + 2):
                    t0, c0 = time.perf_counter(), time.process_time()
                    s._iteration(k)
                    total, ctot = time.perf_counter() - t0, time.process_time() - c0
                    tm = json.loads((Path(tmp) / "s" / f"iter_{k}.stats").read_text())["timing"]
                    if k == 1:
                        continue  # warm-up: first imports
                    search.append(tm["search_s"])
                    post.append(total - tm["search_s"] - tm["eval_s"])
                    cpu.append(ctot - tm["eval_s"])
                s.archive.close()
                sm, pm, cm = statistics.median(search), statistics.median(post), statistics.median(cpu)
                print(f"| {pname} | {n} | {sm:.3f} | {pm:.3f} | {sm + pm:.3f} | {cm:.3f} | "
                      f"{'yes' if sm + pm < 2 else 'no'} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, archives up to 1,000")
    ap.add_argument("--part", choices=["all", "quality", "overhead"], default="all")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.part in ("all", "quality"):
        quality(args.quick)
    if args.part in ("all", "overhead"):
        overhead(args.quick)


if __name__ == "__main__":
    main()
