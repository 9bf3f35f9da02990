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
