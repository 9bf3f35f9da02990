"""The proposal step of MSuNAS: a function of the archive, the problem and the seeds.

Fit a surrogate per expensive objective on the archive -> NSGA-II on (predicted expensive, exact cheap)
objectives, seeded with the archive's front -> drop genomes already evaluated -> subset selection of ``n_iter``
candidates that fill the gaps of the archive front (topped up from everything NSGA-II saw when short).
"""
from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.operators.crossover.pntx import TwoPointCrossover
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.operators.repair.rounding import RoundingRepair
from pymoo.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

from nsganetv2.moo.pymoo_plugins import RankAndCrowdingSurvival
from nsganetv2.moo.sorting import non_dominated_sort, pareto_mask
from nsganetv2.search.problem import SearchProblem
from nsganetv2.search.subset import hv_contribution_selection, subset_selection
from nsganetv2.surrogate import describe_fitted

__all__ = ["SELECTIONS", "Proposal", "SurrogateProblem", "initial_design", "propose", "training_set", "unique_new"]

SELECTIONS = ("gaps", "hv")  # the original's subset selection; greedy predicted-hypervolume infill


@dataclass
class Proposal:
    """Genomes to evaluate, their predicted expensive objectives, and what the surrogate was."""

    X: np.ndarray
    predicted: list
    surrogate: dict
    archive_fit: dict | None = None  # {"true", "pred"}: the successful archive and the fitted surrogate's predictions


class SurrogateProblem(Problem):
    """The pymoo problem NSGA-II optimises: surrogate-predicted expensive objectives plus exact cheap ones."""

    def __init__(self, problem: SearchProblem, models: list) -> None:
        super().__init__(n_var=problem.n_var, n_obj=problem.n_obj, xl=np.asarray(problem.xl, float),
                         xu=np.asarray(problem.xu, float), vtype=int if problem.vtype == "int" else float)
        self.search_problem, self.models = problem, models
        self.seen_X: list[np.ndarray] = []

    def predict(self, X: np.ndarray, optimism: float = 0.0) -> np.ndarray:
        """All objectives of ``X``: the surrogates' predictions of the expensive ones (lowered by ``optimism``
        standard deviations when > 0: the lower confidence bound), the cheap ones exactly."""
        p = self.search_problem
        Xc = p.canonical(X)
        feats = p.features(Xc)
        if optimism > 0:
            cols = []
            for m in self.models:
                mean, std = m.predict(feats, return_std=True)
                cols.append(np.ravel(mean) - optimism * np.ravel(std))
            pred = np.column_stack(cols)
        else:
            pred = np.column_stack([np.ravel(m.predict(feats)) for m in self.models])
        return p.full_objectives(pred, Xc)

    def _evaluate(self, X, out, *args, **kwargs):
        out["F"] = self.predict(X)
        self.seen_X.append(np.asarray(X).copy())


class CanonicalRepair(Repair):
    """Offspring in the problem's canonical form (so duplicates are recognised)."""

    def __init__(self, problem: SearchProblem) -> None:
        super().__init__()
        self.search_problem = problem

    def _do(self, _problem, X, **kwargs):
        Xc = self.search_problem.canonical(X)
        return Xc.astype(float) if self.search_problem.vtype == "real" else Xc


class KeyDuplicateElimination(DuplicateElimination):
    """Duplicates by the problem's key of the canonical genome (offspring are repaired before this runs)."""

    def __init__(self, problem: SearchProblem) -> None:
        super().__init__()
        self.search_problem = problem

    def _keys(self, X: np.ndarray) -> list[str]:
        p = self.search_problem
        return [p.key(x) for x in np.asarray(X).astype(np.int64 if p.vtype == "int" else float)]

    def _do(self, pop, other, is_duplicate):
        seen = set() if other is None or len(other) == 0 else set(self._keys(other.get("X")))
        for i, k in enumerate(self._keys(pop.get("X"))):
            if k in seen:
                is_duplicate[i] = True
            else:
                seen.add(k)
        return is_duplicate


def operators(problem: SearchProblem) -> tuple:
    """(crossover, mutation, repair, duplicate elimination): the original's for integer genomes, pymoo's NSGA-II
    operators for real-valued test problems."""
    if problem.vtype == "int":
        crossover = TwoPointCrossover(prob=0.9)
        mutation = PM(prob=1.0, prob_var=1.0 / problem.n_var, eta=1.0, vtype=float, repair=RoundingRepair())
    else:
        crossover, mutation = SBX(prob=0.9, eta=15), PM(eta=20)
    return crossover, mutation, CanonicalRepair(problem), KeyDuplicateElimination(problem)


def unique_new(problem: SearchProblem, X: np.ndarray, taken: set) -> np.ndarray:
    """Rows of canonical ``X`` whose key is neither in ``taken`` nor repeated earlier in ``X``."""
    seen, keep = set(taken), []
    for i, x in enumerate(X):
        key = problem.key(x)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return np.asarray(X)[keep]


def initial_design(problem: SearchProblem, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct canonical genomes: the problem's design, topped up by sampling after duplicates."""
    X = unique_new(problem, problem.canonical(problem.initial_design(n, rng)), set())
    tries = 0
    while len(X) < n and tries < 100:
        more = problem.sample(n - len(X), rng)
        X = np.concatenate([X, unique_new(problem, more, {problem.key(x) for x in X})])
        tries += 1
    return X


def training_set(F: np.ndarray, max_train: int | None) -> np.ndarray:
    """Indices of the archive rows to fit on: all, or beyond ``max_train`` the best fronts first, then the most
    recent records."""
    n = len(F)
    if max_train is None or n <= max_train:
        return np.arange(n)
    ranks = non_dominated_sort(F)
    order = np.lexsort((-np.arange(n), ranks))
    return np.sort(order[:max_train])


def propose(problem: SearchProblem, Xa: np.ndarray, Fa: np.ndarray, taken: set, n_iter: int,
            make_model: Callable[[int], Any], seeds: dict[str, int], pop_size: int = 40, n_gen: int = 20,
            subset_pop: int = 100, subset_gen: int = 60, max_train: int | None = 1000, model_label: str = "",
            seed_torch: bool = False, selection: str = "gaps", optimism: float = 0.0) -> Proposal:
    """The next ``n_iter`` genomes for the archive ``(Xa, Fa)`` (successful records; ``taken`` holds every recorded
    key, failures included). ``make_model(random_state)`` builds an unfitted surrogate; torch's generator is seeded
    first when the surrogate uses torch (``seed_torch``) or torch is loaded."""
    p = problem
    if len(Xa) < 2:
        raise RuntimeError(f"only {len(Xa)} successful evaluations in the archive; the surrogate needs >= 2")
    Xa = p.canonical(Xa)
    idx = training_set(Fa, max_train)
    feats = p.features(Xa[idx])
    if seed_torch or "torch" in sys.modules:
        import torch

        torch.manual_seed(seeds["torch"])
    models = []
    for j in p.expensive:
        m = make_model(seeds["torch"])
        with warnings.catch_warnings(record=True) as caught:  # once per fit in the log, not once per fold
            warnings.simplefilter("always", ConvergenceWarning)
            m.fit(feats, Fa[idx, j])
        if caught:
            logging.getLogger(__name__).info("surrogate fit for %s: %s%s", p.objective_names[j],
                                             str(caught[0].message).splitlines()[0],
                                             f" (and {len(caught) - 1} more)" if len(caught) > 1 else "")
        models.append(m)
    surrogate = {"model": model_label or type(models[0]).__name__, **describe_fitted(models[0]),
                 "n_train": int(len(idx))}
    # the fitted surrogate on the records it was trained on (the whole archive up to max_train), in-sample: the
    # original's quality measure stacks these with the candidates' once they are evaluated
    archive_fit = {"true": Fa[np.ix_(idx, list(p.expensive))].tolist(),
                   "pred": np.column_stack([np.ravel(m.predict(feats)) for m in models]).tolist()}

    # NSGA-II on the surrogate, seeded with the archive's front (padded from later fronts up to pop_size)
    ranks = non_dominated_sort(Fa)
    order = np.argsort(ranks, kind="stable")
    X0 = Xa[order[:max(int((ranks == 0).sum()), min(pop_size, len(order)))]]
    sp = SurrogateProblem(p, models)
    crossover, mutation, repair, dedup = operators(p)
    algo = NSGA2(pop_size=pop_size, sampling=X0.astype(float) if p.vtype == "real" else X0, crossover=crossover,
                 mutation=mutation, repair=repair, eliminate_duplicates=dedup, survival=RankAndCrowdingSurvival())
    # a fresh algorithm: no deep copy (the problem's caches, e.g. of every archive genome's FLOPs, would be copied)
    res = minimize(sp, algo, ("n_gen", n_gen), seed=seeds["pymoo"], verbose=False, copy_algorithm=False)

    # drop duplicates and genomes already evaluated, then the batch: hv infill or the original's subset selection
    rng = np.random.default_rng(seeds["numpy"])
    if selection == "hv":
        chosen = _hv_infill(p, sp, Fa[ranks == 0], taken, n_iter, optimism)
    else:
        chosen = unique_new(p, p.canonical(res.pop.get("X")), taken)
        if len(chosen):
            cols = list(p.cheap) or list(range(p.n_obj))
            front = Fa[ranks == 0][:, cols]
            chosen = chosen[subset_selection(sp.predict(chosen)[:, cols], front, n_iter, rng, subset_pop, subset_gen)]
    if len(chosen) < n_iter:
        chosen = _top_up(p, chosen, sp, taken, rng, n_iter)
    pred = sp.predict(chosen)[:, list(p.expensive)] if len(chosen) else np.zeros((0, len(p.expensive)))
    return Proposal(chosen, pred.tolist(), surrogate, archive_fit)


def _hv_infill(p: SearchProblem, sp: SurrogateProblem, front: np.ndarray, taken: set, n_iter: int,
               optimism: float = 0.0) -> np.ndarray:
    """The batch that adds the most predicted hypervolume to the archive's front, from the predicted non-dominated
    genomes among everything NSGA-II saw on the surrogate (predicted optimistically with ``optimism`` > 0)."""
    seen = p.canonical(np.concatenate(sp.seen_X))
    pool = unique_new(p, seen, taken)
    if not len(pool):
        return pool
    F = sp.predict(pool, optimism)
    pool, F = pool[pareto_mask(F)], F[pareto_mask(F)]
    return pool[hv_contribution_selection(F, front, n_iter, stop_without_gain=True)]


def _top_up(p: SearchProblem, chosen: np.ndarray, sp: SurrogateProblem, taken: set, rng: np.random.Generator,
            n_iter: int) -> np.ndarray:
    """Too few new genomes: add the best-ranked of everything NSGA-II saw, then random ones not yet evaluated."""
    used = taken | {p.key(x) for x in chosen}
    seen = p.canonical(np.concatenate(sp.seen_X)) if sp.seen_X else np.zeros((0, p.n_var))
    extra = unique_new(p, seen, used)
    if len(extra):
        r = non_dominated_sort(sp.predict(extra))
        extra = extra[np.argsort(r, kind="stable")][: n_iter - len(chosen)]
        chosen = np.concatenate([chosen, extra]) if len(chosen) else extra
        used |= {p.key(x) for x in extra}
    tries = 0
    while len(chosen) < n_iter and tries < 100:
        more = unique_new(p, p.sample(n_iter - len(chosen), rng), used)
        used |= {p.key(x) for x in more}
        chosen = np.concatenate([chosen, more]) if len(chosen) else more
        tries += 1
    if len(chosen) < n_iter:
        logging.getLogger(__name__).warning("only %d new genomes could be found (asked %d)", len(chosen), n_iter)
    return chosen
