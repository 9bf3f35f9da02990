"""Surrogates: ours vs the nearest off-the-shelf equivalents, fit time, predict throughput, held-out Kendall tau.

    .venv/bin/python benchmarks/bench_surrogate.py [--quick] [--sizes 100 1000 10000] [--queries 100000]
        [--models rbf gp carts]
    .venv/bin/python benchmarks/bench_surrogate.py --real ../shared/real/cnas_runs/archive_rows.jsonl \
        --ofa-predictor ../shared/real/ofa_acc_predictor/acc_predictor.pth

``--real`` / ``--ofa-predictor`` print the accuracy tables on real NAS data instead of the synthetic speed
table (add ``--synthetic`` for both); their protocol is in ``real_run_table`` and ``ofa_predictor_table``.

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

from nsganetv2.surrogate import CART, GP, RBF, kendall_tau, spearman_rho

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


# ---------------------------------------------------------------------------------------------- real data

REAL_RUNS = {  # run name -> the space's resolutions
    "search-noconstraintsFR-cifar10-mbv3-w1.0": list(range(192, 257, 4)),
    "search-noconstraintsLR-cifar10-mbv3-w1.0-2022-03-24": list(range(40, 105, 4)),
}


class OFAStyleMLP:
    """OFA's accuracy-predictor network (one-hot inputs -> 400-400-400 ReLU -> 1), full-batch Adam on MSE.

    Targets standardised; ``epochs`` full-batch steps at ``lr`` with weight decay 1e-4; torch seeded by
    ``seed``; one torch thread (a 100-row batch gains nothing from more on a shared machine).
    """

    def __init__(self, seed: int, epochs: int = 500, lr: float = 1e-3):
        self.seed, self.epochs, self.lr = seed, epochs, lr

    def fit(self, X, y):
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._fit(torch, X, y)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, torch, X, y):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            d = X.shape[1]
            self.net = torch.nn.Sequential(torch.nn.Linear(d, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400),
                                           torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(),
                                           torch.nn.Linear(400, 1))
            self.mu, self.sd = float(y.mean()), float(y.std()) or 1.0
            xt = torch.as_tensor(X, dtype=torch.float32)
            yt = torch.as_tensor((y - self.mu) / self.sd, dtype=torch.float32).reshape(-1, 1)
            opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
            for _ in range(self.epochs):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(self.net(xt), yt)
                loss.backward()
                opt.step()
        return self

    def predict(self, X):
        import torch

        with torch.no_grad():
            out = self.net(torch.as_tensor(X, dtype=torch.float32)).numpy().ravel()
        return self.mu + self.sd * out.astype(np.float64)


def _candidates(seed: int, n_trees: int):
    """(name, kind, features, factory): ours first, then the peers; features 'raw', 'onehot' or 'genome'."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    from nsganetv2.surrogate import GPARD, MLP, GPLinearEnsemble

    return [
        ("rbf", "ours", "raw", lambda: RBF()),
        ("gp (theta0=1.0, original)", "ours", "raw", lambda: GP(theta0=1.0, random_state=seed)),
        ("gp", "ours", "raw", lambda: GP(random_state=seed)),
        ("gp regr=constant theta0=1.0", "ours", "raw", lambda: GP(regr="constant", theta0=1.0, random_state=seed)),
        ("gp regr=constant", "ours", "raw", lambda: GP(regr="constant", random_state=seed)),
        (f"carts x{n_trees}", "ours", "raw", lambda: CART(n_trees=n_trees, random_state=seed)),
        ("mlp", "ours", "raw", lambda: MLP(random_state=seed)),
        ("gp-ard", "ours", "raw", lambda: GPARD(random_state=seed)),
        ("gp-ard ofa-mbv3", "ours", "genome", lambda: GPARD(encoding="ofa-mbv3", random_state=seed)),
        ("ensemble ofa-mbv3", "ours", "genome", lambda: GPLinearEnsemble(encoding="ofa-mbv3", random_state=seed)),
        ("ensemble ofa-mbv3 w=0.5", "ours", "genome",
         lambda: GPLinearEnsemble(encoding="ofa-mbv3", weight=0.5, random_state=seed)),
        ("GradientBoostingRegressor", "peer", "raw", lambda: GradientBoostingRegressor(random_state=seed)),
        ("RandomForestRegressor", "peer", "raw", lambda: RandomForestRegressor(random_state=seed)),
        ("GradientBoostingRegressor", "peer", "onehot", lambda: GradientBoostingRegressor(random_state=seed)),
        ("RandomForestRegressor", "peer", "onehot", lambda: RandomForestRegressor(random_state=seed)),
        ("OFA-style MLP 400x3", "peer", "onehot", lambda: OFAStyleMLP(seed)),
    ]


def _tau_table(title: str, X: dict, y: np.ndarray, train: np.ndarray, seed: int, n_trees: int) -> list[tuple]:
    """Fit every candidate on ``train`` rows, print tau on the others and the fit + predict time."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    print(f"\n{title}")
    print(f"  {'model':<28} {'side':<5} {'input':<7} {'tau':>7} {'rho':>7} {'fit s':>7}")
    rows = []
    for name, side, feat, make in _candidates(seed, n_trees):
        Xf = X[feat]
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = make().fit(Xf[train], y[train])
        fit_s = time.perf_counter() - t
        pred = np.ravel(model.predict(Xf[~train]))
        tau = kendall_tau(y[~train], pred)
        rho = spearman_rho(y[~train], pred)
        note = "  (ConvergenceWarning: no likelihood gain over theta0)" if any(
            issubclass(w.category, ConvergenceWarning) for w in caught) else ""
        rows.append((name, side, feat, tau, rho, fit_s))
        print(f"  {name:<28} {side:<5} {feat:<7} {tau:>7.4f} {rho:>7.4f} {fit_s:>7.2f}{note}", flush=True)
    ours = max((r for r in rows if r[1] == "ours"), key=lambda r: np.nan_to_num(r[3], nan=-1))
    peer = max((r for r in rows if r[1] == "peer"), key=lambda r: np.nan_to_num(r[3], nan=-1))
    print(f"  best ours: {ours[0]} ({ours[2]}) tau {ours[3]:.4f}; best peer: {peer[0]} ({peer[2]}) tau {peer[3]:.4f}; "
          f"difference {ours[3] - peer[3]:+.4f}")
    return rows


def real_run_table(path: str, seed: int = 0, n_trees: int = 1000) -> None:
    """Per real CNAS CIFAR-10 run: fit on the 100 initial-design rows (iter 0), Kendall tau on the other 240.

    Inputs: ``raw`` = ``space.features(G, "raw")`` (what the search fits on), ``onehot`` =
    ``space.features(G, "onehot")`` (OFA's per-layer kernel/expand one-hots, zeros when inactive, then the
    resolution one-hot: 137 columns), ``genome`` = the same raw genome for surrogates that encode it inside.
    """
    import json

    from nsganetv2.space.ofa_mbv3 import OFAMobileNetV3Space

    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for run, res in REAL_RUNS.items():
        mine = [r for r in rows if r["run"] == run]
        if not mine:
            raise SystemExit(f"{path}: no rows of run {run!r}; pass CNAS's archive_rows.jsonl")
        space = OFAMobileNetV3Space(resolutions=res)
        G = space.encode_many([r["config"] for r in mine])
        y = np.array([r["top1"] for r in mine], dtype=float)
        train = np.array([r["iter"] == 0 for r in mine])
        raw = space.features(G, "raw")
        X = {"raw": raw, "genome": raw, "onehot": space.features(G, "onehot")}
        _tau_table(f"{run} ({res[0]}-{res[-1]} px): fit on {train.sum()} initial-design rows, tau on "
                   f"{(~train).sum()} searched rows", X, y, train, seed, n_trees)


def _ofa_predictor_inputs(configs, space) -> np.ndarray:
    """OFA's 128 predictor inputs: 20 x 3 kernel one-hots, 20 x 3 expand one-hots (0 beyond a stage's depth),
    8 resolution one-hots at (r - 112) // 16."""
    out = np.zeros((len(configs), 128), dtype=np.float32)
    for i, cfg in enumerate(configs):
        pos = 0
        for s, d in enumerate(cfg["d"]):
            for j in range(d):
                layer = s * 4 + j
                out[i, layer * 3 + space.kernel_sizes.index(cfg["ks"][pos + j])] = 1
                out[i, 60 + layer * 3 + space.expand_ratios.index(cfg["e"][pos + j])] = 1
            pos += d
        out[i, 120 + (cfg["r"] - 112) // 16] = 1
    return out


def ofa_predictor_table(path: str, seed: int = 0, n_trees: int = 1000, n_train: int = 100,
                        n_test: int = 1000) -> None:
    """OFA's ImageNet accuracy predictor as the landscape: fit on ``n_train`` random archs (160-224 px step 16),
    tau on ``n_test`` others (noise-free target: the predictor's top-1 in %)."""
    import torch

    from nsganetv2.space.ofa_mbv3 import OFAMobileNetV3Space

    net = torch.nn.Sequential(torch.nn.Linear(128, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(),
                              torch.nn.Linear(400, 400), torch.nn.ReLU(), torch.nn.Linear(400, 1))
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    space = OFAMobileNetV3Space(resolutions=[160, 176, 192, 208, 224])
    configs = space.sample(n_train + n_test, np.random.default_rng(seed))
    with torch.no_grad():
        y = 100.0 * net(torch.from_numpy(_ofa_predictor_inputs(configs, space))).numpy().ravel().astype(np.float64)
    G = space.encode_many(configs)
    raw = space.features(G, "raw")
    X = {"raw": raw, "genome": raw, "onehot": space.features(G, "onehot")}
    train = np.zeros(len(configs), bool)
    train[:n_train] = True
    _tau_table(f"OFA ImageNet accuracy predictor (160-224 px): fit on {n_train} random archs, tau on {n_test}",
               X, y, train, seed, n_trees)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 1000, 20,000 queries, 200 trees")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--trees", type=int, default=None, help="trees in the CART ensembles (the original uses 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", choices=["rbf", "gp", "carts"], default=["rbf", "gp", "carts"],
                    help="which surrogates to time (default: all three)")
    ap.add_argument("--real", metavar="ARCHIVE_ROWS_JSONL", default=None,
                    help="CNAS archive rows (one JSON row per evaluated subnet): print the real-run tau table")
    ap.add_argument("--ofa-predictor", metavar="ACC_PREDICTOR_PTH", default=None,
                    help="OFA's ImageNet accuracy predictor state dict: print the OFA-landscape tau table")
    ap.add_argument("--synthetic", action="store_true", help="with --real/--ofa-predictor: also the synthetic table")
    a = ap.parse_args(argv)
    if a.real or a.ofa_predictor:
        if a.real:
            real_run_table(a.real, seed=a.seed)
        if a.ofa_predictor:
            ofa_predictor_table(a.ofa_predictor, seed=a.seed)
        if not a.synthetic:
            return
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
