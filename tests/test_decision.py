import numpy as np
import pytest
from pymoo.decomposition.asf import ASF

from nsganetv2.moo.decision import asf, asf_select, high_tradeoff_points, parse_preference


def test_parse_preference_by_key_in_any_order():
    objs = ["top1", "flops"]
    assert parse_preference("top1#80+flops#150", objs).tolist() == [20.0, 150.0]
    assert parse_preference("flops#150+top1#80", objs).tolist() == [20.0, 150.0]
    assert parse_preference("cpu#12", ["top1", "flops", "cpu"]).tolist() == [1.0, 1.0, 12.0]


@pytest.mark.parametrize(
    "bad, msg",
    [("latency#3", "unknown objective 'latency'"), ("top1=80", "no '#'"), ("top1#x", "not a number"),
     ("top1#1+top1#2", "twice"), ("", "empty preference")],
)
def test_parse_preference_errors_name_the_problem(bad, msg):
    with pytest.raises(ValueError, match=msg):
        parse_preference(bad, ["top1", "flops"])


def test_asf_matches_pymoo():
    rng = np.random.default_rng(0)
    F = rng.random((50, 3)) * [30, 500, 20]
    w = np.array([20.0, 150.0, 5.0])
    expected = ASF().do(F, weights=w, utopian_point=np.zeros(3))
    np.testing.assert_allclose(asf(F, w), expected.ravel())
    assert asf_select(F, w, 5).tolist() == np.argsort(expected.ravel(), kind="stable")[:5].tolist()


def test_high_tradeoff_finds_the_knee():
    # a convex front with a sharp knee at (0.1, 0.1): that point has the best trade-off
    f1 = np.linspace(0, 1, 41)
    front = np.vstack([np.c_[f1[f1 <= 0.1], 1 - 9 * f1[f1 <= 0.1]], np.c_[f1[f1 > 0.1], 0.1 - (f1[f1 > 0.1] - 0.1) / 9]])
    knee = int(np.argmin(np.abs(front[:, 0] - 0.1)))
    chosen = high_tradeoff_points(front, n=1)
    assert chosen.tolist() == [knee]
    assert len(high_tradeoff_points(front, n=5)) == 5


def test_high_tradeoff_matches_pymoo_outlier_rule():
    from pymoo.mcdm.high_tradeoff import HighTradeoffPoints

    theta = np.linspace(0, np.pi / 2, 60)
    F = np.c_[1 - np.cos(theta) ** 4, 1 - np.sin(theta) ** 4]
    ours = high_tradeoff_points(F)
    assert len(ours) > 0
    theirs = HighTradeoffPoints().do(F)
    theirs = np.array([] if theirs is None else theirs)
    assert sorted(ours.tolist()) == sorted(np.atleast_1d(theirs).tolist())


def _pymoo_mu(F):
    """mu as pymoo's own HighTradeoffPoints computes it (its loop and NeighborFinder), captured at its outlier rule."""
    import pymoo.mcdm.high_tradeoff as ht

    seen = {}
    original = ht.find_outliers_upper_tail

    def capture(mu):
        seen["mu"] = mu.copy()
        return original(mu)

    ht.find_outliers_upper_tail = capture
    try:
        picked = ht.HighTradeoffPoints().do(F)
    finally:
        ht.find_outliers_upper_tail = original
    return seen["mu"], np.array([] if picked is None else np.atleast_1d(picked))


def _fronts():
    rng = np.random.default_rng(3)
    for n in (5, 8, 13, 21, 34, 60):
        for m in (2, 3):
            x = np.sort(rng.random(n))
            if m == 2:
                F = np.c_[x, (1 - x) ** rng.uniform(0.3, 3)]
            else:
                y = rng.random(n)
                F = np.c_[x, y * (1 - x), (1 - y) * (1 - x)]
            yield (F - F.min(0)) / (F.max(0) - F.min(0))  # pymoo 0.6 does not normalise; ours does


def test_tradeoff_values_equal_pymoos_own_decision_making():
    from nsganetv2.moo.decision import tradeoff_values

    n_ball_exactly_min = 0
    for F in _fronts():
        mu_pymoo, picked = _pymoo_mu(F)
        np.testing.assert_allclose(tradeoff_values(F), mu_pymoo, rtol=0, atol=1e-12)
        assert sorted(high_tradeoff_points(F).tolist()) == sorted(picked.tolist())
        # the case where the point itself counts among the min(2M, N-1) neighbours (the original's rule)
        from scipy.spatial import cKDTree

        tree, n_min = cKDTree(F), min(2 * F.shape[1], len(F) - 1)
        n_ball_exactly_min += sum(len(tree.query_ball_point(f, 0.125)) == n_min for f in F)
    assert n_ball_exactly_min > 0  # the fronts exercise the rule that differed
