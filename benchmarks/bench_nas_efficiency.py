"""Sample efficiency on OFA's ImageNet specialisation landscape: MSuNAS against the optimisers a user could pick.

    python benchmarks/bench_nas_efficiency.py --acc_predictor ../shared/real/ofa_acc_predictor/acc_predictor.pth \\
        --lut ../shared/real/ofa_note10_lut [--budgets 50 100 200 400] [--seeds 5] [--quick]

The problem: OFA MobileNetV3 w1.2, resolutions 160-224 step 16; objective 1 = top-1 error predicted by OFA's
accuracy predictor (each call stands for one ImageNet evaluation: the budget counts these), objective 2 = Samsung
Note10 latency from OFA's tables (exact, free). Every optimiser gets the same black box; MSuNAS runs through the
library (``api.predictor_problem`` + ``MSuNAS``), as a user would.

Printed:
- HV ratio at each budget (median over seeds): the HV of the non-dominated evaluated points among the first B
  evaluations over the HV of the reference front (the union of every front found in this run, including NSGA-II with
  ``--reference_evals`` predictor calls), both objectives scaled by the reference front's ideal and nadir, reference
  point 1.1. Also the wall time of a run.
- Under each latency constraint (15, 20, 25, 30 ms): the best predicted top-1 among the evaluated points, per
  optimiser and budget, against OFA's own ``EvolutionFinder`` (the PyPI ``ofa`` package; its defaults: population
  100, 500 generations = 50,100 predictor calls, one run per constraint; also cut at our budgets).
- OFA's published Note10 picks (``--specialized``: their (ks, e, d, r) read from ``net.config`` + ``run.config``,
  evaluated in the w1.2 space of the predictor and tables) and whether MSuNAS's front at each budget dominates each.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ofa_landscape import OFALandscape  # noqa: E402

from nsganetv2.moo.hypervolume import hypervolume  # noqa: E402
from nsganetv2.moo.sorting import pareto_mask  # noqa: E402

CONSTRAINTS = (15, 20, 25, 30)
MSUNAS_ORIGINAL = {"selection": "gaps"}  # with the library's other defaults (n_doe 100, rbf): the original algorithm


# ------------------------------------------------------------------------------------------------ metrics
def front_of(F: np.ndarray) -> np.ndarray:
    return F[pareto_mask(F)] if len(F) else F


def hv_ratio(F: np.ndarray, reference: np.ndarray) -> float:
    ideal, nadir = reference.min(axis=0), reference.max(axis=0)
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    ref = np.full(F.shape[1], 1.1)
    N = (F - ideal) / span
    N = N[np.all(N < ref, axis=1)]
    if not len(N):
        return 0.0
    return hypervolume(front_of(N), ref) / hypervolume((reference - ideal) / span, ref)


def best_under(F: np.ndarray, limit: float) -> float:
    """Best top-1 (%) among rows of ``F`` (top-1 error, latency) with latency <= ``limit`` (nan when none)."""
    ok = F[:, 1] <= limit
    return float(100.0 - F[ok, 0].min()) if ok.any() else float("nan")


# ------------------------------------------------------------------------------------------------ optimisers
def run_msunas(land: OFALandscape, args, budget: int, seed: int, settings: dict) -> np.ndarray:
    from nsganetv2.api import predictor_problem
    from nsganetv2.search import MSuNAS

    settings = dict(settings)
    problem = predictor_problem(args.acc_predictor, lut=args.lut, features=settings.pop("features", "raw"))
    n_doe, n_iter = settings.get("n_doe", 100), settings.get("n_iter", 8)
    iterations = max(0, int(np.ceil((budget - n_doe) / n_iter)))
    with tempfile.TemporaryDirectory() as tmp:
        res = MSuNAS(problem, Path(tmp) / "run", iterations=iterations, seed=seed, progress=False, **settings).run()
    records = sorted((r for r in res.records if r["status"] == "ok"), key=lambda r: (r["iteration"], r["index"]))
    F = np.array([[r["objectives"]["top1"], r["objectives"]["latency"]] for r in records])
    return F[:budget]


def run_reference_nsga2(land: OFALandscape, n_evals: int, seed: int = 0) -> np.ndarray:
    """NSGA-II (pop 100, integer operators) with ``n_evals`` predictor calls: every point it evaluated."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.ux import UX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    seen: list[np.ndarray] = []

    class Box(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=land.n_var, n_obj=2, xl=land.xl, xu=land.xu, vtype=int)

        def _evaluate(self, X, out, *a, **k):
            out["F"] = land.evaluate(X)
            seen.append(out["F"])

    algo = NSGA2(pop_size=100, sampling=IntegerRandomSampling(), crossover=UX(prob=0.9),
                 mutation=PM(prob=1.0, prob_var=2 / land.n_var, eta=1.0, vtype=float, repair=RoundingRepair()),
                 eliminate_duplicates=True)
    minimize(Box(), algo, ("n_evals", n_evals), seed=seed, verbose=False)
    return np.concatenate(seen)


def run_evolution_finder(land: OFALandscape, limit: float, seed: int, population: int = 100,
                         generations: int = 500) -> tuple[float, int]:
    """OFA's ``EvolutionFinder`` under latency <= ``limit``: (best predicted top-1 %, predictor calls)."""
    import importlib.util
    import os

    import ofa

    # loaded from its file: the package's ofa/tutorial/__init__.py imports gdown (a downloader) for other helpers
    path = os.path.join(os.path.dirname(ofa.__file__), "tutorial", "evolution_finder.py")
    spec = importlib.util.spec_from_file_location("ofa_evolution_finder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    EvolutionFinder = module.EvolutionFinder
    calls = [0]

    class Accuracy:
        def predict_accuracy(self, population):
            calls[0] += len(population)
            return land.predict_specs(population)

    class Latency:
        def predict_efficiency(self, spec):
            return land.latency_spec(spec)

    random.seed(seed)
    np.random.seed(seed)
    finder = EvolutionFinder("note10", limit, Latency(), Accuracy(), population_size=population,
                             max_time_budget=generations)
    import contextlib
    import io

    with contextlib.redirect_stderr(io.StringIO()):
        _, best = finder.run_evolution_search()
    return float(best[0]) * 100.0, calls[0]


def run_peer(name: str, land: OFALandscape, budget: int, seed: int) -> np.ndarray:
    from peers import BlackBox, run_peer as peer

    box = BlackBox(name="ofa_note10", n_var=land.n_var, xl=land.xl.astype(float), xu=land.xu.astype(float),
                   vtype="int", n_obj=2, evaluate=land.evaluate)
    return np.asarray(peer(name, box, budget, seed))[:budget]


# ------------------------------------------------------------------------------------------------ published picks
def published_picks(folder: Path) -> list[tuple[str, dict]]:
    """OFA's Note10 picks as (name, {ks, e, d, r}): blocks grouped into stages by their output channels."""
    out = []
    for cfg_path in sorted(folder.glob("note10_lat-*/net.config")):
        cfg = json.loads(cfg_path.read_text())
        r = json.loads((cfg_path.parent / "run.config").read_text())["image_size"]
        ks, e, d, last = [], [], [], None
        for block in cfg["blocks"][1:]:  # the first block is the stem's (expand 1), not searched
            conv = block.get("mobile_inverted_conv") or block.get("conv")
            if conv["out_channels"] != last:
                d.append(0)
                last = conv["out_channels"]
            d[-1] += 1
            ks.append(conv["kernel_size"])
            e.append(conv["expand_ratio"])
        out.append((cfg_path.parent.name, {"ks": ks, "e": e, "d": d, "r": int(r)}))
    return out


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--acc_predictor", required=True, help="OFA's acc_predictor.pth")
    ap.add_argument("--lut", required=True, help="folder of OFA's Note10 tables ({r}_lookup_table.yaml)")
    ap.add_argument("--specialized", default=None, help="OFA's ofa_specialized folder (published Note10 picks)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 200, 400])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--peers", nargs="*", default=["random", "nsga2", "optuna-tpe", "optuna-gp", "botorch"])
    ap.add_argument("--slow_peers", nargs="*", default=["optuna-gp", "botorch"],
                    help="peers run with --slow_seeds seeds only, up to --slow_budget")
    ap.add_argument("--slow_seeds", type=int, default=1)
    ap.add_argument("--slow_budget", type=int, default=200)
    ap.add_argument("--max_budget", action="append", default=[], metavar="ROW=B",
                    help="run that peer only up to B evaluations, e.g. botorch=100 (repeatable)")
    ap.add_argument("--msunas", default=None,
                    help="JSON keyword arguments for MSuNAS's main row (default: the original algorithm, "
                         "'{\"selection\": \"gaps\"}')")
    ap.add_argument("--variant", action="append", default=[], help="NAME=JSON: another MSuNAS row")
    ap.add_argument("--reference_evals", type=int, default=100_000)
    ap.add_argument("--ef_generations", type=int, default=500, help="EvolutionFinder generations (its default 500)")
    ap.add_argument("--ef_seeds", type=int, default=None, help="EvolutionFinder seeds (default: --seeds)")
    ap.add_argument("--json", default=None, help="write the raw results here")
    ap.add_argument("--cache", default=None,
                    help="folder keeping each run's objectives (row, settings, seed, budget): a rerun that adds rows "
                         "computes only those")
    ap.add_argument("--quick", action="store_true", help="2 seeds, budgets 50-200, 20,000 reference calls, no slow peers")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.budgets, args.reference_evals = 2, [b for b in args.budgets if b <= 200], 20_000
        args.peers = [p for p in args.peers if p not in args.slow_peers]
        args.ef_generations = min(args.ef_generations, 100)
    logging.disable(logging.WARNING)
    land = OFALandscape(args.acc_predictor, args.lut)
    top = max(args.budgets)
    rows: dict[str, list[np.ndarray]] = {}
    walls: dict[str, list[float]] = {}

    variants = {"MSuNAS": json.loads(args.msunas) if args.msunas else MSUNAS_ORIGINAL}
    for v in args.variant:
        name, _, text = v.partition("=")
        variants[f"MSuNAS {name}"] = json.loads(text)
    def cache_file(what: str, suffix: str) -> Path | None:
        """Where the cache keeps the run named ``what`` (None without ``--cache``)."""
        import hashlib

        if not args.cache:
            return None
        return Path(args.cache) / (hashlib.sha1(what.encode()).hexdigest()[:16] + suffix)

    def cached(what: str, seed: int, run):
        """A value (an array or a number) from the cache, or computed now and kept there."""
        path = cache_file(f"{what}|{seed}", ".npy")
        if path is not None and path.is_file():
            return np.load(path)
        value = run()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, value)
        return value

    def collect(name: str, what: str, seed: int, budget: int, run) -> None:
        """One run of a row, read from the cache when it holds it."""
        path = cache_file(f"{what}|{seed}|{budget}", ".npz")
        if path is not None and path.is_file():
            data = np.load(path)
            rows.setdefault(name, []).append(data["F"])
            walls.setdefault(name, []).append(float(data["wall"]))
            return
        t = time.perf_counter()
        F = run()
        wall = time.perf_counter() - t
        rows.setdefault(name, []).append(F)
        walls.setdefault(name, []).append(wall)
        print(f"  {name} seed {seed}: {wall:.1f} s", file=sys.stderr, flush=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, F=F, wall=wall)

    for name, settings in variants.items():
        for seed in range(args.seeds):
            collect(name, json.dumps(settings, sort_keys=True), seed, top,
                    lambda: run_msunas(land, args, top, seed, settings))
    caps = {k: int(v) for k, _, v in (c.partition("=") for c in args.max_budget)}
    for peer in args.peers:
        slow = peer in args.slow_peers
        budget = min(top, args.slow_budget) if slow else top
        budget = min(budget, caps.get(peer, budget))
        for seed in range(args.slow_seeds if slow else args.seeds):
            collect(peer, peer, seed, budget, lambda: run_peer(peer, land, budget, seed))
    t = time.perf_counter()
    ref_all = cached(f"reference|{args.reference_evals}", 0, lambda: run_reference_nsga2(land, args.reference_evals))
    print(f"  reference NSGA-II {args.reference_evals} calls: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    reference = front_of(np.concatenate([front_of(ref_all)] + [front_of(F) for runs in rows.values() for F in runs]))

    print(f"\nReference front: {len(reference)} points (union of every front found, incl. NSGA-II with "
          f"{args.reference_evals:,} predictor calls: HV ratio {hv_ratio(ref_all, reference):.4f}); top-1 error "
          f"{reference[:, 0].min():.2f}-{reference[:, 0].max():.2f} %, latency {reference[:, 1].min():.2f}-"
          f"{reference[:, 1].max():.2f} ms\n")
    print("| optimiser | seeds | " + " | ".join(f"HV ratio @{b}" for b in args.budgets) + f" | wall s (run of {top}) |")
    print("|---|---|" + "---|" * (len(args.budgets) + 1))
    table = {}
    for name, runs in rows.items():
        cells = []
        for b in args.budgets:
            vals = [hv_ratio(F[:b], reference) for F in runs if len(F) >= b]
            cells.append(statistics.median(vals) if vals else None)
        table[name] = cells
        print(f"| {name} | {len(runs)} | " + " | ".join("-" if c is None else f"{c:.4f}" for c in cells)
              + f" | {statistics.median(walls[name]):.1f} |")

    print("\nBest predicted top-1 (%) under a Note10 latency constraint, median over seeds (EvolutionFinder: one run "
          "per constraint and seed)\n")
    print("| optimiser | budget | " + " | ".join(f"<= {c} ms" for c in CONSTRAINTS) + " |")
    print("|---|---|" + "---|" * len(CONSTRAINTS))
    constrained = {}
    for name, runs in rows.items():
        for b in args.budgets:
            vals = [[best_under(F[:b], c) for c in CONSTRAINTS] for F in runs if len(F) >= b]
            if vals:
                with np.errstate(all="ignore"):
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        med = np.nanmedian(np.array(vals), axis=0)  # nan: nothing found under that constraint
                constrained[f"{name}@{b}"] = med.tolist()
                print(f"| {name} | {b} | " + " | ".join(f"{v:.2f}" for v in med) + " |")
    ef_cuts = [(g, f"{100 + 100 * g}") for g in sorted({max(0, (b - 100) // 100) for b in args.budgets if b >= 200})]
    for gens, label in ef_cuts + [(args.ef_generations, f"{100 + 100 * args.ef_generations:,} (its default)")]:
        vals = [[cached(f"ef|{c}|{gens}", seed, lambda: run_evolution_finder(land, c, seed, generations=gens)[0])
                 for c in CONSTRAINTS] for seed in range(args.ef_seeds or args.seeds)]
        med = np.median(np.array(vals), axis=0)
        constrained[f"EvolutionFinder@{gens}"] = med.tolist()
        print(f"| EvolutionFinder | {label} | " + " | ".join(f"{v:.2f}" for v in med) + " |")

    if args.specialized:
        picks = published_picks(Path(args.specialized))
        mine = [name for name in rows if name.startswith("MSuNAS")]
        cols = [(name, b) for name in mine for b in args.budgets if b >= 200]
        print("\nOFA's published Note10 picks (their ks, e, d, r in the w1.2 space of the predictor and tables): in how "
              "many seeds the evaluated front of each MSuNAS row dominates the pick\n")
        print("| pick | predicted top-1 % | Note10 ms | " + " | ".join(f"{n} @{b}" for n, b in cols) + " |")
        print("|---|---|---|" + "---|" * len(cols))
        skipped = [name for name, config in picks if config["r"] not in land.space.resolutions]
        for name, config in picks:
            if name in skipped:
                continue
            f = land.evaluate(land.space.encode(config)[None, :])[0]
            cells = []
            for row, b in cols:
                runs = rows[row]
                n = sum(bool(np.any(np.all(F[:b] <= f, axis=1) & np.any(F[:b] < f, axis=1))) for F in runs)
                cells.append(f"{n}/{len(runs)}")
            print(f"| {name} | {100 - f[0]:.2f} | {f[1]:.2f} | " + " | ".join(cells) + " |")
        if skipped:
            print(f"\n(left out, their resolution has no Note10 table: {', '.join(skipped)})")
    if args.json:
        Path(args.json).write_text(json.dumps({"hv": table, "constrained": constrained,
                                               "walls": {k: statistics.median(v) for k, v in walls.items()},
                                               "settings": {k: v for k, v in variants.items()}}, indent=1))


if __name__ == "__main__":
    main()
