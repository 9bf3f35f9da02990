"""What a larger surrogate training cap (``max_train``) buys on a large archive: accuracy against fit time.

    python benchmarks/bench_max_train.py --acc_predictor ../shared/real/ofa_acc_predictor/acc_predictor.pth \\
        --lut ../shared/real/ofa_note10_lut [--archive 20000] [--caps 500 1000 2000 4000 8000] [--models rbf gp]

The archive is what a long search on OFA's ImageNet landscape (``ofa_landscape.py``: top-1 error from OFA's accuracy
predictor, Note10 latency) holds: every distinct genome NSGA-II (population 100) evaluated until the archive has
``--archive`` records (random ones first, then ever closer to the front). The test set is what the search asks the
surrogate to rank next: the distinct genomes the same NSGA-II run evaluates after that, not in the archive
(``--test`` of them). For each cap the surrogate is fitted on the search's own training set
(``nsganetv2.search.proposal.training_set``: the best fronts first, then the most recent records) with the search's
features, and predicts the top-1 error of the test genomes. Printed per model and cap: Kendall tau and Spearman rho
on the test set, RMSE (percentage points), the tau among the test genomes on the test set's best quarter of latency-
normalised error (where the search's choice is made), fit and predict wall seconds (1 thread).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ofa_landscape import OFALandscape  # noqa: E402

from nsganetv2.moo.sorting import non_dominated_sort  # noqa: E402
from nsganetv2.search.proposal import training_set  # noqa: E402
from nsganetv2.surrogate import kendall_tau, make_surrogate, spearman_rho  # noqa: E402


def nsga2_stream(land: OFALandscape, problem, n_first: int, n_more: int, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct canonical genomes in the order NSGA-II evaluates them until ``n_first + n_more`` are seen: (genomes,
    top-1 error, latency)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.ux import UX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    keys: set[str] = set()
    X_out, F_out = [], []

    class Box(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=land.n_var, n_obj=2, xl=land.xl, xu=land.xu, vtype=int)

        def _evaluate(self, X, out, *a, **k):
            Xc = problem.canonical(np.asarray(X).astype(np.int64))
            out["F"] = F = land.evaluate(Xc)
            for x, f in zip(Xc, F):
                key = problem.key(x)
                if key not in keys:
                    keys.add(key)
                    X_out.append(x)
                    F_out.append(f)

    algo = NSGA2(pop_size=100, sampling=IntegerRandomSampling(), crossover=UX(prob=0.9),
                 mutation=PM(prob=1.0, prob_var=2 / land.n_var, eta=1.0, vtype=float, repair=RoundingRepair()),
                 eliminate_duplicates=True)
    algo.setup(Box(), seed=seed, verbose=False)
    while len(X_out) < n_first + n_more and algo.has_next():
        algo.next()
    F = np.asarray(F_out[: n_first + n_more])
    return np.asarray(X_out[: n_first + n_more]), F[:, 0], F[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--acc_predictor", default="../shared/real/ofa_acc_predictor/acc_predictor.pth")
    ap.add_argument("--lut", default="../shared/real/ofa_note10_lut")
    ap.add_argument("--archive", type=int, default=20000, help="archive size (distinct genomes)")
    ap.add_argument("--test", type=int, default=1000, help="test genomes (the next ones NSGA-II evaluates)")
    ap.add_argument("--caps", type=int, nargs="+", default=[500, 1000, 2000, 4000, 8000])
    ap.add_argument("--models", nargs="+", default=["rbf", "gp"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for path in (args.acc_predictor, args.lut):
        if not Path(path).exists():
            raise SystemExit(f"{path} does not exist: give --acc_predictor / --lut (OFA's files, see the docstring)")
    import torch

    torch.set_num_threads(1)
    from nsganetv2.api import predictor_problem

    land = OFALandscape(args.acc_predictor, args.lut)
    problem = predictor_problem(args.acc_predictor, lut=args.lut)
    t0 = time.perf_counter()
    X, err, lat = nsga2_stream(land, problem, args.archive, args.test, args.seed)
    Fa = np.c_[err[:args.archive], lat[:args.archive]]
    print(f"archive {args.archive:,} + test {args.test:,} distinct genomes from NSGA-II in "
          f"{time.perf_counter() - t0:.0f} s; test top-1 error {err[args.archive:].min():.2f}-"
          f"{err[args.archive:].max():.2f} %, archive front {int((non_dominated_sort(Fa) == 0).sum())} genomes")
    Xt, yt, lt = X[args.archive:], err[args.archive:], lat[args.archive:]
    # the test genomes where the choice is made: best quarter of error after removing latency's linear trend
    resid = yt - np.polyval(np.polyfit(lt, yt, 1), lt)
    good = resid <= np.quantile(resid, 0.25)
    feats_t = problem.features(Xt)
    print("\n| model | max_train | tau (test) | rho | RMSE (pp) | tau (best quarter) | fit s | predict s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        for cap in args.caps:
            idx = training_set(Fa, cap)
            model = make_surrogate(name, random_state=args.seed)
            t0 = time.perf_counter()
            model.fit(problem.features(X[:args.archive][idx]), Fa[idx, 0])
            t1 = time.perf_counter()
            pred = np.ravel(model.predict(feats_t))
            t2 = time.perf_counter()
            rmse = float(np.sqrt(np.mean((pred - yt) ** 2)))
            print(f"| {name} | {cap:,} | {kendall_tau(yt, pred):.3f} | {spearman_rho(yt, pred):.3f} | {rmse:.3f} | "
                  f"{kendall_tau(yt[good], pred[good]):.3f} | {t1 - t0:.2f} | {t2 - t1:.2f} |", flush=True)


if __name__ == "__main__":
    main()
