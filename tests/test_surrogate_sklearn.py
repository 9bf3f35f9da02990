"""scikit-learn compliance of every surrogate, the surrogate registry and fitted-model descriptions."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from nsganetv2.surrogate import (
    CART,
    GP,
    MLP,
    RBF,
    SURROGATES,
    AdaptiveSwitching,
    SurrogateSpec,
    describe_fitted,
    get_surrogate,
    make_surrogate,
    register_surrogate,
    spec_of,
    surrogate_names,
)

# small settings: scikit-learn's checks fit each estimator a few dozen times on tiny data sets
ESTIMATORS = [
    RBF(n_jobs=1),
    GP(n_jobs=1),
    CART(n_trees=10, n_jobs=1),
    MLP(n_hidden=32, n_epochs=150, lr=1e-2),  # enough training for check_regressors_train's R^2 > 0.5
    AdaptiveSwitching(n_fold=3, model_params={"carts": {"n_trees": 10, "n_jobs": 1}}),
]

# checks an estimator cannot pass, with the reason (none today: every surrogate passes all of them)
EXPECTED_FAILED: dict[str, dict[str, str]] = {}


def _needs_array_api_env(check) -> bool:
    """sklearn's array-API checks skip themselves unless SCIPY_ARRAY_API is set before scipy is imported; they run
    in their own interpreter below instead."""
    return getattr(check, "func", check).__name__.startswith("check_array_api")


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}))
def test_sklearn_compatible(estimator, check):
    if _needs_array_api_env(check):
        return  # run by test_array_api_dispatch_with_numpy_inputs, where the variable is set
    check(estimator)


ARRAY_API_SCRIPT = """
import numpy as np
from sklearn.utils.estimator_checks import check_array_api_input
from nsganetv2.surrogate import CART, GP, GPARD, MLP, RBF, AdaptiveSwitching, GPLinearEnsemble
for est in (RBF(n_jobs=1), GP(n_jobs=1), CART(n_trees=10, n_jobs=1), MLP(n_hidden=8, n_epochs=20),
            AdaptiveSwitching(n_fold=3, model_params={"carts": {"n_trees": 10, "n_jobs": 1}}),
            GPARD(n_restarts=1), GPLinearEnsemble(gp_params={"n_restarts": 1})):
    check_array_api_input(type(est).__name__, est, array_namespace="numpy", expect_only_array_outputs=False)
print("ok")
"""


def test_array_api_dispatch_with_numpy_inputs():
    import os
    import subprocess
    import sys

    env = dict(os.environ, SCIPY_ARRAY_API="1")
    proc = subprocess.run([sys.executable, "-c", ARRAY_API_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def genomes(n, d=12, seed=0):
    return np.random.default_rng(seed).integers(0, 3, size=(n, d))


@pytest.fixture(scope="module")
def data():
    X = genomes(60)
    y = X @ np.linspace(-1, 1, X.shape[1]) + 0.1 * np.sin(X.sum(1))
    return X, y


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fitted_model_pickles_and_predicts_the_same(est, data):
    X, y = data
    model = clone(est).set_params(random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_feature_names_are_recorded_and_checked(data):
    import pandas as pd
    X, y = data
    cols = [f"g{j}" for j in range(X.shape[1])]
    model = RBF().fit(pd.DataFrame(X, columns=cols), y)
    assert list(model.feature_names_in_) == cols
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        plain = model.predict(X.astype(float))
    np.testing.assert_allclose(model.predict(pd.DataFrame(X, columns=cols)), plain)
    with pytest.raises(ValueError, match="feature names"):
        model.predict(pd.DataFrame(X, columns=cols[::-1]))


@pytest.mark.parametrize("name", ["rbf", "gp", "carts", "as"])
def test_clear_errors_at_the_boundary(name, data):
    X, y = data
    model = make_surrogate(name)
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.fit(X + 1j, y)
    with pytest.raises(ValueError, match="one target per row"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="requires y to be passed"):
        model.fit(X, None)
    need = model.min_samples(X.shape[1])
    with pytest.raises(ValueError, match=f"needs at least {need} samples for {X.shape[1]} features"):
        model.fit(X[: need - 1], y[: need - 1])


def test_list_input_and_column_y_work(data):
    X, y = data
    a = RBF().fit(X, y).predict(X)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        b = RBF().fit(X.tolist(), y.reshape(-1, 1).tolist()).predict(X.tolist())
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ registry


def test_names_and_aliases():
    assert surrogate_names() == ["rbf", "gp", "carts", "cart", "mlp", "as", "adaptive_switching", "gp-ard", "gp_ard",
                                 "ensemble", "gp-ard+linear"]
    assert set(SURROGATES) == set(surrogate_names())
    assert get_surrogate("CART") is get_surrogate("carts")
    assert get_surrogate("adaptive_switching").factory is AdaptiveSwitching
    assert isinstance(make_surrogate("cart", n_trees=3), CART) and make_surrogate("cart", n_trees=3).n_trees == 3
    with pytest.raises(ValueError, match="unknown surrogate 'svr'; choose one of"):
        get_surrogate("svr")


def test_declared_capabilities():
    d = 46
    assert [get_surrogate(n).uses_torch for n in ("rbf", "gp", "carts", "mlp", "as")] == [False, False, False,
                                                                                         True, True]
    assert get_surrogate("rbf").min_samples(d, {}) == d + 1
    assert get_surrogate("rbf").min_samples(d, {"tail": "constant"}) == 2
    assert get_surrogate("gp").min_samples(d, {}) == d + 2
    assert get_surrogate("gp").min_samples(d, {"regr": "constant"}) == 3
    assert get_surrogate("carts").min_samples(d, {}) == 2
    assert get_surrogate("mlp").min_samples(d, {}) == 5
    # every training part of 10 folds (n - ceil(n / 10) rows) must hold the GP's d + 2
    n = get_surrogate("as").min_samples(d, {})
    assert n - -(-n // 10) >= d + 2 and (n - 1) - -(-(n - 1) // 10) < d + 2
    assert get_surrogate("as").min_samples(d, {"models": ("carts",), "n_fold": 4}) == 4
    assert [get_surrogate(n).label for n in ("rbf", "gp", "carts", "mlp", "as")] == [
        "rbf", "gp", "carts", "mlp", "adaptive switching"]


@pytest.mark.parametrize("name", ["rbf", "gp", "carts", "as"])
def test_min_samples_is_exact(name):
    """The declared minimum fits, one sample fewer is refused (what a search loop may rely on)."""
    params = {"n_fold": 3, "model_params": {"carts": {"n_trees": 5}}} if name == "as" else {}
    X = genomes(200, d=8, seed=3)
    y = X @ np.arange(8.0) + np.sin(X.sum(1))
    need = get_surrogate(name).min_samples(X.shape[1], params)
    make_surrogate(name, random_state=0, **params).fit(X[:need], y[:need])
    with pytest.raises(ValueError, match="at least"):
        make_surrogate(name, random_state=0, **params).fit(X[: need - 1], y[: need - 1])


def test_register_a_new_surrogate():
    from sklearn.linear_model import Ridge

    spec = register_surrogate(SurrogateSpec("ridge-test", Ridge, aliases=("rt",), min_samples=lambda d, p: 1))
    try:
        assert get_surrogate("RT") is spec and spec.label == "ridge-test" and not spec.uses_torch
        assert surrogate_names()[-2:] == ["ridge-test", "rt"]
        model = make_surrogate("rt", alpha=2.0).fit(np.eye(3), [1.0, 2.0, 3.0])
        assert spec_of(model) is spec
        assert describe_fitted(model) == {"name": "ridge-test", "winner": "ridge-test"}
        with pytest.raises(ValueError, match="already registered"):
            register_surrogate(SurrogateSpec("other", Ridge, aliases=("rbf",)))
    finally:
        from nsganetv2.surrogate import registry

        registry._SPECS.pop("ridge-test")
        for k in ("ridge-test", "rt"):
            registry._LOOKUP.pop(k)
    assert "rt" not in surrogate_names()


def test_describe_fitted(data):
    X, y = data
    assert describe_fitted(RBF().fit(X, y)) == {"name": "rbf", "winner": "rbf"}
    assert describe_fitted(CART(n_trees=3).fit(X, y)) == {"name": "carts", "winner": "carts"}
    sw = AdaptiveSwitching(models=("carts", "rbf"), n_fold=3, model_params={"carts": {"n_trees": 5}},
                           random_state=0).fit(X, y)
    assert describe_fitted(sw) == {"name": "adaptive switching", "winner": sw.winner_}
    assert sw.winner_ in ("carts", "rbf")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        describe_fitted(RBF())
    from sklearn.linear_model import Ridge

    assert describe_fitted(Ridge().fit(X, y)) == {"name": "Ridge", "winner": "Ridge"}


def test_switching_refuses_itself_by_any_name(data):
    X, y = data
    for name in ("as", "adaptive_switching", "AS"):
        with pytest.raises(ValueError, match="cannot contain itself"):
            AdaptiveSwitching(models=("rbf", name), n_fold=3).fit(X, y)


def test_package_import_loads_no_torch_and_has_no_cycle():
    code = ("import sys; import nsganetv2.surrogate.switching, nsganetv2.surrogate.registry; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    import ast
    import pathlib

    import nsganetv2.surrogate.registry as reg

    tree = ast.parse(pathlib.Path(reg.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"switching", "cart", "gp", "mlp", "rbf", "_builtin"}  # the registry imports no model
