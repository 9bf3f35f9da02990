"""The SMS-EMOA survival plug-in (nsganetv2.moo.pymoo_plugins.LeastHVContributionSurvival)."""
from __future__ import annotations

import moocore
import numpy as np
import pytest
from pymoo.algorithms.moo.sms import SMSEMOA, LeastHypervolumeContributionSurvival
from pymoo.optimize import minimize
from pymoo.problems import get_problem

from nsganetv2.moo.pymoo_plugins import LeastHVContributionSurvival, least_contributor_order


@pytest.mark.parametrize("name", ["zdt1", "dtlz2"])
def test_smsemoa_with_our_survival_gives_the_same_population(name: str) -> None:
    problem = get_problem(name) if name == "zdt1" else get_problem(name, n_obj=3)
    runs = []
    for survival in (LeastHypervolumeContributionSurvival(), LeastHVContributionSurvival()):
        res = minimize(problem, SMSEMOA(pop_size=30, survival=survival), ("n_gen", 15), seed=3, verbose=False)
        runs.append(res.pop)
    theirs, ours = runs
    np.testing.assert_array_equal(ours.get("X"), theirs.get("X"))
    np.testing.assert_array_equal(ours.get("F"), theirs.get("F"))
    np.testing.assert_array_equal(ours.get("rank"), theirs.get("rank"))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_least_contributor_order_removes_the_least_contributor_one_by_one(m: int) -> None:
    rng = np.random.default_rng(m)
    X = np.abs(rng.normal(size=(40, m)))
    F = X / np.linalg.norm(X, axis=1, keepdims=True)
    ref = np.full(m, 1.1)
    idx = list(range(len(F)))
    while len(idx) > 15:  # the definition: HV(all) - HV(all but one), by moocore
        G = F[idx]
        total = moocore.hypervolume(G, ref=ref)
        c = [total - moocore.hypervolume(np.delete(G, i, 0), ref=ref) for i in range(len(G))]
        del idx[int(np.argmin(c))]
    assert least_contributor_order(F, ref, 15).tolist() == idx
