"""MSuNAS loop vs plain pymoo NSGA-II at equal true evaluations, and the loop's overhead per iteration.

Part 1, quality: ZDT1, ZDT2, ZDT3 and DTLZ2 (2 objectives). Our loop (surrogate + NSGA-II on it + subset
selection) gets 200 true evaluations; plain NSGA-II (pop 100) gets 200 and 2,000. Reported: hypervolume in the raw
objective space with reference point (1.1, 1.1), as a fraction of the HV of the known Pareto front, median over
seeds. Two settings of which objectives are expensive (surrogate-modelled) for our loop:
``f1`` (objective 1 expensive, the other exact, as the issue specifies) and ``all`` (both expensive: the loop
sees nothing exactly). Target: ours@200 >= NSGA-II@2000.

Part 2, overhead: the time of one search iteration minus its real evaluations (surrogate fit, NSGA-II on the
surrogate, subset selection, HV, archive and stats writes) at archive sizes 100, 1,000, 10,000 and 100,000 (a DOE
of that size fills the archive with cheap evaluations; its wall time is shown), on the NAS problem (46-integer OFA
genome, exact FLOPs, a synthetic accuracy) and on ZDT1. Target: < 2 s at 100,000.

Part 3, peers (``--part peers``, not in ``all``: it takes hours with the GP peers): true evaluations needed.
ZDT1, ZDT2, ZDT3 and DTLZ2 (2 objectives, pymoo's default n_var) with every objective a black box for every
optimiser (MSuNAS with ``expensive=(0, 1)``): MSuNAS (settings from ``--msunas`` JSON, more rows with ``--variant
NAME=JSON``) against the peers of ``benchmarks/peers.py`` (random, NSGA-II, Optuna TPE, Optuna GP, BoTorch
qLogNEHVI). Metric: HV of the evaluated points among the first B evaluations / HV of the true Pareto front, reference
point = the true front's maximum + 1 per objective; median over seeds; wall seconds until the B-th evaluation. One
run at the largest budget gives every smaller budget (the prefix of its evaluation order; for MSuNAS the archive's
records in (iteration, index) order, the order they were evaluated in).

Run: ``python benchmarks/bench_search_quality.py [--quick]``;
``python benchmarks/bench_search_quality.py --part peers --seeds 3 --max-budget botorch=200 --json out.json``.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
import statistics
import sys
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


def overhead(quick: bool, sizes: list[int] | None = None) -> None:
    """Per iteration: ask() (surrogate fit, NSGA-II on it, selection, candidates file) and tell() minus the problem's
    own evaluation (records, HV, iter_k.stats, candidate files), after a DOE of ``n`` fills the archive."""
    sizes = sizes or ([100, 1000] if quick else [100, 1000, 10000, 100000])
    n_rounds = 2 if quick else 3
    print("\n## Search overhead per iteration (everything but the real evaluations), seconds, median of "
          f"{n_rounds} iterations after a warm-up one; rbf surrogate, default max_train 1000\n")
    print("| problem | archive | fill (DOE) s | ask: fit + NSGA-II + selection (wall) | tell: records + HV + stats "
          "(wall) | total wall | total CPU | target < 2 s |")
    print("|---|---|---|---|---|---|---|---|")
    cases = [("nas (46 int, top1+flops)", _nas_problem), ("zdt1 (30 real, f2 expensive)",
                                                         lambda: test_problem("zdt1", expensive=(1,)))]
    for pname, make in cases:
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                p = make()
                t0 = time.perf_counter()
                MSuNAS(p, Path(tmp) / "s", n_doe=n, iterations=0, n_iter=8, seed=0, progress=False).run()
                fill = time.perf_counter() - t0
                s = MSuNAS.load(Path(tmp) / "s", p, iterations=n_rounds + 1, progress=False)
                asks, tells, cpus = [], [], []
                for k in range(n_rounds + 1):
                    t0, c0 = time.perf_counter(), time.process_time()
                    asked = s.ask()
                    t1, c1 = time.perf_counter(), time.process_time()
                    results = p.evaluate_expensive(asked.X)
                    t2, c2 = time.perf_counter(), time.process_time()
                    s.tell(asked.X, results)
                    t3, c3 = time.perf_counter(), time.process_time()
                    if k == 0:
                        continue  # warm-up: first imports, the archive's arrays and stats rows built once
                    asks.append(t1 - t0)
                    tells.append(t3 - t2)
                    cpus.append((c3 - c0) - (c2 - c1))
                s.close()
                a, t = statistics.median(asks), statistics.median(tells)
                print(f"| {pname} | {n:,} | {fill:.0f} | {a:.3f} | {t:.3f} | {a + t:.3f} | "
                      f"{statistics.median(cpus):.3f} | {'yes' if a + t < 2 else 'no'} |", flush=True)


# ---------------------------------------------------------------------------------------------------- peers
sys.path.insert(0, str(Path(__file__).resolve().parent))
SLOW_PEERS = ("optuna-gp", "botorch")


def black_box(name: str):
    """The test problem ``name`` as a :class:`peers.BlackBox` (every objective from one true evaluation)."""
    from peers import BlackBox

    p = test_problem(name).pymoo
    return BlackBox(name, p.n_var, p.xl, p.xu, "real", p.n_obj,
                    lambda X: np.asarray(p.evaluate(np.asarray(X, dtype=float), return_values_of=["F"])))


def run_msunas_trace(name: str, settings: dict, budget: int, seed: int, workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    """MSuNAS on ``name`` with both objectives expensive until at least ``budget`` true evaluations: the objectives
    in evaluation order ((iteration, index) of the archive; NaN for a failure) and each evaluation's start second."""
    stamps: list[float] = []
    p = test_problem(name, expensive=(0, 1), on_evaluate=lambda x: stamps.append(time.perf_counter()))
    kw = {k: v for k, v in settings.items() if k != "iterations"}
    n_doe, n_iter = int(kw.get("n_doe", 100)), int(kw.get("n_iter", 8))
    iterations = max(0, math.ceil((budget - n_doe) / n_iter))
    folder = workdir / f"{name}_{seed}_{time.monotonic_ns()}"
    t0 = time.perf_counter()
    res = MSuNAS(p, folder, iterations=iterations, seed=seed, progress=False, **kw).run()
    for _ in range(5):  # an iteration may propose fewer new genomes than n_iter (duplicates): extend the search
        if len(res.records) >= budget:
            break
        iterations += max(1, math.ceil((budget - len(res.records)) / n_iter))
        res = MSuNAS.resume(folder, p, iterations=iterations, progress=False)
    recs = sorted(res.records, key=lambda r: (int(r["iteration"]), int(r["index"])))
    F = np.array([[(r.get("objectives") or {}).get(n, np.nan) if r["status"] == "ok" else np.nan
                   for n in res.objective_names] for r in recs], dtype=float)
    return F, np.asarray(stamps[: len(F)]) - t0


def hv_ratio(F: np.ndarray, ref: np.ndarray, hv_front: float) -> float:
    F = F[np.all(np.isfinite(F), axis=1)]
    F = F[np.all(F < ref, axis=1)]
    return 0.0 if len(F) == 0 else hypervolume(np.ascontiguousarray(F[pareto_mask(F)]), ref) / hv_front


def _parse_pairs(items: list[str], what: str, conv) -> dict:
    out = {}
    for item in items:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"{what} {item!r} must be NAME=VALUE, e.g. {what} fast='{{\"n_doe\": 50}}'")
        try:
            out[name] = conv(val)
        except ValueError as exc:
            raise SystemExit(f"{what} {item!r}: {exc}") from None
    return out


def _json_dict(text: str) -> dict:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc}); give keyword arguments of MSuNAS as an object, e.g. "
                         "'{\"n_doe\": 100, \"n_iter\": 8}'") from None
    if not isinstance(d, dict):
        raise ValueError("give keyword arguments of MSuNAS as a JSON object, e.g. '{\"n_doe\": 100}'")
    return d


def peers_part(args: argparse.Namespace) -> None:
    from peers import PEERS, run_peer_full

    budgets = sorted(int(b) for b in args.budgets.split(","))
    problems = [p.strip().lower() for p in args.problems.split(",")]
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise SystemExit(f"--peers: unknown {unknown}; choose from {sorted(PEERS)}")
    for p in problems:
        test_problem(p)  # names it when unknown
    try:
        variants = {} if args.msunas == "none" else {"MSuNAS": _json_dict(args.msunas)}
    except ValueError as exc:
        raise SystemExit(f"--msunas: {exc}") from None
    variants.update(_parse_pairs(args.variant, "--variant", _json_dict))
    allowed = set(inspect.signature(MSuNAS).parameters) - {"problem", "save_dir", "seed", "progress", "callbacks"}
    for label, kw in variants.items():
        if set(kw) - allowed:
            raise SystemExit(f"MSuNAS row {label!r}: unknown settings {sorted(set(kw) - allowed)}; MSuNAS takes "
                             f"{sorted(allowed)}")
    caps = _parse_pairs(args.max_budget, "--max-budget", int)
    slow = set(args.slow.split(",")) if args.slow else set()
    wall_at = args.wall_at if args.wall_at in budgets else budgets[min(1, len(budgets) - 1)]
    results: list[dict] = []
    print(f"\n## Peers: HV ratio (evaluated points vs the true front, ref = front max + 1) after B true "
          f"evaluations, median over seeds; {args.seeds} seeds ({args.slow_seeds} for {sorted(slow)}); torch and "
          f"BLAS threads {args.threads}; MSuNAS settings {variants}\n")
    head = " | ".join(f"@{b}" for b in budgets)
    print(f"| problem | optimiser | seeds | HV ratio {head} | wall s @{wall_at} |")
    print("|---|---|---|" + "---|" * len(budgets) + "---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in problems:
            front = test_problem(name).pareto_front(2000)
            ref = front.max(axis=0) + 1.0
            hv_front = hypervolume(np.ascontiguousarray(front), ref)
            box = black_box(name)
            rows = [(v, "msunas") for v in variants] + [(p, "peer") for p in peers]
            for label, kind in rows:
                n_seeds = args.slow_seeds if label in slow else args.seeds
                top = min(budgets[-1], caps.get(label, budgets[-1]))
                runs = []
                for seed in range(n_seeds):
                    if kind == "msunas":
                        F, t = run_msunas_trace(name, variants[label], top, seed, Path(tmp))
                    else:
                        r = run_peer_full(label, box, top, seed)
                        F, t = r.F, r.t
                    run = {"problem": name, "optimiser": label, "seed": seed, "n_evals": len(F),
                           "hv": {b: hv_ratio(F[:b], ref, hv_front) for b in budgets if b <= len(F)},
                           "wall_s": {b: float(t[b - 1]) for b in budgets if b <= len(t)},
                           "settings": variants.get(label), "F": F.tolist()}
                    runs.append(run)
                    results.append(run)
                    if args.json:
                        Path(args.json).write_text(json.dumps(results))
                cells = []
                for b in budgets:
                    vals = [r["hv"][b] for r in runs if b in r["hv"]]
                    cells.append(f"{statistics.median(vals):.3f}" if len(vals) == len(runs) and vals else "-")
                walls = [r["wall_s"][wall_at] for r in runs if wall_at in r["wall_s"]]
                wall = f"{statistics.median(walls):.1f}" if len(walls) == len(runs) and walls else "-"
                print(f"| {name} | {label} | {n_seeds} | {' | '.join(cells)} | {wall} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, archives up to 1,000; peers: budgets up to 200")
    ap.add_argument("--part", choices=["all", "quality", "overhead", "peers"], default="all",
                    help="all = quality + overhead; peers runs alone")
    ap.add_argument("--sizes", type=int, nargs="+", help="archive sizes of the overhead part (default 100 1000 "
                    "10000 100000; quick: 100 1000)")
    g = ap.add_argument_group("peers part")
    g.add_argument("--problems", default="zdt1,zdt2,zdt3,dtlz2")
    g.add_argument("--budgets", default="100,200,400", help="true-evaluation budgets, comma-separated")
    g.add_argument("--peers", default="random,nsga2,optuna-tpe,optuna-gp,botorch", help="benchmarks/peers.py names")
    g.add_argument("--seeds", type=int, default=5, help="seeds per row (seeds 0..N-1), median reported")
    g.add_argument("--slow-seeds", type=int, default=1, help="seeds for the rows named by --slow")
    g.add_argument("--slow", default=",".join(SLOW_PEERS), help="rows that get --slow-seeds (comma-separated)")
    g.add_argument("--max-budget", action="append", default=[], metavar="ROW=B",
                   help="run that row only up to B evaluations (cells above: -), e.g. botorch=200; repeatable")
    g.add_argument("--msunas", default="{}", help="keyword arguments of MSuNAS(...) as JSON for the MSuNAS row, "
                   "e.g. '{\"n_doe\": 100, \"n_iter\": 8}' (iterations follow from the largest budget); "
                   "none: no such row")
    g.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                   help="another MSuNAS row with these settings; repeatable")
    g.add_argument("--wall-at", type=int, default=200, help="the budget whose wall seconds are shown")
    g.add_argument("--threads", type=int, default=1, help="torch and BLAS threads for every optimiser")
    g.add_argument("--json", help="write every run's raw results (HV per budget, wall times, F) here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.part in ("all", "quality"):
        quality(args.quick)
    if args.part in ("all", "overhead"):
        overhead(args.quick, args.sizes)
    if args.part == "peers":
        import torch
        from threadpoolctl import threadpool_limits

        if args.quick:
            args.seeds, args.budgets = 1, ",".join(b for b in args.budgets.split(",") if int(b) <= 200)
        torch.set_num_threads(args.threads)
        with threadpool_limits(args.threads):
            peers_part(args)


if __name__ == "__main__":
    main()
