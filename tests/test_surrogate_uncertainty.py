"""GP theta start, the group-ARD GP and the GP + linear ensemble: fits, predictive std, genome encoding."""
import time
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from nsganetv2.surrogate import (
    GP,
    GPARD,
    GPLinearEnsemble,
    get_surrogate,
    kendall_tau,
    make_surrogate,
)
from nsganetv2.surrogate.encoding import default_groups, encode

D = 46
W = np.random.default_rng(123).uniform(-1, 1, D)


def genomes(n, seed, canonical=True):
    """Random OFA genomes; with ``canonical`` the genes of inactive layers are 0, as the space encodes them."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, D))
    X[:, 45] = rng.integers(0, 17, size=n)
    if canonical:
        for s in range(5):
            depth = X[:, 9 * s] + 2
            for j in range(4):
                X[j >= depth, 9 * s + 1 + j] = 0
                X[j >= depth, 9 * s + 5 + j] = 0
    return X


def smooth_error(X):
    X = np.asarray(X, float)
    return 25.0 - 2.0 * np.tanh(X @ W / 8.0) - 0.15 * X[:, 45] + 0.3 * np.sin(X[:, :45].sum(1) / 6.0)


@pytest.fixture(scope="module")
def data():
    X, Xt = genomes(100, 1, canonical=False), genomes(300, 2, canonical=False)  # as the other surrogate tests
    return X, smooth_error(X), Xt, smooth_error(Xt)


# ------------------------------------------------------------------ GP theta start


def test_gp_constant_mean_leaves_its_start_and_predicts_off_the_training_points(data):
    """pydacefit's theta0 = 1 on standardised genomes: every correlation ~exp(-90), a flat likelihood, a constant
    predictor. The default start (1 / median squared distance) has a slope."""
    X, y, Xt, yt = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GP(regr="constant", random_state=0).fit(X, y)
    assert model.theta_ != pytest.approx(model.theta_start_, rel=1e-3)
    pred = model.predict(Xt)
    assert pred.std() > 0.3 * y.std()
    assert kendall_tau(yt, pred) > 0.7


def test_gp_original_start_is_reachable_and_warns_when_the_fit_does_not_move(data):
    X, y, Xt, _ = data
    with pytest.warns(ConvergenceWarning, match="did not improve on theta0 = 1"):
        model = GP(regr="constant", theta0=1.0).fit(X, y)
    assert model.theta_ == 1.0 and model.theta_start_ == 1.0
    assert model.predict(Xt).std() < 1e-6 * y.std()  # the constant predictor the warning is about


@pytest.mark.parametrize("optimizer", ["boxmin", "brent"])
def test_gp_auto_start_needs_no_warning_on_a_sloped_likelihood(optimizer, data):
    X, y, _, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GP(optimizer=optimizer, random_state=0).fit(X[:, :8], y)


def test_gp_bad_theta0_is_refused(data):
    X, y, _, _ = data
    for bad in ("median", 0.0, -1.0):
        with pytest.raises(ValueError, match="theta0 must be 'auto' or a positive number"):
            GP(theta0=bad).fit(X, y)


# ------------------------------------------------------------------ new surrogates: sklearn compliance

NEW = [GPARD(n_restarts=1), GPLinearEnsemble(gp_params={"n_restarts": 1})]


@parametrize_with_checks(NEW)
def test_sklearn_compatible(estimator, check):
    if getattr(check, "func", check).__name__.startswith("check_array_api"):
        return  # run with SCIPY_ARRAY_API set by test_surrogate_sklearn.test_array_api_dispatch_with_numpy_inputs
    check(estimator)


def test_registered_with_their_names():
    assert isinstance(make_surrogate("gp-ard"), GPARD) and get_surrogate("gp_ard").name == "gp-ard"
    assert isinstance(make_surrogate("ensemble"), GPLinearEnsemble)
    assert get_surrogate("ensemble").min_samples(D, {}) == 3 and not get_surrogate("ensemble").uses_torch


# ------------------------------------------------------------------ genome encoding


def test_ofa_encoding_separates_inactive_layers_from_the_smallest_choice():
    X = genomes(50, 3).astype(float)
    E = encode(X, "ofa-mbv3")
    depth = X[:, 0] + 2  # stage 0
    for j in range(4):
        active = j < depth
        assert np.all(E[active, 1 + j] == X[active, 1 + j] + 1) and np.all(E[~active, 1 + j] == 0)
        assert np.all(E[active, 5 + j] >= 1) and np.all(E[~active, 5 + j] == 0)
    np.testing.assert_array_equal(E[:, [0, 9, 18, 27, 36, 45]], X[:, [0, 9, 18, 27, 36, 45]])
    # genes of inactive layers are ignored: a non-canonical genome encodes like its canonical form
    raw = genomes(50, 3, canonical=False).astype(float)
    np.testing.assert_array_equal(encode(raw, "ofa-mbv3"), E)
    assert np.bincount(default_groups("ofa-mbv3", D)).tolist() == [5, 20, 20, 1]


@pytest.mark.parametrize("cls", [GPARD, GPLinearEnsemble])
def test_ofa_encoding_refuses_features(cls, data):
    X, y, _, _ = data
    with pytest.raises(ValueError, match="expects 46-gene OFA MobileNetV3 genomes, got 12 features"):
        cls(encoding="ofa-mbv3").fit(X[:, :12], y)
    with pytest.raises(ValueError, match="non-negative integer genes"):
        cls(encoding="ofa-mbv3").fit(X + 0.5, y)
    with pytest.raises(ValueError, match="encoding must be one of"):
        cls(encoding="onehot").fit(X, y)


# ------------------------------------------------------------------ accuracy and uncertainty


@pytest.mark.parametrize("model", [GPARD(encoding="ofa-mbv3", random_state=0),
                                   GPLinearEnsemble(encoding="ofa-mbv3", random_state=0)], ids=["gp-ard", "ensemble"])
def test_ranks_held_out_genomes_and_returns_a_std(model):
    X, Xt = genomes(100, 1), genomes(300, 2)  # canonical: the target is a function of the architecture
    y, yt = smooth_error(X), smooth_error(Xt)
    model = clone(model).fit(X, y)
    mean, std = model.predict(Xt, return_std=True)
    np.testing.assert_allclose(mean, model.predict(Xt), rtol=1e-12, atol=1e-12)
    assert kendall_tau(yt, mean) > 0.7
    assert std.shape == mean.shape and np.all(std > 0)
    # less uncertain at the training points than off them
    assert model.predict(X, return_std=True)[1].mean() < 0.7 * std.mean()


def test_gp_ard_std_is_the_kriging_variance():
    """At a training point with no noise the latent std is ~0; far away it is the universal-kriging std."""
    X = np.random.default_rng(1).uniform(-1, 1, size=(40, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    model = GPARD(nugget_bounds=(1e-8, 1e-8), random_state=0).fit(X, y)
    _, s_train = model.predict(X[:5], return_std=True)
    assert np.all(s_train < 1e-2 * y.std())
    far = np.full((1, 3), 1e3)
    _, s_far = model.predict(far, return_std=True)
    # far away: the process variance plus the uncertainty of the estimated constant mean
    one = np.ones(len(X))
    R = np.exp(-model.theta_[0] * ((model.centers_[:, None, :] - model.centers_[None]) ** 2).sum(-1)) + 1e-8 * np.eye(40)
    expected = model.y_scale_ * np.sqrt(model.sigma2_ * (1 + 1 / (one @ np.linalg.solve(R, one))))
    np.testing.assert_allclose(s_far, expected, rtol=1e-6)


def test_gp_ard_fits_a_separate_length_scale_per_group():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(80, 3))
    y = np.sin(4 * X[:, 0]) + 0.05 * X[:, 1]  # feature 0 wiggles, 1 is nearly flat, 2 is noise-free irrelevant
    model = GPARD(groups="ard", random_state=0).fit(X, y)
    assert model.theta_.shape == (3,)
    assert model.theta_[0] > 10 * model.theta_[1] and model.theta_[0] > 10 * model.theta_[2]
    with pytest.raises(ValueError, match="groups must hold one int per feature"):
        GPARD(groups=[0, 1]).fit(X, y)
    with pytest.raises(ValueError, match="groups must be None, 'ard'"):
        GPARD(groups="iso").fit(X, y)


def test_fit_on_a_thousand_genomes_is_fast_enough_for_a_search_loop():
    X = genomes(1000, 5)
    y = smooth_error(X)
    t = time.perf_counter()
    model = GPLinearEnsemble(encoding="ofa-mbv3", random_state=0).fit(X, y)
    model.predict(genomes(20000, 6), return_std=True)
    assert time.perf_counter() - t < 30.0  # a few seconds alone; generous for a shared machine


def test_ensemble_weight_fixed_or_cross_validated():
    X, Xt = genomes(80, 1), genomes(50, 2)
    y = smooth_error(X)
    gp_only = GPLinearEnsemble(encoding="ofa-mbv3", weight=1.0, random_state=0).fit(X, y)
    np.testing.assert_allclose(gp_only.predict(Xt), gp_only.gp_.predict(Xt), rtol=1e-12)
    cv = GPLinearEnsemble(encoding="ofa-mbv3", random_state=0).fit(X, y)  # weight="cv" by default
    assert cv.cv_errors_.shape == (11,) and cv.weight_ == pytest.approx(np.linspace(0, 1, 11)[cv.cv_errors_.argmin()])
    # a purely linear target: cross-validation leans on the linear member
    lin = GPLinearEnsemble(weight="cv", random_state=0).fit(X[:, :10], X[:, :10] @ np.arange(10.0))
    assert lin.weight_ <= 0.3
    for bad in ("loo", 1.5):
        with pytest.raises(ValueError, match="weight must be 'cv' or a number in"):
            GPLinearEnsemble(weight=bad).fit(X, y)
