"""Surrogates: ours vs the nearest off-the-shelf equivalents, fit time, predict throughput, held-out Kendall tau.

    .venv/bin/python benchmarks/bench_surrogate.py [--quick] [--sizes 100 1000 10000] [--queries 100000]
        [--models rbf gp carts]

Peers: scipy ``RBFInterpolator`` (cubic, degree-1 tail), scikit-learn ``GaussianProcessRegressor``
(constant x isotropic RBF kernel on standardised inputs, normalised targets; the length-scale starts at 10
because from 1 the optimiser stalls where every correlation is ~0 and tau drops to ~0.3) and a list of
scikit-learn ``DecisionTreeRegressor``s on random feature subsets (the original's CART code). Data: random 46-gene OFA
genomes, target a smooth synthetic "top-1 error" of the genome; tau on 2,000 held-out genomes.

Protocol notes: for archives above 2,000 samples both GPs fit their hyper-parameters on the same random
2,000-sample subsample and then solve on all samples (a full ML fit at 10,000 costs dozens of 10k x 10k
Cholesky factorisations for either). The CART peer predicts with the very trees ours fitted (so accuracy is
identical by construction) and its fit time is a sequential loop over the same trees, as the original does.
Peers' predictions run in chunks of 5,000 queries to bound memory. Both sides use all cores they can.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.interpolate import RBFInterpolator
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF as RBFKernel
from sklearn.gaussian_process.kernels import ConstantKernel
from sklearn.tree import DecisionTreeRegressor

from nsganetv2.surrogate import CART, GP, RBF, kendall_tau

D = 46


def genomes(n: int, rng: np.random.Generator) -> np.ndarray:
    X = rng.integers(0, 3, size=(n, D))
    X[:, 45] = rng.integers(0, 17, size=n)
    return X.astype(np.float64)


W = np.random.default_rng(123).uniform(-1, 1, D)


def target(X: np.ndarray) -> np.ndarray:
    z = X @ W / 8.0
    return 25.0 - 2.0 * np.tanh(z) - 0.15 * X[:, 45] + 0.3 * np.sin(X[:, :45].sum(1) / 6.0)


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def chunked(predict, Q: np.ndarray, size: int = 5000) -> np.ndarray:
    return np.concatenate([np.ravel(predict(Q[s:s + size])) for s in range(0, len(Q), size)])


class SklearnGP:
    """GaussianProcessRegressor on standardised inputs; hyper-parameters on a subsample above 2,000 rows."""

    def __init__(self, seed: int, subsample: int = 2000):
        self.seed, self.subsample = seed, subsample

    def fit(self, X, y):
        self.mu, self.sd = X.mean(0), np.where(X.std(0, ddof=1) > 0, X.std(0, ddof=1), 1.0)
        Xs = (X - self.mu) / self.sd
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBFKernel(10.0, (1e-2, 1e3))
        gp = GaussianProcessRegressor(kernel, alpha=1e-8, normalize_y=True, random_state=self.seed)
        if len(X) > self.subsample:
            idx = np.random.default_rng(self.seed).choice(len(X), self.subsample, replace=False)
            kernel = gp.fit(Xs[idx], y[idx]).kernel_
            gp = GaussianProcessRegressor(kernel, alpha=1e-8, normalize_y=True, optimizer=None)
        self.gp = gp.fit(Xs, y)
        return self

    def predict(self, Q):
        return self.gp.predict((Q - self.mu) / self.sd)


class SklearnTrees:
    """The original's CART loop: one DecisionTreeRegressor per feature subset, mean of the predictions."""

    def __init__(self, trees, subsets):
        self.trees, self.subsets = trees, subsets

    @staticmethod
    def fit_time(X, y, subsets, seed):
        rng = np.random.default_rng(seed)
        t = time.perf_counter()
        for f in subsets:
            rows = rng.permutation(len(X))
            DecisionTreeRegressor().fit(X[rows][:, f], y[rows])
        return time.perf_counter() - t

    def predict(self, Q):
        return np.mean([t.predict(Q[:, f]) for t, f in zip(self.trees, self.subsets)], axis=0)


def run(sizes, n_queries, n_trees, seed, models=("rbf", "gp", "carts")):
    rng = np.random.default_rng(seed)
    Q = genomes(n_queries, rng)
    Xt = genomes(2000, rng)
    yt = target(Xt)
    rows = []
    for n in sizes:
        X = genomes(n, rng)
        y = target(X)
        cases = []
        if "rbf" in models:
            ours, f_ours = timed(RBF().fit, X, y)
            peer, f_peer = timed(RBFInterpolator, X, y, kernel="cubic", degree=1, smoothing=1e-6)
            cases.append(("rbf", "scipy RBFInterpolator", ours, f_ours, peer.__call__, f_peer))
        if "gp" in models:
            ours, f_ours = timed(GP(random_state=seed).fit, X, y)
            peer, f_peer = timed(SklearnGP(seed).fit, X, y)
            cases.append(("gp", "sklearn GaussianProcessRegressor", ours, f_ours, peer.predict, f_peer))
        if "carts" in models:
            ours, f_ours = timed(CART(n_trees=n_trees, store_estimators=True, random_state=seed).fit, X, y)
            f_peer = SklearnTrees.fit_time(X, y, ours.feature_subsets_, seed)
            peer = SklearnTrees(ours.estimators_, ours.feature_subsets_)
            ours.estimators_ = None
            cases.append((f"carts x{n_trees}", "sklearn DecisionTreeRegressor list", ours, f_ours, peer.predict,
                          f_peer))
        for name, peer_name, model, fit_o, peer_predict, fit_p in cases:
            p_o, t_o = timed(model.predict, Q)
            p_p, t_p = timed(chunked, peer_predict, Q)
            tau_o = kendall_tau(yt, model.predict(Xt))
            tau_p = kendall_tau(yt, chunked(peer_predict, Xt))
            rows.append((n, name, peer_name, fit_o, fit_p, n_queries / t_o, n_queries / t_p, t_p / t_o, tau_o, tau_p,
                         float(np.max(np.abs(p_o - p_p)))))
            print_row(rows[-1], flush=True)
        del cases
    return rows


HEADER = (f"{'n':>6} {'model':<12} {'peer':<34} {'fit ours s':>10} {'fit peer s':>10} {'fit x':>6} "
          f"{'ours q/s':>11} {'peer q/s':>11} {'pred x':>7} {'tau ours':>8} {'tau peer':>8} {'max|diff|':>9}")


def print_row(r, flush=False):
    n, name, peer, fo, fp, qo, qp, ratio, to, tp, diff = r
    print(f"{n:>6} {name:<12} {peer:<34} {fo:>10.3f} {fp:>10.3f} {fp / fo:>6.2f} {qo:>11,.0f} {qp:>11,.0f} "
          f"{ratio:>7.1f} {to:>8.4f} {tp:>8.4f} {diff:>9.2e}", flush=flush)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 1000, 20,000 queries, 200 trees")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--trees", type=int, default=None, help="trees in the CART ensembles (the original uses 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", choices=["rbf", "gp", "carts"], default=["rbf", "gp", "carts"],
                    help="which surrogates to time (default: all three)")
    a = ap.parse_args(argv)
    sizes = a.sizes or ([100, 1000] if a.quick else [100, 1000, 10000])
    n_queries = a.queries or (20000 if a.quick else 100000)
    n_trees = a.trees or (200 if a.quick else 1000)
    print(f"surrogates: archive sizes {sizes}, {n_queries:,} query genomes, {n_trees} trees; "
          "x = peer time / our time (higher is better for ours)")
    print(HEADER)
    rows = run(sizes, n_queries, n_trees, a.seed, tuple(a.models))
    print("\nsummary (predict speed-up, tau ours vs peer):")
    for r in rows:
        print(f"  n={r[0]:>6} {r[1]:<12} predict x{r[7]:.1f}, fit x{r[4] / r[3]:.2f}, tau {r[8]:.4f} vs {r[9]:.4f}")


if __name__ == "__main__":
    main()
