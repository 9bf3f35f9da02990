"""pymoo plug-ins that run on our kernels: a survival in place of ``RankAndCrowding``, an SMS-EMOA survival (least
hypervolume contributor removed one at a time) and an HV indicator."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pymoo.algorithms.moo.sms import LeastHypervolumeContributionSurvival
from pymoo.core.indicator import Indicator
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.operators.survival.rank_and_crowding.metrics import FunctionalDiversity

from nsganetv2.moo._validate import as_real_vector
from nsganetv2.moo.crowding import crowding_distance
from nsganetv2.moo.hypervolume import hv_contributions, hypervolume
from nsganetv2.moo.sorting import non_dominated_sort


class FastNonDominatedSorting:
    """Drop-in for ``pymoo.util.nds.non_dominated_sorting.NonDominatedSorting`` over our sorting kernel."""

    def do(self, F: ArrayLike, return_rank: bool = False, only_non_dominated_front: bool = False,
           n_stop_if_ranked: int | None = None, n_fronts: int | None = None, **_: Any
           ) -> np.ndarray | list[np.ndarray] | tuple[list[np.ndarray], np.ndarray]:
        F = np.asarray(F)  # non_dominated_sort validates (a complex F is an error, not its real part)
        if len(F) == 0:
            fronts: list[np.ndarray] = []
            ranks = np.empty(0, dtype=np.int64)
        else:
            ranks = non_dominated_sort(F)
            if only_non_dominated_front:
                n_fronts = 1
            fronts = _split_fronts(ranks, n_stop_if_ranked, n_fronts)
        if only_non_dominated_front:
            return fronts[0] if fronts else np.array([], dtype=int)
        if return_rank:
            return fronts, ranks
        return fronts


def _split_fronts(ranks: np.ndarray, n_stop_if_ranked: int | None, n_fronts: int | None) -> list[np.ndarray]:
    """Index arrays per front (ascending indices), stopping early like pymoo does."""
    order = np.argsort(ranks, kind="stable")
    bounds = np.searchsorted(ranks[order], np.arange(int(ranks.max()) + 2))
    fronts, n_ranked = [], 0
    for k in range(len(bounds) - 1):
        if n_fronts is not None and k >= n_fronts:
            break
        front = order[bounds[k] : bounds[k + 1]]
        fronts.append(front)
        n_ranked += len(front)
        if n_stop_if_ranked is not None and n_ranked >= n_stop_if_ranked:
            break
    return fronts


def _crowding(F: np.ndarray, **_: Any) -> np.ndarray:
    return crowding_distance(F)


class RankAndCrowdingSurvival(RankAndCrowding):
    """NSGA-II survival (rank, then crowding distance) on our compiled kernels.

    Behaves exactly like pymoo's ``RankAndCrowding(crowding_func="cd")``: same fronts in the same order, same
    crowding distances, same random tie-breaking, hence the same population for the same seed.
    """

    def __init__(self) -> None:
        super().__init__(nds=FastNonDominatedSorting())
        self.crowding_func = FunctionalDiversity(_crowding, filter_out_duplicates=False)


class LeastHVContributionSurvival(LeastHypervolumeContributionSurvival):
    """SMS-EMOA survival (pymoo's ``LeastHypervolumeContributionSurvival``) on our kernels: fronts by our sorting,
    and on the front that does not fit, the point of least exclusive hypervolume (normalised objectives, reference
    ``1 + eps``) removed one at a time. Same survivors as pymoo's, e.g. ``SMSEMOA(survival=...)``."""

    def _do(self, problem: Any, pop: Any, *args: Any, n_survive: int | None = None, ideal: Any = None,
            nadir: Any = None, **kwargs: Any) -> Any:
        from pymoo.core.population import Population
        from pymoo.util.normalization import normalize

        F = pop.get("F").astype(float, copy=False)
        ideal = F.min(axis=0) if ideal is None else ideal
        nadir = F.max(axis=0) if nadir is None else nadir
        survivors: list[Any] = []
        for k, front in enumerate(FastNonDominatedSorting().do(F, n_stop_if_ranked=n_survive)):
            members = pop[front]
            members.set("rank", k)
            if len(survivors) + len(members) > n_survive:
                keep = least_contributor_order(normalize(members.get("F"), ideal, nadir),
                                               np.full(problem.n_obj, 1.0 + self.eps), n_survive - len(survivors))
                members = members[keep]
            survivors.extend(members)
        return Population.create(*survivors)


def least_contributor_order(F: np.ndarray, ref: np.ndarray, n_keep: int) -> np.ndarray:
    """Indices (in their original order) of the ``n_keep`` rows left after removing, one at a time, the row of least
    hypervolume contribution (the first on ties, like ``argmin``)."""
    idx = np.arange(len(F))
    F = np.ascontiguousarray(F, dtype=float)
    while len(idx) > n_keep:
        k = int(hv_contributions(F, ref, ignore_dominated=True).argmin())
        F = np.delete(F, k, axis=0)
        idx = np.delete(idx, k)
    return idx


class HV(Indicator):
    """Hypervolume indicator (pymoo ``Indicator`` API) computed by our exact kernel.

    The value is in raw units unless ``zero_to_one=True`` with ``ideal``/``nadir`` is given (pymoo's
    ``PreNormalization``), in which case points and ``ref_point`` are normalised alike.
    """

    def __init__(self, ref_point: ArrayLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ref_point = self.normalization.forward(as_real_vector(ref_point, "ref_point"))

    def _do(self, F: np.ndarray) -> float:
        if len(F) == 0:
            return 0.0
        return hypervolume(F, self.ref_point)
