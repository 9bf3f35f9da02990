"""Greedy hypervolume-contribution subset selection (nsganetv2.search.subset.hv_contribution_selection)."""
from __future__ import annotations

import moocore
import numpy as np
import pytest

from nsganetv2.search.subset import hv_contribution_selection


def _greedy_by_moocore(values: np.ndarray, front: np.ndarray, k: int, offset: float = 0.1) -> list[int]:
    both = np.concatenate([front, values])
    lo, scale = both.min(axis=0), np.ptp(both, axis=0)
    scale[scale <= 0] = 1.0
    V, S = (values - lo) / scale, (front - lo) / scale
    ref = np.full(values.shape[1], 1.0 + offset)
    chosen: list[int] = []
    for _ in range(k):
        base = moocore.hypervolume(S, ref=ref) if len(S) else 0.0
        gains = [-1.0 if i in chosen else moocore.hypervolume(np.vstack([S, V[i]]), ref=ref) - base
                 for i in range(len(V))]
        chosen.append(int(np.argmax(gains)))
        S = np.vstack([S, V[chosen[-1]]])
    return chosen  # in the order picked


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_equals_greedy_by_definition(d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values, front = rng.random((30, d)), rng.random((8, d))
    got = hv_contribution_selection(values, front, 5)
    assert got.tolist() == _greedy_by_moocore(values, front, 5)
    assert got.dtype.kind == "i" and len(set(got.tolist())) == 5


def test_picks_the_gap_and_skips_dominated_candidates() -> None:
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    values = np.array([[0.9, 0.9],   # adds little
                       [0.5, 0.5],   # fills the middle of the gap
                       [2.0, 2.0],   # dominated by the front: adds nothing
                       [0.2, 0.8]])
    assert hv_contribution_selection(values, front, 1).tolist() == [1]
    assert sorted(hv_contribution_selection(values, front, 2).tolist()) == [1, 3]


def test_ties_and_edge_cases() -> None:
    front = np.array([[0.0, 0.0]])
    values = np.array([[1.0, 1.0], [2.0, 1.0], [1.0, 2.0]])  # all dominated by the front: all gains 0
    assert hv_contribution_selection(values, front, 1).tolist() == [0]
    picks = {hv_contribution_selection(values, front, 1, np.random.default_rng(s)).item() for s in range(20)}
    assert picks == {0, 1, 2}
    assert sorted(hv_contribution_selection(values, front, 3).tolist()) == [0, 1, 2]
    assert hv_contribution_selection(values, front, 0).tolist() == []
    assert hv_contribution_selection(np.array([3.0, 1.0, 2.0]), np.array([5.0]), 1).tolist() == [1]  # 1-D values
    assert hv_contribution_selection(values, np.empty((0, 2)), 1).tolist() == [0]  # empty front
    # stop_without_gain: nothing adds hypervolume, nothing is picked; otherwise only the rows that add some
    assert hv_contribution_selection(values, front, 2, stop_without_gain=True).tolist() == []
    gap = np.array([[0.5, 0.5], [0.2, 0.9], [2.0, 2.0]])
    assert hv_contribution_selection(gap, np.array([[0.0, 1.0], [1.0, 0.0]]), 3, stop_without_gain=True).tolist() \
        == [0, 1]
    with pytest.raises(ValueError, match="k must be >= 0"):
        hv_contribution_selection(values, front, -1)
