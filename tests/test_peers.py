"""The peer optimisers of the benchmarks (benchmarks/peers.py): budget, bounds, types, order and determinism."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import peers  # noqa: E402
from peers import PEERS, BlackBox, run_peer, run_peer_full  # noqa: E402

BUDGET = 14  # BoTorch: 2 * (5 + 1) Sobol points, then one q-batch cut to 2


@pytest.fixture(autouse=True)
def _threads(one_thread):
    pass


@pytest.fixture(autouse=True)
def smoke_botorch(monkeypatch: pytest.MonkeyPatch) -> None:
    """BoTorch's tutorial SMOKE_TEST sizes for the acquisition optimisation: the test checks the plumbing."""
    for k, v in {"mc_samples": 16, "num_restarts": 2, "raw_samples": 4}.items():
        monkeypatch.setitem(peers.BOTORCH, k, v)


def _zdt1(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    g = 1 + 9 * X[:, 1:].mean(axis=1)
    return np.stack([X[:, 0], g * (1 - np.sqrt(X[:, 0] / g))], axis=1)


def _int_problem(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return np.stack([((X - 1) ** 2).sum(axis=1), ((X - np.array([3, 0, 4, 6])) ** 2).sum(axis=1) + X[:, 0]], axis=1)


class Recorder:
    """A black-box function that remembers what it was asked."""

    def __init__(self, fn):
        self.fn, self.asked = fn, []

    def __call__(self, X: np.ndarray) -> np.ndarray:
        self.asked.append(np.array(X, copy=True))
        return self.fn(X)


def _boxes() -> list[tuple[BlackBox, Recorder]]:
    out = []
    rec = Recorder(_zdt1)
    out.append((BlackBox("zdt1", 5, np.zeros(5), np.ones(5), "real", 2, rec), rec))
    rec = Recorder(_int_problem)
    out.append((BlackBox("int4", 4, np.array([0, 0, 1, 2]), np.array([3, 5, 4, 6]), "int", 2, rec), rec))
    return out


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_peer_evaluates_exactly_the_budget_inside_the_bounds(peer: str) -> None:
    for box, rec in _boxes():
        run = run_peer_full(peer, box, BUDGET, seed=3)
        asked = np.concatenate(rec.asked)
        assert run.F.shape == (BUDGET, 2) and asked.shape == (BUDGET, box.n_var)
        np.testing.assert_array_equal(run.X, asked)
        np.testing.assert_array_equal(run.F, box.evaluate.fn(asked))  # every row is the box's value, in order
        assert np.all(asked >= box.xl) and np.all(asked <= box.xu)
        if box.vtype == "int":
            assert all(a.dtype == np.int64 for a in rec.asked)
        assert np.all(np.diff(run.t) >= 0) and run.wall_s >= run.t[-1]
        assert len(np.unique(asked, axis=0)) > 1  # it explores


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_peer_is_deterministic_for_a_seed(peer: str) -> None:
    box = _boxes()[1][0]
    a, b = run_peer(peer, box, BUDGET, seed=5), run_peer(peer, box, BUDGET, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run_peer(peer, box, BUDGET, seed=6))


def test_bad_input_is_refused_with_the_fix() -> None:
    box = _boxes()[0][0]
    with pytest.raises(ValueError, match="unknown peer 'cma'"):
        run_peer("cma", box, 10, 0)
    with pytest.raises(ValueError, match="budget must be an integer >= 1"):
        run_peer("random", box, 0, 0)
    with pytest.raises(ValueError, match="vtype must be 'int' or 'real'"):
        BlackBox("b", 2, [0, 0], [1, 1], "float", 2, _zdt1)
    with pytest.raises(ValueError, match="integer bounds"):
        BlackBox("b", 2, [0, 0], [1.5, 1], "int", 2, _zdt1)
    wrong = BlackBox("b", 5, np.zeros(5), np.ones(5), "real", 3, _zdt1)
    with pytest.raises(ValueError, match=r"must return \(14, 3\)"):
        run_peer("random", wrong, BUDGET, 0)
