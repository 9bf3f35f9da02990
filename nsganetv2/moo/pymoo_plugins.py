"""pymoo plug-ins that run on our kernels: a survival in place of ``RankAndCrowding`` and an HV indicator."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from pymoo.core.indicator import Indicator
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.operators.survival.rank_and_crowding.metrics import FunctionalDiversity

from nsganetv2.moo._validate import as_real_vector
from nsganetv2.moo.crowding import crowding_distance
from nsganetv2.moo.hypervolume import hypervolume
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
