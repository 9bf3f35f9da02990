"""The MSuNAS search loop (NSGANetV2, Algorithm 1) on a generic search problem, resumable after any kill.

Flow: design of experiments (``n_doe`` genomes, iteration 0), then ``iterations`` rounds of
fit surrogate(s) on the archive -> NSGA-II on (predicted expensive, exact cheap) objectives seeded with the
archive's front -> drop genomes already in the archive -> subset selection of ``n_iter`` -> evaluate for real.

Files in ``save_dir``:

- ``search.json``: settings, seeds and the fixed HV reference point (atomic writes);
- ``archive.jsonl``: one record per evaluated genome, appended and fsync'd as soon as it is measured;
- ``iter_{k}/candidates.json``: the genomes chosen in iteration k, written *before* they are evaluated, so a
  resumed run finishes the same iteration with the same candidates;
- ``iter_{k}.stats`` (k >= 0; the original has no ``iter_0.stats``): JSON with ``archive``, ``candidates``,
  ``hv``, ``surrogate`` as the original, plus ``iteration``, ``n_evaluations``, ``ref_point``, ``seeds``,
  ``timing``; it is written last, so its presence marks the iteration complete;
- ``iter_{k}/net_{i}.subnet`` / ``.stats`` for problems that write candidate files (NAS), ``failed/it_{k}_net_{i}``
  for failures.

Seeds: every random choice of iteration k comes from generators derived from (seed, k), so a resumed search
re-derives them; they are listed in ``search.json`` and in each ``iter_{k}.stats``.
"""
from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nsganetv2.search import _backend as B
from nsganetv2.atomic import write_json_atomic
from nsganetv2.search.archive import Archive
from nsganetv2.search.problem import EvalResult, SearchProblem, check_problem
from nsganetv2.search.subset import subset_selection

log = logging.getLogger(__name__)

STATE_FILE = "search.json"
ARCHIVE_FILE = "archive.jsonl"
FORMAT_VERSION = 1
SETTINGS = ("n_doe", "iterations", "n_iter", "predictor", "pop_size", "n_gen", "subset_pop", "subset_gen",
            "eval_batch_size", "max_train", "predictor_kwargs")


@dataclass
class SearchResult:
    """What a search produced: successful genomes ``X``, their objectives ``F``, the front mask, HV history."""

    save_dir: Path
    objective_names: tuple[str, ...]
    X: np.ndarray
    F: np.ndarray
    front: np.ndarray
    hv: list[tuple[int, float]] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)

    @property
    def n_evaluations(self) -> int:
        return len(self.records)


def _seeds(seed: int, k: int) -> dict[str, int]:
    """The seeds of iteration k (numpy generator, pymoo, torch/surrogate), derived from (seed, k)."""
    s = np.random.SeedSequence([int(seed), int(k)]).generate_state(3)
    return {"numpy": int(s[0]), "pymoo": int(s[1]) % (2**31 - 1), "torch": int(s[2]) % (2**31 - 1)}


def read_state(save_dir: str | Path) -> dict:
    """The ``search.json`` of a search folder (settings, problem, seeds, reference point)."""
    path = Path(save_dir) / STATE_FILE
    if not path.exists():
        raise ValueError(f"{save_dir} holds no {STATE_FILE}: it is not a search folder")
    try:
        state = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(state, dict) or "problem" not in state:
        raise ValueError(f"{path} is not a search state file (no 'problem' entry)")
    return state


def _check_same_problem(save_dir: Path, recorded: dict, current: dict) -> None:
    """Refuse to continue a search on another problem; ``environment`` (device, torch version) only warns."""
    recorded, current = dict(recorded), dict(current)
    env_rec, env_cur = recorded.pop("environment", None), current.pop("environment", None)
    if "amp" in current and "amp" not in recorded:  # a folder written before precisions were recorded
        log.warning("%s does not record the precision of its evaluations; continuing with --amp %s", save_dir,
                    current["amp"])
        current.pop("amp")
    if recorded != current:
        raise ValueError(f"{save_dir} was searched on problem {recorded}, not {current}; pass the same problem")
    if env_rec is not None and env_cur is not None and env_rec != env_cur:
        log.warning("%s was evaluated on %s; this run evaluates on %s", save_dir, env_rec, env_cur)


def _nan_to_none(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


class _SurrogateProblem:
    """The pymoo problem NSGA-II optimises: surrogate-predicted expensive objectives plus exact cheap ones."""

    def __new__(cls, *a: Any, **kw: Any):  # built lazily so importing this module does not import pymoo
        from pymoo.core.problem import Problem

        class _P(Problem):
            def __init__(self, problem: SearchProblem, models: list) -> None:
                super().__init__(n_var=problem.n_var, n_obj=problem.n_obj, xl=np.asarray(problem.xl, float),
                                 xu=np.asarray(problem.xu, float), vtype=int if problem.vtype == "int" else float)
                self.search_problem, self.models = problem, models
                self.seen_X: list[np.ndarray] = []
                self.seen_F: list[np.ndarray] = []

            def predict(self, X: np.ndarray) -> np.ndarray:
                p = self.search_problem
                Xc = p.canonical(X)
                feats = p.features(Xc)
                pred = np.column_stack([np.ravel(m.predict(feats)) for m in self.models])
                return p.full_objectives(pred, Xc)

            def _evaluate(self, X, out, *args, **kwargs):
                F = self.predict(X)
                self.seen_X.append(np.asarray(X).copy())
                self.seen_F.append(F)
                out["F"] = F

        return _P(*a, **kw)


def _pymoo_operators(problem: SearchProblem):
    from pymoo.core.duplicate import DuplicateElimination
    from pymoo.core.repair import Repair

    class CanonicalRepair(Repair):
        def _do(self, _problem, X, **kwargs):
            Xc = problem.canonical(X)
            return Xc.astype(float) if problem.vtype == "real" else Xc

    def keys(X: np.ndarray) -> list[str]:  # offspring are canonical already (repaired before this runs)
        return [problem.key(x) for x in np.asarray(X).astype(np.int64 if problem.vtype == "int" else float)]

    class KeyDuplicateElimination(DuplicateElimination):
        def _do(self, pop, other, is_duplicate):
            seen = set() if other is None or len(other) == 0 else set(keys(other.get("X")))
            for i, k in enumerate(keys(pop.get("X"))):
                if k in seen:
                    is_duplicate[i] = True
                else:
                    seen.add(k)
            return is_duplicate

    if problem.vtype == "int":
        from pymoo.operators.crossover.pntx import TwoPointCrossover
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair

        crossover = TwoPointCrossover(prob=0.9)
        mutation = PM(prob=1.0, prob_var=1.0 / problem.n_var, eta=1.0, vtype=float, repair=RoundingRepair())
    else:  # the original targets integer genomes; real test problems get pymoo's NSGA-II operators
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM

        crossover = SBX(prob=0.9, eta=15)
        mutation = PM(eta=20)
    return crossover, mutation, CanonicalRepair(), KeyDuplicateElimination()


class MSuNAS:
    """The MSuNAS search on ``problem`` (see module docs). ``run()`` starts it; ``resume()`` continues one.

    ``predictor`` is a surrogate name for ``nsganetv2.surrogate.make_surrogate`` (``rbf``, ``gp``, ``carts``,
    ``mlp``, ``as``), an estimator (cloned per fit) or a factory ``f(random_state) -> estimator``.
    ``ref_point`` fixes the HV reference point; by default it is 1.01 x the per-objective maximum of the
    successful DOE evaluations. ``eval_batch_size`` genomes are passed to ``problem.evaluate_expensive`` at once
    (default: all of an iteration's). ``max_train`` caps the surrogate's training set: beyond it, the best
    non-dominated fronts are kept first, then the most recent records. The original fits on the whole archive,
    which is the same for its budgets (340 evaluations); an exact RBF on 10,000 points costs minutes (an O(n^3)
    solve), hence the default cap of 1,000. None removes the cap.
    """

    def __init__(self, problem: SearchProblem, save_dir: str | Path, n_doe: int = 100, iterations: int = 30,
                 n_iter: int = 8, predictor: Any = "rbf", seed: int = 0, pop_size: int = 40, n_gen: int = 20,
                 subset_pop: int = 100, subset_gen: int = 60, ref_point: Any = None,
                 eval_batch_size: int | None = None, max_train: int | None = 1000,
                 predictor_kwargs: dict | None = None, progress: bool = True) -> None:
        self.problem = check_problem(problem)
        self.save_dir = Path(save_dir)
        for name, v, lo in (("n_doe", n_doe, 1), ("iterations", iterations, 0), ("n_iter", n_iter, 1),
                            ("pop_size", pop_size, 2), ("n_gen", n_gen, 1), ("subset_pop", subset_pop, 2),
                            ("subset_gen", subset_gen, 0)):
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1 or None, got {eval_batch_size}")
        if max_train is not None and max_train < 2:
            raise ValueError(f"max_train must be >= 2 or None, got {max_train}")
        self.n_doe, self.iterations, self.n_iter = int(n_doe), int(iterations), int(n_iter)
        self.predictor = predictor
        self.predictor_kwargs = dict(predictor_kwargs or {})
        self.seed = int(seed)
        self.pop_size, self.n_gen = int(pop_size), int(n_gen)
        self.subset_pop, self.subset_gen = int(subset_pop), int(subset_gen)
        self.eval_batch_size = eval_batch_size
        self.max_train = max_train
        self.progress = progress
        self.ref_point = None if ref_point is None else np.asarray(ref_point, dtype=float).reshape(-1)
        if self.ref_point is not None and len(self.ref_point) != problem.n_obj:
            raise ValueError(f"ref_point needs {problem.n_obj} values (one per objective), got {len(self.ref_point)}")
        self.hv_ideal: np.ndarray | None = None
        self.archive: Archive | None = None
        self._state: dict | None = None
        self._bars: dict[str, Any] = {}

    # ------------------------------------------------------------------ public API
    @classmethod
    def load(cls, save_dir: str | Path, problem: SearchProblem, **overrides: Any) -> "MSuNAS":
        """Rebuild the search recorded in ``save_dir`` (settings, seed, reference point) for ``problem``.

        ``overrides`` may change ``iterations`` (to extend a search), ``progress``, ``eval_batch_size`` and
        ``predictor`` (required again when the original predictor was an object, not a name).
        """
        save_dir = Path(save_dir)
        path = save_dir / STATE_FILE
        if not path.exists():
            raise ValueError(f"{save_dir} holds no {STATE_FILE}: it is not a search folder (start one with run())")
        state = read_state(save_dir)
        _check_same_problem(save_dir, state["problem"], problem.describe())
        allowed = {"iterations", "progress", "eval_batch_size", "predictor"}
        bad = set(overrides) - allowed
        if bad:
            raise ValueError(f"cannot override {sorted(bad)} on resume; only {sorted(allowed)}")
        settings = dict(state["settings"])
        if isinstance(settings.get("predictor"), dict) and "predictor" not in overrides:
            raise ValueError(f"the search used predictor {settings['predictor']['repr']}; pass predictor= again")
        settings.update(overrides)
        self = cls(problem, save_dir, seed=state["seed"], ref_point=state.get("ref_point"), **settings)
        if state.get("hv_ideal") is not None:
            self.hv_ideal = np.asarray(state["hv_ideal"], dtype=float)
        self._state = state
        return self

    @classmethod
    def resume(cls, save_dir: str | Path, problem: SearchProblem, **overrides: Any) -> SearchResult:
        """Continue the search in ``save_dir`` (killed or finished) to its end; nothing recorded is re-evaluated."""
        return cls.load(save_dir, problem, **overrides).run()

    def run(self) -> SearchResult:
        """Run (or, after ``load``, continue) the search; returns the final archive and its front."""
        from tqdm.auto import tqdm

        self._check_budget()
        self._open()
        assert self.archive is not None
        done = [k for k in range(self.iterations + 1) if (self.save_dir / f"iter_{k}.stats").exists()]
        total_evals = self.n_doe + self.iterations * self.n_iter
        self._bars = {
            "iter": tqdm(total=self.iterations, initial=max(0, len(done) - 1), desc="MSuNAS iterations",
                         unit="it", disable=not self.progress, position=0, leave=True),
            "eval": tqdm(total=max(total_evals, len(self.archive)), initial=len(self.archive), desc="evaluations",
                         unit="eval", disable=not self.progress, position=1, leave=True),
        }
        try:
            if not (self.save_dir / "iter_0.stats").exists():
                self._doe()
            for k in range(1, self.iterations + 1):
                if (self.save_dir / f"iter_{k}.stats").exists():
                    continue
                self._iteration(k)
                self._bars["iter"].update(1)
            self._state["status"] = "done"
            self._state["iterations_done"] = self.iterations
            write_json_atomic(self.save_dir / STATE_FILE, self._state, indent=2)
        finally:
            for bar in self._bars.values():
                bar.close()
            self.archive.close()
        return self.result()

    def _check_budget(self) -> None:
        """Refuse, before anything is evaluated, a DOE too small for a surrogate with a linear term (RBF, GP)."""
        if self.iterations == 0 or not isinstance(self.predictor, str) or self.predictor not in ("rbf", "gp"):
            return
        if self.predictor_kwargs.get("tail", "linear") != "linear" or self.predictor_kwargs.get("regr", "linear") != "linear":
            return
        n_features = self.problem.features(self.problem.initial_design(2, np.random.default_rng(0))).shape[1]
        if self.n_doe <= n_features:
            raise ValueError(f"predictor {self.predictor!r} has a linear term and needs more than {n_features} "
                             f"archive entries (one per feature), but n_doe is {self.n_doe}: raise --n_doe above "
                             f"{n_features} or use --predictor carts")

    def result(self) -> SearchResult:
        """The current archive as a ``SearchResult`` (also works on a finished or loaded search)."""
        archive = self.archive if self.archive is not None else Archive(self.save_dir / ARCHIVE_FILE)
        names = tuple(self.problem.objective_names)
        X, F = archive.arrays(names)
        front = B.pareto_mask(F) if len(F) else np.zeros(0, bool)
        hv = []
        for k in range(self.iterations + 1):
            p = self.save_dir / f"iter_{k}.stats"
            if p.exists():
                s = json.loads(p.read_text())
                hv.append((int(s.get("n_evaluations", 0)), float(s["hv"])))
        return SearchResult(self.save_dir, names, X, F, front, hv, list(archive.records))

    # ------------------------------------------------------------------ state
    def _settings(self) -> dict:
        pred = self.predictor if isinstance(self.predictor, str) else {"repr": repr(self.predictor)}
        return {"n_doe": self.n_doe, "iterations": self.iterations, "n_iter": self.n_iter, "predictor": pred,
                "pop_size": self.pop_size, "n_gen": self.n_gen, "subset_pop": self.subset_pop,
                "subset_gen": self.subset_gen, "eval_batch_size": self.eval_batch_size,
                "max_train": self.max_train, "predictor_kwargs": self.predictor_kwargs}

    def _open(self) -> None:
        path = self.save_dir / STATE_FILE
        if self._state is None:
            if path.exists():
                raise ValueError(f"{self.save_dir} already holds a search; continue it with MSuNAS.resume(save_dir, "
                                 "problem) or choose another save_dir")
            self.save_dir.mkdir(parents=True, exist_ok=True)
            import pymoo

            torch = sys.modules.get("torch")
            self._state = {
                "format_version": FORMAT_VERSION,
                "problem": self.problem.describe(),
                "settings": self._settings(),
                "seed": self.seed,
                "seeds": {"rule": "numpy.random.SeedSequence([seed, iteration]).generate_state(3) -> "
                                  "numpy Generator, pymoo seed, torch/surrogate seed (mod 2**31-1)",
                          "iteration_0": _seeds(self.seed, 0)},
                "ref_point": None if self.ref_point is None else self.ref_point.tolist(),
                "hv_ideal": None,
                "status": "running",
                "versions": {"numpy": np.__version__, "pymoo": pymoo.__version__,
                             "torch": getattr(torch, "__version__", None)},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            write_json_atomic(path, self._state, indent=2)
        else:
            self._state["settings"]["iterations"] = self.iterations
            self._state["status"] = "running"
            write_json_atomic(path, self._state, indent=2)
        self.archive = Archive(self.save_dir / ARCHIVE_FILE)

    # ------------------------------------------------------------------ steps
    def _doe(self) -> None:
        t0 = time.perf_counter()
        seeds = _seeds(self.seed, 0)
        cand_path = self.save_dir / "iter_0" / "candidates.json"
        if cand_path.exists():
            X = self._load_candidates(cand_path)[0]
        else:
            rng = np.random.default_rng(seeds["numpy"])
            X = self._unique_new(self.problem.canonical(self.problem.initial_design(self.n_doe, rng)), set())
            tries = 0
            while len(X) < self.n_doe and tries < 100:  # duplicates after canonicalisation: top up by sampling
                more = self.problem.sample(self.n_doe - len(X), rng)
                X = np.concatenate([X, self._unique_new(more, {self.problem.key(x) for x in X})])
                tries += 1
            write_json_atomic(cand_path, {"genomes": X, "predicted": None, "seeds": seeds, "surrogate": None})
        t1 = time.perf_counter()
        self._evaluate(0, X, None)
        t2 = time.perf_counter()
        names = self.problem.objective_names
        _, F0 = self.archive.arrays(names, iterations=(0,))
        if len(F0) == 0:
            errors = {r.get("error") for r in self.archive.records if r["status"] != "ok"}
            raise RuntimeError(f"every DOE evaluation failed, e.g. {sorted(map(str, errors))[:3]}; fix the evaluator "
                               "and start a new search (recorded failures are never re-evaluated)")
        if self.ref_point is None:  # spec bug 10: fixed, from the DOE without failures, recorded
            mx = F0.max(axis=0)
            self.ref_point = mx + 0.01 * np.abs(mx)
            self.ref_point[self.ref_point == 0] = 1e-12
        if self.hv_ideal is None:
            mn = F0.min(axis=0)
            self.hv_ideal = np.where(self.ref_point > 0, np.minimum(0.0, mn), mn)
        self._state["ref_point"] = self.ref_point.tolist()
        self._state["hv_ideal"] = self.hv_ideal.tolist()
        write_json_atomic(self.save_dir / STATE_FILE, self._state, indent=2)
        hv = self._hv()
        self._write_stats(0, X, hv, None, seeds, {"search_s": t1 - t0, "eval_s": t2 - t1})
        n_fail = sum(r["status"] != "ok" for r in self.archive.records if r.get("iteration") == 0)
        log.info("DOE: %d evaluated (%d failed), HV %.4f, ref point %s", len(X), n_fail, hv,
                 np.array2string(self.ref_point, precision=4))

    def _iteration(self, k: int) -> None:
        t0 = time.perf_counter()
        seeds = _seeds(self.seed, k)
        cand_path = self.save_dir / f"iter_{k}" / "candidates.json"
        if cand_path.exists():
            X, pred, sur = self._load_candidates(cand_path)
        else:
            X, pred, sur = self._propose(k, seeds)
            write_json_atomic(cand_path, {"genomes": X, "predicted": pred, "seeds": seeds, "surrogate": sur})
        t1 = time.perf_counter()
        self._evaluate(k, X, pred)
        t2 = time.perf_counter()
        quality = self._quality(X, pred)
        surrogate = dict(sur or {})
        surrogate.update(quality[0] if quality else {"rmse": None, "rho": None, "tau": None})
        if len(self.problem.expensive) > 1:
            names = [self.problem.objective_names[j] for j in self.problem.expensive]
            surrogate["per_objective"] = dict(zip(names, quality))
        hv = self._hv()
        self._write_stats(k, X, hv, surrogate, seeds, {"search_s": t1 - t0, "eval_s": t2 - t1})
        n_fail = sum(self.archive.get(self.problem.key(x))["status"] != "ok" for x in X)
        q = quality[0] if quality else {}
        log.info("iter %d/%d: %d evaluated (%d failed), archive %d, HV %.5f, surrogate rmse %s rho %s tau %s, "
                 "search %.2fs eval %.2fs", k, self.iterations, len(X), n_fail, len(self.archive), hv,
                 _fmt(q.get("rmse")), _fmt(q.get("rho")), _fmt(q.get("tau")), t1 - t0, t2 - t1)

    # ------------------------------------------------------------------ proposal
    def _make_model(self, random_state: int) -> Any:
        p = self.predictor
        if isinstance(p, str):
            return B.make_surrogate(p, random_state=random_state, **self.predictor_kwargs)
        if hasattr(p, "fit") and hasattr(p, "predict"):
            from sklearn.base import clone

            try:
                return clone(p)
            except Exception:  # not a full sklearn estimator: deep-copy it
                import copy

                return copy.deepcopy(p)
        if callable(p):
            return p(random_state)
        raise ValueError(f"predictor must be a surrogate name, an estimator or a factory, got {p!r}")

    def _training_set(self, Xa: np.ndarray, Fa: np.ndarray) -> np.ndarray:
        """Indices of the archive rows used to fit the surrogate (all unless ``max_train`` caps them)."""
        n = len(Xa)
        if self.max_train is None or n <= self.max_train:
            return np.arange(n)
        ranks = B.non_dominated_sort(Fa)
        order = np.lexsort((-np.arange(n), ranks))  # best fronts first, most recent first within a front
        return np.sort(order[: self.max_train])

    def _propose(self, k: int, seeds: dict[str, int]) -> tuple[np.ndarray, list, dict]:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.optimize import minimize

        p = self.problem
        names = p.objective_names
        Xa, Fa = self.archive.arrays(names)
        if len(Xa) < 2:
            raise RuntimeError(f"only {len(Xa)} successful evaluations in the archive; the surrogate needs >= 2")
        Xa = p.canonical(Xa)
        idx = self._training_set(Xa, Fa)
        feats = p.features(Xa[idx])
        if self.predictor in ("mlp", "as") or "torch" in sys.modules:
            import torch

            torch.manual_seed(seeds["torch"])
        models = []
        for j in p.expensive:
            m = self._make_model(seeds["torch"])
            m.fit(feats, Fa[idx, j])
            models.append(m)
        m0 = models[0]
        name = str(getattr(m0, "name", self.predictor if isinstance(self.predictor, str) else type(m0).__name__))
        winner = getattr(m0, "winner_", None) or getattr(m0, "winner", None) or name
        sur = {"model": self.predictor if isinstance(self.predictor, str) else type(m0).__name__, "name": name,
               "winner": str(winner), "n_train": int(len(idx))}

        # NSGA-II on the surrogate, seeded with the archive's front (padded from later fronts up to pop_size)
        ranks = B.non_dominated_sort(Fa)
        order = np.argsort(ranks, kind="stable")
        n_seed = max(int((ranks == 0).sum()), min(self.pop_size, len(order)))
        X0 = Xa[order[:n_seed]]
        sp = _SurrogateProblem(p, models)
        crossover, mutation, repair, dedup = _pymoo_operators(p)
        algo = NSGA2(pop_size=self.pop_size, sampling=X0.astype(float) if p.vtype == "real" else X0,
                     crossover=crossover, mutation=mutation, repair=repair, eliminate_duplicates=dedup,
                     survival=B.RankAndCrowdingSurvival())
        res = minimize(sp, algo, ("n_gen", self.n_gen), seed=seeds["pymoo"], verbose=False)
        pop_X = p.canonical(res.pop.get("X"))

        # drop duplicates and genomes already evaluated, then subset selection
        taken = self.archive.keys()
        cand = self._unique_new(pop_X, taken)
        rng = np.random.default_rng(seeds["numpy"])
        if len(cand):
            Fc = sp.predict(cand)
            cols = list(p.cheap) or list(range(p.n_obj))
            front = Fa[ranks == 0][:, cols]
            chosen = cand[subset_selection(Fc[:, cols], front, self.n_iter, rng, self.subset_pop, self.subset_gen)]
        else:
            chosen = cand
        if len(chosen) < self.n_iter:  # spec bug 16: top up from everything NSGA-II saw, best ranks first
            chosen = self._top_up(chosen, sp, taken, rng)
        pred = sp.predict(chosen)[:, list(p.expensive)] if len(chosen) else np.zeros((0, len(p.expensive)))
        return chosen, pred.tolist(), sur

    def _top_up(self, chosen: np.ndarray, sp: Any, taken: set, rng: np.random.Generator) -> np.ndarray:
        p = self.problem
        used = taken | {p.key(x) for x in chosen}
        seen = p.canonical(np.concatenate(sp.seen_X)) if sp.seen_X else np.zeros((0, p.n_var))
        extra = self._unique_new(seen, used)
        if len(extra):
            r = B.non_dominated_sort(sp.predict(extra))
            extra = extra[np.argsort(r, kind="stable")][: self.n_iter - len(chosen)]
            chosen = np.concatenate([chosen, extra]) if len(chosen) else extra
            used |= {p.key(x) for x in extra}
        tries = 0
        while len(chosen) < self.n_iter and tries < 100:  # still short: random genomes not yet evaluated
            more = self._unique_new(p.sample(self.n_iter - len(chosen), rng), used)
            used |= {p.key(x) for x in more}
            chosen = np.concatenate([chosen, more]) if len(chosen) else more
            tries += 1
        if len(chosen) < self.n_iter:
            log.warning("only %d new genomes could be found for iteration (asked %d)", len(chosen), self.n_iter)
        return chosen

    def _unique_new(self, X: np.ndarray, taken: set) -> np.ndarray:
        """Rows of canonical ``X`` whose key is neither in ``taken`` nor repeated earlier in ``X``."""
        seen, keep = set(taken), []
        for i, x in enumerate(X):
            key = self.problem.key(x)
            if key not in seen:
                seen.add(key)
                keep.append(i)
        return np.asarray(X)[keep]

    # ------------------------------------------------------------------ evaluation
    def _load_candidates(self, path: Path) -> tuple[np.ndarray, list | None, dict | None]:
        d = json.loads(path.read_text())
        X = np.asarray(d["genomes"], dtype=np.int64 if self.problem.vtype == "int" else float)
        if X.size == 0:
            X = X.reshape(0, self.problem.n_var)
        return X, d.get("predicted"), d.get("surrogate")

    def _evaluate(self, k: int, X: np.ndarray, pred: list | None) -> None:
        p = self.problem
        names = p.objective_names
        exp_names = [names[j] for j in p.expensive]
        pending = []
        for i, x in enumerate(X):
            rec = self.archive.get(p.key(x))
            if rec is None:
                pending.append(i)
            elif rec.get("iteration") == k:  # recorded before a kill: make sure its files exist
                self._write_candidate_files(k, i, x, rec, only_missing=True)
        bs = self.eval_batch_size or max(1, len(pending))
        for start in range(0, len(pending), bs):
            batch = pending[start : start + bs]
            Xb = X[batch]
            results = p.evaluate_expensive(Xb)
            ok = [j for j, r in enumerate(results) if r.ok]
            cheap = p.cheap_objectives(Xb[ok]) if ok and p.cheap else None
            recs = []
            for j, (i, x, r) in enumerate(zip(batch, Xb, results)):
                objectives = None
                if r.ok:
                    row = np.empty(p.n_obj)
                    row[list(p.expensive)] = r.values
                    if cheap is not None:
                        row[list(p.cheap)] = cheap[ok.index(j)]
                    objectives = {n: float(v) for n, v in zip(names, row)}
                rec = {"key": p.key(x), "genome": np.asarray(x).tolist(), "config": p.config(x),
                       "objectives": objectives, "stats": r.stats, "iteration": k, "index": i,
                       "status": "ok" if r.ok else "failed", "error": r.error,
                       "predicted": None if pred is None else dict(zip(exp_names, pred[i]))}
                recs.append(rec)
                if not r.ok:
                    log.warning("iteration %d candidate %d failed: %s", k, i, r.error)
            self.archive.extend(recs)  # one fsync per batch
            for i, x, r, rec in zip(batch, Xb, results, recs):
                self._write_candidate_files(k, i, x, rec, result=r)
            if self._bars:
                self._bars["eval"].update(len(batch))

    def _write_candidate_files(self, k: int, i: int, x: np.ndarray, rec: dict, result: EvalResult | None = None,
                               only_missing: bool = False) -> None:
        if result is None:
            result = EvalResult(values=None if rec["status"] != "ok" else [0.0] * len(self.problem.expensive),
                                stats=rec.get("stats") or {}, error=rec.get("error"))
        files = self.problem.candidate_files(x, result)
        for suffix, obj in files.items():
            path = self.save_dir / f"iter_{k}" / f"net_{i}{suffix}"
            if not (only_missing and path.exists()):
                write_json_atomic(path, obj, fsync=False)  # rebuilt from the archive on resume if lost
        if not result.ok:
            path = self.save_dir / "failed" / f"it_{k}_net_{i}"
            if not (only_missing and path.exists()):
                write_json_atomic(path, files.get(".subnet", rec["config"]), fsync=False)

    # ------------------------------------------------------------------ metrics and files
    def _hv(self) -> float:
        _, F = self.archive.arrays(self.problem.objective_names)
        if len(F) == 0:
            return 0.0
        nd = F[B.pareto_mask(F)]
        scale = float(np.prod(self.ref_point - self.hv_ideal))
        return B.hypervolume(nd, self.ref_point) / scale if scale > 0 else 0.0

    def _quality(self, X: np.ndarray, pred: list | None) -> list[dict]:
        """rmse / rho / tau of the predictions of this iteration's successful candidates, per expensive objective."""
        if pred is None or len(X) == 0:
            return []
        p = self.problem
        out = []
        for jj, j in enumerate(p.expensive):
            t, q = [], []
            for i, x in enumerate(X):
                rec = self.archive.get(p.key(x))
                if rec is not None and rec["status"] == "ok":
                    t.append(rec["objectives"][p.objective_names[j]])
                    q.append(pred[i][jj])
            if len(t) >= 2:
                out.append(_nan_to_none({k: float(v) for k, v in B.correlation(np.array(t), np.array(q)).items()}))
            else:
                out.append({"rmse": float(np.sqrt(np.mean((np.array(t) - np.array(q)) ** 2))) if t else None,
                            "rho": None, "tau": None})
        return out

    def _write_stats(self, k: int, X: np.ndarray, hv: float, surrogate: dict | None, seeds: dict,
                     timing: dict) -> None:
        p = self.problem
        names = p.objective_names

        def row(r: dict) -> list:
            return [r["config"], *[r["objectives"][n] for n in names]]

        ok = [r for r in self.archive.records if r["status"] == "ok"]
        keys = {p.key(x) for x in X}
        cands = [r for r in ok if r["key"] in keys]
        stats = {
            "archive": [row(r) for r in ok],
            "candidates": [row(r) for r in cands],
            "hv": float(hv),
            "surrogate": surrogate,
            "iteration": k,
            "objectives": list(names),
            "n_evaluations": len(self.archive),
            "n_failed": len(self.archive) - len(ok),
            "ref_point": self.ref_point.tolist(),
            "seeds": seeds,
            "timing": timing,
        }
        write_json_atomic(self.save_dir / f"iter_{k}.stats", stats)


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.4g}"
