"""Accuracy surrogates: recovery of a smooth genome function, compiled == reference, switching, seeding, errors."""
import numpy as np
import pytest
from nsganetv2.surrogate._rbf_kernel import exp_neg, lattice_sum
from scipy.interpolate import RBFInterpolator
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from nsganetv2.surrogate import (
    CART,
    GP,
    MLP,
    RBF,
    AdaptiveSwitching,
    kendall_tau,
    make_surrogate,
    rmse,
)
from nsganetv2.surrogate._lattice import MAX_CARD, GaussLattice, plan_groups
from nsganetv2.surrogate._radial import radial_reference
from nsganetv2.surrogate.gp import _likelihood, _sq_dists

D = 46


def genomes(n, seed):
    """Random OFA-style genomes: 45 genes in 0..2 and a resolution gene in 0..16."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, D))
    X[:, 45] = rng.integers(0, 17, size=n)
    return X


W = np.random.default_rng(123).uniform(-1, 1, D)


def smooth_error(X):
    """A smooth 'top-1 error (%)' of the genome: bigger/later genes help, with a gentle non-linearity."""
    X = np.asarray(X, float)
    z = X @ W / 8.0
    return 25.0 - 2.0 * np.tanh(z) - 0.15 * X[:, 45] + 0.3 * np.sin(X[:, :45].sum(1) / 6.0)


FAST = {
    "rbf": lambda: RBF(),
    "gp": lambda: GP(random_state=0),
    "carts": lambda: CART(n_trees=60, random_state=0),
    "mlp": lambda: MLP(n_hidden=32, n_epochs=600, lr=3e-2, random_state=0),
}


@pytest.fixture(scope="module")
def data():
    X, Xt = genomes(240, 1), genomes(300, 2)
    return X, smooth_error(X), Xt, smooth_error(Xt)


@pytest.mark.parametrize("name", sorted(FAST))
def test_each_surrogate_beats_the_mean_predictor(name, data):
    X, y, Xt, yt = data
    model = FAST[name]().fit(X, y)
    pred = model.predict(Xt)
    assert pred.shape == (Xt.shape[0],)
    baseline = rmse(yt, np.full_like(yt, y.mean()))
    assert rmse(yt, pred) < 0.9 * baseline
    assert kendall_tau(yt, pred) > 0.3


def test_rbf_interpolates_and_matches_reference_and_scipy(data):
    X, y, Xt, _ = data
    model = RBF(eta=0.0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-6)
    fast = model.predict(Xt)
    np.testing.assert_allclose(fast, model.predict_reference(Xt), rtol=1e-10, atol=1e-9)
    scipy_rbf = RBFInterpolator(X.astype(float), y, kernel="cubic", degree=1, smoothing=0.0)
    np.testing.assert_allclose(fast, scipy_rbf(Xt.astype(float)), atol=1e-6)


def test_rbf_non_integer_inputs_and_tps_match_reference(data):
    X, y, Xt, _ = data
    rng = np.random.default_rng(5)
    Xf, Qf = X + rng.normal(0, 0.1, X.shape), Xt + rng.normal(0, 0.1, Xt.shape)  # float64 product path
    for model in (RBF().fit(Xf, y), RBF(kernel="tps", tail="constant").fit(X, y)):
        Q = Qf if model.kernel == "cubic" else Xt
        np.testing.assert_allclose(model.predict(Q), model.predict_reference(Q), rtol=1e-9, atol=1e-8)


def test_rbf_survives_genes_that_never_vary(data):
    X, y, Xt, yt = data
    Xc = X.copy()
    Xc[:, 4] = 0  # an inactive slot: constant over the archive, so the linear tail is rank deficient
    model = RBF().fit(Xc, y)
    pred = model.predict(Xt)
    assert np.isfinite(pred).all()
    assert rmse(yt, pred) < rmse(yt, np.full_like(yt, y.mean()))


def test_rbf_singular_system_falls_back_to_least_squares(data, caplog):
    X, y, Xt, _ = data
    Xd = np.vstack([X, X[:1]])
    yd = np.append(y, y[0] + 1.0)  # the same genome twice with two targets: singular without a ridge
    with caplog.at_level("WARNING"):
        pred = RBF(eta=0.0).fit(Xd, yd).predict(Xt)
    assert "least squares" in caplog.text
    assert np.isfinite(pred).all()


def test_gp_matches_reference_and_picks_a_likelihood_minimum(data):
    X, y, Xt, _ = data
    model = GP(random_state=0).fit(X, y)
    lo, hi = model.theta_bounds
    assert lo <= model.theta_ <= hi
    np.testing.assert_allclose(model.predict(Xt), model.predict_reference(Xt), rtol=1e-10, atol=1e-9)
    # the chosen theta is no worse (in DACE's objective) than theta0 and than its neighbours
    Xs = (X - model.x_mean_) / model.x_scale_
    ys = (y - model.y_mean_) / model.y_scale_
    F = np.hstack([np.ones((len(X), 1)), Xs])[:, model.regr_cols_]
    D2, mu = _sq_dists(Xs), (10.0 + len(X)) * np.finfo(float).eps
    obj = lambda t: _likelihood(D2, F, ys, t, mu)[0]
    best = obj(model.theta_)
    assert best <= obj(model.theta_start_) + 1e-12
    assert best <= obj(model.theta_ * 1.5) and best <= obj(model.theta_ / 1.5)


def test_gp_brent_and_hyper_subsample(data):
    X, y, Xt, yt = data
    full = GP(optimizer="brent").fit(X, y)
    sub = GP(optimizer="brent", hyper_subsample=120, random_state=3).fit(X, y)
    assert full.theta_ > 0 and sub.theta_ > 0
    assert rmse(yt, sub.predict(Xt)) < 0.8 * rmse(yt, np.full_like(yt, y.mean()))
    assert abs(np.log(sub.theta_ / full.theta_)) < np.log(10.0)  # a subsample gives a comparable theta


def test_gp_constant_column_gives_finite_predictions(data):
    X, y, Xt, _ = data
    Xc = X.copy()
    Xc[:, 8] = 0
    pred = GP().fit(Xc, y).predict(Xt)
    assert np.isfinite(pred).all()


def test_gp_lattice_path_matches_reference_with_duplicates_and_off_lattice_rows(data):
    X, y, Xt, _ = data
    # duplicated genomes (same targets; conflicting ones make gamma ~1e11 and any evaluation order differs ~1e-4)
    Xd = np.vstack([X, X[:30]])
    yd = np.append(y, y[:30])
    model = GP(optimizer=None, theta0=0.02, random_state=0).fit(Xd, yd)  # small theta: correlations matter
    Q = np.vstack([Xt, X[:40], Xt[:10] + 0.5, Xt[:10] * 3, -Xt[:10]]).astype(float)  # off-grid / out of range
    fast, ref = model.predict(Q), model.predict_reference(Q)
    np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-9)
    corr = radial_reference((Q[:300] - model.x_mean_) / model.x_scale_, model.centers_, model.gamma_, "gauss",
                            model.theta_)
    assert np.abs(corr).max() > 1e-3 * np.abs(ref[:300] - model.y_mean_).max() / model.y_scale_
    # same rows alone or in a batch: BLAS may sum each row in another order for another batch shape (it does on
    # AVX-512 hosts), so the bound is the rounding of the two sums, (terms) * eps * (sum of the terms' magnitudes)
    n_terms = len(model.gamma_) + Q.shape[1]
    magnitude = (np.abs(model.gamma_).sum() + np.abs(Q / model.x_scale_ @ model._beta()[1:]).max()) * model.y_scale_
    bound = 2 * n_terms * np.finfo(float).eps * magnitude
    np.testing.assert_allclose(model.predict(Q[:7]), fast[:7], rtol=0, atol=bound)
    big = np.tile(Q, (12, 1))
    np.testing.assert_allclose(model.predict(big), np.tile(fast, 12), rtol=0, atol=bound)
    # threaded or not: the same blocks, each computed the same way, only spread over threads: bit for bit
    one, two = (GP(optimizer=None, theta0=0.02, n_jobs=j).fit(Xd, yd).predict(big) for j in (1, 2))
    np.testing.assert_array_equal(one, two)


def test_gaussian_lattice_against_reference():
    rng = np.random.default_rng(3)
    C = genomes(50, 4).astype(float)
    Q = np.vstack([genomes(400, 5), C[:5], C[:3] + 20.0, C[:3] - 2.0]).astype(float)  # duplicates, out of range
    Q[-1, 0] = 0.25  # off the lattice: left to the caller
    h, w = rng.uniform(0.5, 3.0, D), rng.normal(size=50)
    for theta in (0.01, 0.3, 50.0):  # 50: products far below the smallest normal double
        out = np.full(len(Q), np.nan)
        ok = GaussLattice(C, h, w, theta)(Q, out)
        assert ok.sum() == len(Q) - 1 and not ok[-1]
        ref = radial_reference(Q / h, C / h, w, "gauss", theta)
        np.testing.assert_allclose(out[ok], ref[ok], rtol=1e-12, atol=1e-13)
    assert np.float64(1e-310) * 1.0 > 0.0  # the kernel restored the FPU's subnormal handling
    assert GaussLattice(C + 0.5, h, w, 0.1)(Q, out) is None  # non-integer centres: no lattice
    assert GaussLattice(np.vstack([C, C[:1] * 0 + MAX_CARD + 5]), h, np.append(w, 1.0), 0.1)(Q, out) is None


def test_lattice_groups_and_kernel_checks():
    card = np.array([3, 3, 3, 17, 1, 2, 2, 5])
    groups = plan_groups(card, 27)
    assert [j for g in groups for j in g] == list(range(card.size))
    assert all(np.prod(card[g]) <= 27 or len(g) == 1 for g in groups)
    assert [len(g) for g in groups] == [3, 2, 3]  # 3*3*3, 17*1, 2*2*5
    Q = np.zeros((2, 2))
    one = np.ones(2)
    with pytest.raises(ValueError, match="run past the table"):
        lattice_sum(Q, np.zeros(2), np.array([3.0, 3.0]), np.array([0, 2], np.intc), np.array([1.0, 3.0]),
                    np.zeros(1, np.intc), np.ones(8 * 8), np.ones(8), 8, one, np.ones(2, np.uint8))


def test_fast_exp_is_accurate():
    x = -np.concatenate([np.linspace(0, 50, 20001), np.linspace(50, 700, 2001)])
    got = np.array([exp_neg(v) for v in x])
    np.testing.assert_allclose(got, np.exp(x), rtol=5e-15)


def test_cart_compiled_equals_sklearn_trees(data):
    X, y, Xt, _ = data
    model = CART(n_trees=25, store_estimators=True, random_state=4).fit(X, y)
    Xq = np.vstack([Xt, Xt[:20] + 0.5, -Xt[:5]])  # off-grid and out-of-range queries too
    fast = model.predict(Xq)
    sk = np.mean([t.predict(Xq[:, f].astype(np.float32)) for t, f in zip(model.estimators_, model.feature_subsets_)],
                 axis=0)
    np.testing.assert_allclose(fast, sk, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast, model.predict_reference(Xq), rtol=1e-12, atol=1e-12)
    sizes = [len(f) for f in model.feature_subsets_]
    assert min(sizes) >= 1 and max(sizes) <= D


def test_cart_threads_do_not_change_results(data):
    X, y, Xt, _ = data
    a = CART(n_trees=20, n_jobs=1, random_state=7).fit(X, y).predict(Xt)
    b = CART(n_trees=20, n_jobs=2, random_state=7).fit(X, y).predict(Xt)
    np.testing.assert_array_equal(a, b)
    c = CART(n_trees=20, random_state=8).fit(X, y).predict(Xt)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(FAST))
def test_clone_and_refit_give_same_predictions(name, data):
    X, y, Xt, _ = data
    X, y = X[:120], y[:120]
    first = FAST[name]() if name != "mlp" else MLP(n_hidden=32, n_epochs=80, random_state=0)
    p1 = first.fit(X, y).predict(Xt)
    second = clone(first)
    assert second.get_params() == first.get_params()
    np.testing.assert_array_equal(second.fit(X, y).predict(Xt), p1)


def step_target(X):
    X = np.asarray(X, float)
    return 20.0 + 5.0 * (X[:, 0] > 0.5) + 3.0 * (X[:, 45] > 8.5) + 2.0 * (X[:, 7] > 1.5)


def test_adaptive_switching_picks_trees_for_a_step_function():
    X = genomes(150, 11)
    model = AdaptiveSwitching(n_fold=4, model_params={"carts": {"n_trees": 40}}, random_state=0)
    model.fit(X, step_target(X))
    assert model.winner_ == "carts"
    assert set(model.scores_) == {"rbf", "gp", "carts"}
    assert all(len(t) == 4 for t in model.scores_.values())
    Xt = genomes(200, 12)
    assert kendall_tau(step_target(Xt), model.predict(Xt)) > 0.8
    assert model.name == "adaptive switching"


def test_adaptive_switching_picks_an_interpolant_for_a_linear_function():
    X = genomes(150, 13)
    y = 30.0 - X @ W
    model = AdaptiveSwitching(models=("carts", "rbf"), n_fold=4, model_params={"carts": {"n_trees": 40}},
                              random_state=0).fit(X, y)
    assert model.winner_ == "rbf"
    assert model.scores_["rbf"].mean() > 0.99
    same = clone(model).fit(X, y)
    Xt = genomes(50, 14)
    np.testing.assert_array_equal(same.predict(Xt), model.predict(Xt))


def test_adaptive_switching_accepts_estimator_instances(data):
    X, y, _, _ = data
    model = AdaptiveSwitching(models=[CART(n_trees=10, random_state=0), RBF()], n_fold=3, random_state=1).fit(X, y)
    assert model.winner_ in {"CART", "RBF"}


def test_factory_names():
    assert isinstance(make_surrogate("rbf"), RBF)
    assert isinstance(make_surrogate("GP"), GP)
    assert isinstance(make_surrogate("carts", n_trees=7), CART) and make_surrogate("carts", n_trees=7).n_trees == 7
    assert CART().n_trees == 5000
    assert isinstance(make_surrogate("mlp"), MLP)
    assert isinstance(make_surrogate("as"), AdaptiveSwitching)
    assert make_surrogate("as").models == ("rbf", "gp", "carts")
    with pytest.raises(ValueError, match="unknown surrogate"):
        make_surrogate("svr")


def test_works_inside_sklearn_cross_validation(data):
    X, y, _, _ = data
    scores = cross_val_score(RBF(), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.0)


@pytest.mark.parametrize("name", ["rbf", "gp", "carts", "mlp", "as"])
def test_bad_input_is_refused(name, data):
    X, y, _, _ = data
    model = make_surrogate(name)
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X, y_nan)
    with pytest.raises(ValueError, match="samples but y has"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        model.fit(X[0], y[:1])
    X_nan = X.astype(float)
    X_nan[2, 5] = np.inf
    with pytest.raises(ValueError, match="row 2"):
        model.fit(X_nan, y)
    too_few = {"rbf": 46, "gp": 47, "carts": 1, "mlp": 4, "as": 9}[name]
    with pytest.raises(ValueError, match="at least"):
        model.fit(X[:too_few], y[:too_few])


def test_prediction_checks_feature_count(data):
    X, y, _, _ = data
    model = RBF().fit(X, y)
    with pytest.raises(ValueError, match="fitted on 46"):
        model.predict(X[:, :40])


@pytest.mark.parametrize("params", [{"kernel": "gauss"}, {"tail": "quadratic"}, {"eta": -1.0}])
def test_rbf_bad_params(params, data):
    X, y, _, _ = data
    with pytest.raises(ValueError):
        RBF(**params).fit(X, y)
