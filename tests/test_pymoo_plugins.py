import numpy as np
import pytest
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.indicators.hv import HV as PymooHV
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.optimize import minimize
from pymoo.problems import get_problem

from nsganetv2.moo.pymoo_plugins import HV, FastNonDominatedSorting, RankAndCrowdingSurvival


@pytest.mark.parametrize("name", ["zdt1", "dtlz2"])
def test_nsga2_with_our_survival_gives_the_same_population(name):
    problem = get_problem(name) if name == "zdt1" else get_problem(name, n_obj=3)
    runs = []
    for survival in (RankAndCrowding(), RankAndCrowdingSurvival()):
        res = minimize(problem, NSGA2(pop_size=40, survival=survival), ("n_gen", 25), seed=7, verbose=False)
        runs.append(res.pop)
    ours, theirs = runs[1], runs[0]
    np.testing.assert_array_equal(ours.get("X"), theirs.get("X"))
    np.testing.assert_array_equal(ours.get("F"), theirs.get("F"))
    np.testing.assert_array_equal(ours.get("rank"), theirs.get("rank"))


def test_sorter_matches_pymoo_fronts_and_early_stop():
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.random.default_rng(0).integers(0, 6, size=(300, 3)).astype(float)
    ours, theirs = FastNonDominatedSorting(), NonDominatedSorting()
    for kw in ({}, {"n_stop_if_ranked": 50}, {"only_non_dominated_front": True}, {"n_fronts": 2}):
        a, b = ours.do(F, **kw), theirs.do(F, **kw)
        if kw.get("only_non_dominated_front"):
            np.testing.assert_array_equal(a, b)
        else:
            assert len(a) == len(b)
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
    fr, rank = ours.do(F, return_rank=True)
    assert all((rank[f] == k).all() for k, f in enumerate(fr))


def test_hv_indicator_matches_pymoo():
    F = np.random.default_rng(1).random((200, 3))
    ref = np.full(3, 1.1)
    assert HV(ref)(F) == pytest.approx(PymooHV(ref_point=ref)(F), rel=1e-12)
    assert HV(ref)(np.empty((0, 3))) == 0.0
