"""Peer optimisers for the evaluation-efficiency benchmarks, all behind one face.

A :class:`BlackBox` is a problem the optimiser sees only through ``evaluate`` (every row passed is one true
evaluation); :func:`run_peer` runs one peer on it for exactly ``budget`` evaluations and returns their objectives in
evaluation order, and :func:`run_peer_full` also returns the genomes, the time of each evaluation and the wall time.
Each peer is configured as a new user would (the library's defaults, its documented recipe otherwise):

- ``random``: uniform sampling in the bounds (integers: uniform over the inclusive range), one batch.
- ``nsga2``: pymoo ``NSGA2`` with its defaults (tournament selection, SBX + polynomial mutation, duplicate
  elimination), population 100, or ``budget // 2`` when smaller; integer boxes get ``IntegerRandomSampling`` and
  ``SBX`` / ``PM`` (default eta and probabilities) with ``RoundingRepair``, as pymoo's discrete-variable guide shows.
  Driven by ask/tell so the last generation is cut to the budget.
- ``optuna-tpe`` / ``optuna-gp``: ``TPESampler(seed=seed)`` / ``GPSampler(seed=seed)`` with their defaults
  (10 random start-up trials each), a multi-objective study with every direction ``minimize``, one trial per
  evaluation through ask/tell. Integer variables use ``suggest_int`` (not categorical): the genes are ordinal
  (kernel size, expand ratio, depth, resolution index), and ``suggest_int`` keeps that order for both samplers.
- ``botorch``: BoTorch's multi-objective tutorial (qNEHVI, with its log variant ``qLogNoisyExpectedHypervolume-
  Improvement``): 2 * (d + 1) initial scrambled Sobol points, then batches of q = 4 (the last one cut to the budget);
  a ``ModelListGP`` of one ``SingleTaskGP`` per objective (inputs normalised to the unit cube, outcomes
  ``Standardize``d) fitted with ``fit_gpytorch_mll``; 128 Sobol QMC samples, ``prune_baseline=True``;
  ``optimize_acqf(num_restarts=10, raw_samples=512, options={"batch_limit": 5, "maxiter": 200}, sequential=True)``;
  double precision. BoTorch maximises, so it models ``-F``; the reference point is inferred from the data's
  Pareto front each batch (``infer_reference_point``, as Ax does), the problem's true one being unknown to a user.
  Integer variables: the continuous candidate is rounded to the nearest integer in the bounds.

Every runner is deterministic for a seed (torch's global generator is forked and restored around BoTorch).
Optuna and BoTorch come with the ``bench`` extra (``pip install -e ".[bench]"``).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PEERS", "BlackBox", "PeerRun", "run_peer", "run_peer_full"]


@dataclass
class BlackBox:
    """A minimised problem seen only through ``evaluate``: ``(n, n_var) -> (n, n_obj)``, one true evaluation a row.

    ``vtype`` is ``"int"`` (genomes are integers in the inclusive bounds ``xl``..``xu``; ``evaluate`` gets an
    int64 array) or ``"real"`` (floats in ``[xl, xu]``).
    """

    name: str
    n_var: int
    xl: np.ndarray
    xu: np.ndarray
    vtype: str
    n_obj: int
    evaluate: Callable[[np.ndarray], np.ndarray]

    def __post_init__(self) -> None:
        self.n_var, self.n_obj = int(self.n_var), int(self.n_obj)
        self.xl = np.broadcast_to(np.asarray(self.xl, dtype=float), (self.n_var,)).copy()
        self.xu = np.broadcast_to(np.asarray(self.xu, dtype=float), (self.n_var,)).copy()
        if self.vtype not in ("int", "real"):
            raise ValueError(f"BlackBox {self.name!r}: vtype must be 'int' or 'real', got {self.vtype!r}")
        if self.n_var < 1 or self.n_obj < 1:
            raise ValueError(f"BlackBox {self.name!r}: n_var and n_obj must be >= 1, got {self.n_var}, {self.n_obj}")
        if not (np.all(np.isfinite(self.xl)) and np.all(np.isfinite(self.xu)) and np.all(self.xl <= self.xu)):
            raise ValueError(f"BlackBox {self.name!r}: bounds must be finite with xl <= xu, got {self.xl}, {self.xu}")
        if self.vtype == "int" and not (np.all(self.xl == np.rint(self.xl)) and np.all(self.xu == np.rint(self.xu))):
            raise ValueError(f"BlackBox {self.name!r}: an int box needs integer bounds, got {self.xl}, {self.xu}")


@dataclass
class PeerRun:
    """One run: genomes ``X`` and objectives ``F`` in evaluation order, ``t[i]`` the seconds from the start until
    row i's evaluation returned, ``wall_s`` the whole run's seconds."""

    peer: str
    X: np.ndarray
    F: np.ndarray
    t: np.ndarray
    wall_s: float


@dataclass
class _Evaluator:
    """The only way a runner evaluates: snaps genomes to the box, enforces the budget, keeps the trace."""

    box: BlackBox
    budget: int
    t0: float = field(default_factory=time.perf_counter)
    X: list[np.ndarray] = field(default_factory=list)
    F: list[np.ndarray] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    n: int = 0

    @property
    def left(self) -> int:
        return self.budget - self.n

    def snap(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.box.n_var:
            raise RuntimeError(f"a runner asked for genomes of {X.shape[1]} variables; the box has {self.box.n_var}")
        X = np.clip(X, self.box.xl, self.box.xu)
        return np.rint(X).astype(np.int64) if self.box.vtype == "int" else X

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = self.snap(X)
        if len(X) > self.left:
            raise RuntimeError(f"a runner asked for {len(X)} evaluations with {self.left} left of {self.budget}")
        F = np.asarray(self.box.evaluate(X), dtype=float)
        if F.shape != (len(X), self.box.n_obj):
            raise ValueError(f"BlackBox {self.box.name!r}: evaluate returned shape {F.shape} for {len(X)} genomes; "
                             f"it must return ({len(X)}, {self.box.n_obj})")
        now = time.perf_counter() - self.t0
        self.X.append(X)
        self.F.append(F)
        self.t.extend([now] * len(X))
        self.n += len(X)
        return F


# --------------------------------------------------------------------------------------------------- runners
def _random(ev: _Evaluator, seed: int) -> None:
    rng = np.random.default_rng(seed)
    box = ev.box
    if box.vtype == "int":
        X = rng.integers(box.xl.astype(np.int64), box.xu.astype(np.int64), endpoint=True, size=(ev.budget, box.n_var))
    else:
        X = rng.uniform(box.xl, box.xu, size=(ev.budget, box.n_var))
    ev(X)


def _nsga2(ev: _Evaluator, seed: int) -> None:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem
    from pymoo.core.termination import NoTermination
    from pymoo.problems.static import StaticProblem

    box = ev.box
    kw: dict = {}
    if box.vtype == "int":
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        kw = dict(sampling=IntegerRandomSampling(), crossover=SBX(vtype=float, repair=RoundingRepair()),
                  mutation=PM(vtype=float, repair=RoundingRepair()))
    problem = Problem(n_var=box.n_var, n_obj=box.n_obj, xl=box.xl, xu=box.xu,
                      vtype=int if box.vtype == "int" else float)
    algorithm = NSGA2(pop_size=max(2, min(100, ev.budget // 2)), **kw)
    algorithm.setup(problem, termination=NoTermination(), seed=int(seed), verbose=False)
    while ev.left > 0:
        pop = algorithm.ask()
        if len(pop) == 0:
            raise RuntimeError("NSGA-II proposed no new genome (the space is exhausted by duplicate elimination)")
        if len(pop) > ev.left:  # the last generation, cut to the budget: nothing learns from it
            ev(pop.get("X")[: ev.left])
            break
        F = ev(pop.get("X"))
        Evaluator().eval(StaticProblem(problem, F=F), pop)
        algorithm.tell(infills=pop)


def _optuna(sampler_name: str) -> Callable[[_Evaluator, int], None]:
    def run(ev: _Evaluator, seed: int) -> None:
        import optuna

        box = ev.box
        sampler_cls = {"tpe": optuna.samplers.TPESampler, "gp": optuna.samplers.GPSampler}[sampler_name]
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study = optuna.create_study(directions=["minimize"] * box.n_obj, sampler=sampler_cls(seed=int(seed)))
                names = [f"x{i}" for i in range(box.n_var)]
                while ev.left > 0:
                    trial = study.ask()
                    if box.vtype == "int":
                        x = [trial.suggest_int(n, int(lo), int(hi)) for n, lo, hi in zip(names, box.xl, box.xu)]
                    else:
                        x = [trial.suggest_float(n, float(lo), float(hi)) for n, lo, hi in zip(names, box.xl, box.xu)]
                    f = ev(np.asarray([x], dtype=float))[0]
                    study.tell(trial, [float(v) for v in f])
        finally:
            optuna.logging.set_verbosity(level)

    return run


# The tutorial's settings (its SMOKE_TEST values are q 4, mc_samples 16, num_restarts 2, raw_samples 4).
BOTORCH = {"q": 4, "mc_samples": 128, "num_restarts": 10, "raw_samples": 512}


def _botorch(ev: _Evaluator, seed: int) -> None:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch/GPyTorch numerical and input-data notices
            _botorch_loop(ev, int(seed))


def _botorch_loop(ev: _Evaluator, seed: int) -> None:
    import torch
    from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling.normal import SobolQMCNormalSampler
    from botorch.utils.multi_objective.hypervolume import infer_reference_point
    from botorch.utils.multi_objective.pareto import is_non_dominated
    from botorch.utils.sampling import draw_sobol_samples
    from botorch.utils.transforms import normalize, unnormalize
    from gpytorch.mlls.sum_marginal_log_likelihood import SumMarginalLogLikelihood

    box = ev.box
    tkw = dict(dtype=torch.double, device=torch.device("cpu"))
    bounds = torch.tensor(np.stack([box.xl, box.xu]), **tkw)
    unit = torch.stack([torch.zeros(box.n_var, **tkw), torch.ones(box.n_var, **tkw)])
    n_init = min(2 * (box.n_var + 1), ev.budget)
    X0 = draw_sobol_samples(bounds=bounds, n=n_init, q=1, seed=seed).squeeze(1)
    Xs = ev.snap(X0.numpy())  # what is evaluated (integers rounded) is what the models see
    Y = -ev(Xs)
    train_x = torch.tensor(np.asarray(Xs, dtype=float), **tkw)
    train_y = torch.tensor(Y, **tkw)
    while ev.left > 0:
        xn = normalize(train_x, bounds)
        models = [SingleTaskGP(xn, train_y[:, i: i + 1], outcome_transform=Standardize(m=1))
                  for i in range(box.n_obj)]
        model = ModelListGP(*models)
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        ref = infer_reference_point(train_y[is_non_dominated(train_y)])
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=model, ref_point=ref.tolist(), X_baseline=xn, prune_baseline=True,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([BOTORCH["mc_samples"]])))
        cand, _ = optimize_acqf(acq_function=acq, bounds=unit, q=min(BOTORCH["q"], ev.left),
                                num_restarts=BOTORCH["num_restarts"], raw_samples=BOTORCH["raw_samples"],
                                options={"batch_limit": 5, "maxiter": 200}, sequential=True)
        Xn = ev.snap(unnormalize(cand.detach(), bounds=bounds).numpy())
        Yn = -ev(Xn)
        train_x = torch.cat([train_x, torch.tensor(np.asarray(Xn, dtype=float), **tkw)])
        train_y = torch.cat([train_y, torch.tensor(Yn, **tkw)])


PEERS: dict[str, Callable[[_Evaluator, int], None]] = {
    "random": _random,
    "nsga2": _nsga2,
    "optuna-tpe": _optuna("tpe"),
    "optuna-gp": _optuna("gp"),
    "botorch": _botorch,
}


def run_peer_full(name: str, box: BlackBox, budget: int, seed: int) -> PeerRun:
    """Run peer ``name`` on ``box`` for exactly ``budget`` true evaluations; the trace of the run."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; choose one of {sorted(PEERS)}")
    if int(budget) != budget or budget < 1:
        raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
    ev = _Evaluator(box, int(budget))
    PEERS[name](ev, int(seed))
    wall = time.perf_counter() - ev.t0
    if ev.n != budget:
        raise RuntimeError(f"peer {name!r} stopped after {ev.n} of {budget} evaluations")
    return PeerRun(name, np.concatenate(ev.X), np.concatenate(ev.F), np.asarray(ev.t), wall)


def run_peer(name: str, box: BlackBox, budget: int, seed: int) -> np.ndarray:
    """The ``(budget, n_obj)`` objectives that peer ``name`` evaluated on ``box``, in evaluation order."""
    return run_peer_full(name, box, budget, seed).F

