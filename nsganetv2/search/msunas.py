"""The MSuNAS search loop (NSGANetV2, Algorithm 1) on a generic search problem, with ask/tell, resumable after any kill.

Flow: design of experiments (``n_doe`` genomes, iteration 0), then ``iterations`` rounds of
:func:`~nsganetv2.search.proposal.propose` (surrogate, NSGA-II on it, subset selection) -> evaluate for real.
``run()`` evaluates through the problem; ``ask()`` / ``tell()`` let the caller evaluate with their own code,
cluster or scheduler, with the same files, resume and reports. Files: see :mod:`nsganetv2.search.folder`.

Seeds: every random choice of iteration k comes from generators derived from (seed, k), so a resumed search
re-derives them; they are listed in ``search.json`` and in each ``iter_{k}.stats``.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pymoo
from sklearn.base import clone

from nsganetv2.atomic import RawJSON, dumps
from nsganetv2.evaluation.objectives import column_name
from nsganetv2.moo.hypervolume import normalised_hypervolume
from nsganetv2.moo.sorting import pareto_mask
from nsganetv2.search.archive import Archive, ArchiveColumns
from nsganetv2.search.folder import ARCHIVE_FILE, STATE_FILE, RunFolder, read_state
from nsganetv2.search.problem import EvalResult, SearchProblem, check_problem
from nsganetv2.search.proposal import SELECTIONS, initial_design, propose
from nsganetv2.surrogate import get_surrogate, make_surrogate
from nsganetv2.surrogate.metrics import correlation

log = logging.getLogger(__name__)

__all__ = ["ARCHIVE_FILE", "STATE_FILE", "Asked", "IterationInfo", "MSuNAS", "SearchResult", "SetupError",
           "read_state"]

FORMAT_VERSION = 1
RESUME_OVERRIDES = ("iterations", "progress", "eval_batch_size", "predictor", "retry_failed", "callbacks")


class SetupError(ValueError):
    """The search's setup is wrong (the first evaluation failed before anything was recorded)."""


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

    @classmethod
    def load(cls, save_dir: str | Path) -> SearchResult:
        """The archive of the search in ``save_dir`` (finished or not), without rebuilding its problem."""
        folder = RunFolder(save_dir)
        state = folder.read_state()
        return cls.of(folder, tuple(state["problem"]["objectives"]), folder.open_archive(),
                      int(state["settings"]["iterations"]))

    @classmethod
    def of(cls, folder: RunFolder, names: tuple[str, ...], archive: Archive, iterations: int) -> SearchResult:
        """The result held by ``archive`` and the ``iter_k.stats`` (k = 0..iterations) of ``folder``."""
        X, F = archive.arrays(names)
        front = pareto_mask(F) if len(F) else np.zeros(0, bool)
        hv = []
        for k in range(iterations + 1):
            if folder.is_done(k):
                s = folder.read_stats(k)
                hv.append((int(s.get("n_evaluations", 0)), float(s["hv"])))
        return cls(folder.path, names, X, F, front, hv, list(archive.records))

    @property
    def columns(self) -> list[str]:
        """The table's columns: iteration, index, status, each objective (``top1_err``: the error), error, config,
        key."""
        return ["iteration", "index", "status", *map(column_name, self.objective_names), "error", "config", "key"]

    def rows(self) -> list[dict]:
        """One dict per evaluated genome (failures included), keyed by :attr:`columns`."""
        rows = []
        for r in self.records:
            row = {"iteration": r.get("iteration"), "index": r.get("index"), "status": r["status"]}
            row.update({column_name(n): (r.get("objectives") or {}).get(n) for n in self.objective_names})
            row.update({"error": r.get("error"), "config": r.get("config"), "key": r["key"]})
            rows.append(row)
        return rows

    def to_dataframe(self):
        """One row per evaluated genome (failures included): iteration, index, status, each objective, error,
        config and key. Needs pandas (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas (or use .X, .F and .records)") from None
        return pd.DataFrame(self.rows(), columns=self.columns)

    def to_csv(self, path: str | Path) -> Path:
        """Write the table of :meth:`to_dataframe` as CSV (no pandas needed; config as JSON, a failure's objectives
        empty) atomically to ``path``."""
        import csv
        import io

        from nsganetv2.atomic import atomic_write

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            row["config"] = json.dumps(row["config"], sort_keys=True) if row["config"] is not None else None
            writer.writerow(row)
        return Path(atomic_write(path, buf.getvalue().encode(), fsync=False))


@dataclass(frozen=True)
class IterationInfo:
    """What a search callback gets when an iteration completes (iteration 0 is the DOE).

    ``surrogate`` holds the accuracy of this iteration's predictions (``rmse``, ``rho``, ``tau``, the surrogate's
    description; ``None`` for the DOE); ``timing`` the seconds spent proposing (``search_s``) and evaluating
    (``eval_s``); ``front`` the objectives of the archive's non-dominated records (minimised; top1 as error).
    """

    iteration: int
    iterations: int
    n_evaluated: int
    n_failed: int
    archive_size: int
    hv: float
    surrogate: dict | None
    timing: dict
    front: np.ndarray
    objective_names: tuple[str, ...]
    save_dir: Path
    settings: dict

    def metrics(self) -> dict[str, float]:
        """The numbers to track per iteration, flat: hv, archive size, evaluations and failures of the iteration,
        front size, timing, and the surrogate's rmse / rho / tau when it has them."""
        out = {"hv": self.hv, "archive_size": self.archive_size, "n_evaluated": self.n_evaluated,
               "n_failed": self.n_failed, "front_size": len(self.front)}
        out.update({k: float(v) for k, v in self.timing.items() if isinstance(v, (int, float))})
        for k in ("rmse", "rho", "tau"):
            v = (self.surrogate or {}).get(k)
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[f"surrogate_{k}"] = float(v)
        return {k: float(v) for k, v in out.items()}


Callback = Callable[[IterationInfo], Any]


@dataclass
class Asked:
    """A batch to evaluate: genomes ``X`` (canonical), their phenotypes ``configs`` (``problem.config``, e.g. an
    architecture dict for NAS), the ``iteration`` they belong to and their ``index`` in it."""

    iteration: int
    X: np.ndarray
    configs: list
    index: list[int]

    def __len__(self) -> int:
        return len(self.X)


def _seeds(seed: int, k: int) -> dict[str, int]:
    """The seeds of iteration k (numpy generator, pymoo, torch/surrogate), derived from (seed, k)."""
    s = np.random.SeedSequence([int(seed), int(k)]).generate_state(3)
    return {"numpy": int(s[0]), "pymoo": int(s[1]) % (2**31 - 1), "torch": int(s[2]) % (2**31 - 1)}


def _nan_to_none(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _check_same_problem(save_dir: Path, recorded: dict, current: dict) -> None:
    """Refuse to continue a search whose problem or evaluation settings differ, naming the setting; ``environment``
    (device type, torch version) only warns, and settings a folder predates are taken from this run with a warning."""
    recorded, current = dict(recorded), dict(current)
    env_rec, env_cur = recorded.pop("environment", None), current.pop("environment", None)
    if any(recorded.get(k) != current.get(k) for k in ("name", "n_var", "vtype", "expensive")):
        raise ValueError(f"{save_dir} was searched on problem {recorded.get('name')!r} ({recorded}), not "
                         f"{current.get('name')!r}; pass the same problem")
    flat_rec = {**{k: v for k, v in recorded.items() if k != "evaluation"}, **(recorded.get("evaluation") or {})}
    flat_cur = {**{k: v for k, v in current.items() if k != "evaluation"}, **(current.get("evaluation") or {})}
    for key in sorted(set(flat_rec) | set(flat_cur)):
        if key not in flat_rec:  # a folder written before this setting was recorded
            log.warning("%s does not record %s; continuing with %s=%r", save_dir, key, key, flat_cur[key])
        elif key not in flat_cur or flat_rec[key] != flat_cur[key]:
            flag = {"supernet_sha256": "--supernet_path (the file's content)", "objectives": "--objectives"}.get(
                key, f"--{key}")
            raise ValueError(f"{save_dir} was searched with {key}={flat_rec[key]!r} but this run has "
                             f"{key}={flat_cur.get(key)!r}: resume with the recorded {flag}, or start a new search "
                             "in another folder")
    if env_rec is not None and env_cur is not None and env_rec != env_cur:
        log.warning("%s was evaluated on %s; this run evaluates on %s", save_dir, env_rec, env_cur)


class MSuNAS:
    """The MSuNAS search on ``problem``: ``run()`` (or ``ask()``/``tell()``) starts it; ``load()`` continues one.

    ``predictor`` is a surrogate name for ``nsganetv2.surrogate.make_surrogate`` (``rbf``, ``gp``, ``carts``,
    ``mlp``, ``as``), an estimator (cloned per fit) or a factory ``f(random_state) -> estimator``.
    ``ref_point`` fixes the HV reference point; by default it is 1.01 x the per-objective maximum of the
    successful DOE evaluations. ``eval_batch_size`` genomes are passed to ``problem.evaluate_expensive`` at once
    by ``run()`` (default: all of an iteration's). ``max_train`` caps the surrogate's training set: beyond it, the
    best non-dominated fronts are kept first, then the most recent records. The original fits on the whole archive,
    which is the same for its budgets (340 evaluations); an exact RBF solve is cubic in the archive size, hence the
    default cap of 1,000. None removes the cap. ``retry_failed`` (on resume) evaluates again the failed records of
    the unfinished iteration, e.g. a DOE that failed for a wrong setting.

    ``callbacks`` are called with an :class:`IterationInfo` each time an iteration completes in this process (after
    its ``iter_{k}.stats`` is written; iterations completed before a resume are not reported again). They are not
    recorded in ``search.json``; one that raises is logged and the search goes on.

    Before anything is recorded, ``run()`` evaluates the first genome alone (for NAS the smallest network): if it
    fails, the setup is wrong (data, checkpoint, device, precision, table), and ``SetupError`` is raised with nothing
    recorded, so a bad setting never poisons the folder.
    """

    def __init__(self, problem: SearchProblem, save_dir: str | Path, n_doe: int = 100, iterations: int = 30,
                 n_iter: int = 8, predictor: Any = "rbf", seed: int = 0, pop_size: int = 40, n_gen: int = 20,
                 subset_pop: int = 100, subset_gen: int = 60, ref_point: Any = None,
                 eval_batch_size: int | None = None, max_train: int | None = 1000,
                 predictor_kwargs: dict | None = None, progress: bool = True, retry_failed: bool = False,
                 callbacks: Sequence[Callback] | None = None, selection: str = "hv",
                 optimism: float = 0.0) -> None:
        self.problem = check_problem(problem)
        self.folder = RunFolder(save_dir)
        for name, v, lo in (("n_doe", n_doe, 1), ("iterations", iterations, 0), ("n_iter", n_iter, 1),
                            ("pop_size", pop_size, 2), ("n_gen", n_gen, 1), ("subset_pop", subset_pop, 2),
                            ("subset_gen", subset_gen, 0)):
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        if eval_batch_size is not None and eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1 or None, got {eval_batch_size}")
        if max_train is not None and max_train < 2:
            raise ValueError(f"max_train must be >= 2 or None, got {max_train}")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        self.selection = selection
        if not (isinstance(optimism, (int, float)) and math.isfinite(optimism) and optimism >= 0):
            raise ValueError(f"optimism must be a number >= 0 (standard deviations), got {optimism!r}")
        self.optimism = float(optimism)
        self.n_doe, self.iterations, self.n_iter = int(n_doe), int(iterations), int(n_iter)
        self.predictor = predictor
        self.predictor_kwargs = dict(predictor_kwargs or {})
        self.seed = int(seed)
        self.pop_size, self.n_gen = int(pop_size), int(n_gen)
        self.subset_pop, self.subset_gen = int(subset_pop), int(subset_gen)
        self.eval_batch_size = eval_batch_size
        self.max_train = max_train
        self.progress = progress
        self.retry_failed = bool(retry_failed)
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not callable(cb):
                raise ValueError(f"callbacks must be callables taking an IterationInfo, got {cb!r}")
        self._retry: set[str] = set()  # failed records being evaluated again (retry_failed)
        self.ref_point = None if ref_point is None else np.asarray(ref_point, dtype=float).reshape(-1)
        if self.ref_point is not None and len(self.ref_point) != problem.n_obj:
            raise ValueError(f"ref_point needs {problem.n_obj} values (one per objective), got {len(self.ref_point)}")
        self.hv_ideal: np.ndarray | None = None
        self.archive: Archive | None = None
        self._state: dict | None = None
        self._pending: dict[int, tuple] = {}  # iteration -> (X, predicted, surrogate, search seconds, ready time)
        self._where: dict[str, tuple[int, int]] = {}  # key of a pending genome -> (iteration, index)
        self._left: dict[int, set[str]] = {}  # iteration -> keys of its genomes not recorded yet
        self._stats_rows: dict[str, str] = {}  # key -> the record's row of iter_k.stats, as JSON
        self._bars: dict[str, Any] = {}

    @property
    def save_dir(self) -> Path:
        return self.folder.path

    # ------------------------------------------------------------------ public API
    @classmethod
    def load(cls, save_dir: str | Path, problem: SearchProblem, **overrides: Any) -> MSuNAS:
        """Rebuild the search recorded in ``save_dir`` (settings, seed, reference point) for ``problem``.

        ``overrides`` may change ``iterations`` (to extend a search), ``progress``, ``eval_batch_size`` and
        ``predictor`` (required again when the original predictor was an object, not a name).
        """
        save_dir = Path(save_dir)
        state = read_state(save_dir)
        _check_same_problem(save_dir, state["problem"], problem.describe())
        bad = set(overrides) - set(RESUME_OVERRIDES)
        if bad:
            raise ValueError(f"cannot override {sorted(bad)} on resume; only {list(RESUME_OVERRIDES)}")
        settings = dict(state["settings"])
        settings.setdefault("selection", "gaps")  # searches recorded before hv became the default used gaps
        settings.setdefault("optimism", 0.0)
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
        """Run (or, after ``load``, continue) the search, evaluating through the problem; returns the archive."""
        from tqdm.auto import tqdm

        self._open()
        assert self.archive is not None
        done = sum(self.folder.is_done(k) for k in range(self.iterations + 1))
        total = self.n_doe + self.iterations * self.n_iter
        self._bars = {
            "iter": tqdm(total=self.iterations, initial=max(0, done - 1), desc="MSuNAS iterations", unit="it",
                         disable=not self.progress, position=0, leave=True),
            "eval": tqdm(total=max(total, len(self.archive)), initial=len(self.archive), desc="evaluations",
                         unit="eval", disable=not self.progress, position=1, leave=True),
        }
        try:
            self._probe()
            while (asked := self.ask()) is not None:
                bs = self.eval_batch_size or max(1, len(asked))
                for start in range(0, len(asked), bs):
                    Xb = asked.X[start:start + bs]
                    # each result is recorded as it arrives: a kill loses only the evaluations in flight
                    results = self.problem.evaluate_stream(Xb, lambda i, r, Xb=Xb: self.tell(Xb[i:i + 1], [r]))
                    self.tell(Xb, results)  # anything a problem did not stream (already recorded ones are skipped)
        finally:
            for bar in self._bars.values():
                bar.close()
            self._bars = {}
            self.close()
        return self.result()

    def _probe(self) -> None:
        """With nothing recorded yet, evaluate the first genome alone: a failure there is the setup's, and is raised
        as ``SetupError`` without recording anything."""
        if self.archive.ok() or (asked := self.ask()) is None:
            return
        x = asked.X[:1]
        r = self.problem.evaluate_expensive(x)[0]
        if not r.ok:
            raise SetupError(f"the first evaluation failed before anything was recorded, so a setting is most likely "
                             f"wrong (data, checkpoint, device, precision, latency table): {r.error}; nothing was "
                             "recorded: fix it and run the same command again")
        self.tell(x, [r])

    def ask(self) -> Asked | None:
        """The next genomes to evaluate (the DOE, then each iteration's candidates), or ``None`` when the search is
        finished. Genomes already recorded are left out; asking again before telling returns the same genomes."""
        self._open()
        assert self.archive is not None and self._state is not None
        while True:
            k = self._current()
            if k is None:
                self._finish()
                return None
            X = self._candidates(k)[0]
            index = [i for i, x in enumerate(X) if not self._recorded(self.problem.key(x))]
            if not index:
                self._complete(k)
                continue
            for i in range(len(X)):
                if i not in index:  # recorded before a kill: make sure its files exist
                    self._write_candidate_files(k, i, X[i], self.archive.get(self.problem.key(X[i])), True)
            Xp = X[index]
            return Asked(k, Xp, [self.problem.config(x) for x in Xp], index)

    def tell(self, X: Any, results: Sequence[Any]) -> None:
        """Record the measured results of asked genomes (any subset, in any order), durably before it returns (one
        sync for all the results of a call: tell a batch at once rather than one by one when results come together).

        ``results`` holds one item per genome: whatever ``problem.to_result`` accepts (an ``EvalResult``, the
        expensive objective values, an exception or error text for a failure; for NAS a stats dict with
        ``"top1"``). When the last genome of an iteration is recorded, the iteration is completed (its stats file
        written) and the next ``ask()`` proposes new candidates.
        """
        self._open()
        p = self.problem
        X = p.canonical(np.atleast_2d(np.asarray(X)))
        results = list(results)
        if len(results) != len(X):
            raise ValueError(f"tell() got {len(results)} results for {len(X)} genomes; give one per genome")
        keys = [p.key(x) for x in X]
        new = [j for j, key in enumerate(keys) if not self._recorded(key)]  # recorded ones are not told twice
        if not new:
            return
        X, results, keys = X[new], [results[j] for j in new], [keys[j] for j in new]
        if (k := self._current()) is not None:
            self._candidates(k)  # after a restart, tell() may come before ask(): the same candidates
        where = self._where
        unknown = [p.config(x) for x, key in zip(X, keys) if key not in where]
        if unknown:
            raise ValueError(f"tell() got genomes that were not asked (or belong to a finished iteration): "
                             f"{unknown[:2]}; tell only what ask() returned")
        res = p.results(X, results)
        ok = [j for j, r in enumerate(res) if r.ok]
        cheap = p.cheap_objectives(X[ok]) if ok and p.cheap else None
        if cheap is not None:  # a cheap objective that is not a number fails its record, with the reason
            for row, j in zip(cheap, list(ok)):
                if not np.all(np.isfinite(row)):
                    names = [f"{p.objective_names[c]}={v}" for c, v in zip(p.cheap, row)]
                    res[j] = EvalResult.failure(f"non-finite cheap objective ({', '.join(names)})", res[j].stats)
            keep = [k for k, j in enumerate(ok) if res[j].ok]
            ok, cheap = [ok[k] for k in keep], cheap[keep]
        cheap_row = {} if cheap is None else dict(zip(ok, cheap))
        told = []  # (key, iteration, index, genome, result, record)
        for j, (x, key, r) in enumerate(zip(X, keys, res)):
            k, i = where[key]
            pred = self._pending[k][1]
            rec = self._record(k, i, x, r, cheap_row.get(j), None if pred is None else pred[i])
            told.append((key, k, i, x, r, rec))
        added = set()  # fsync'd once for the call (twice with retried failures): a kill loses nothing told before
        for retry in (False, True):
            group = [t[5] for t in told if (t[0] in self._retry) == retry]
            added.update(id(rec) for rec in (self.archive.add(group, replace_failed=retry) if group else ()))
        touched = set()
        for key, k, i, x, r, rec in told:
            if id(rec) in added:
                self._retry.discard(key)
                self._write_candidate_files(k, i, x, rec, False, r)
            if self._recorded(key):
                self._left[k].discard(key)
            touched.add(k)
        if self._bars and added:
            self._bars["eval"].update(len(added))
        for k in sorted(touched):
            if not self._left[k]:
                self._complete(k)

    def _recorded(self, key: str) -> bool:
        return key in self.archive and key not in self._retry

    def close(self) -> None:
        """Release the archive file (``run()`` does this itself)."""
        if self.archive is not None:
            self.archive.close()
            self.archive = None

    def result(self) -> SearchResult:
        """The current archive as a ``SearchResult`` (also works on a finished or loaded search)."""
        archive = self.archive if self.archive is not None else self.folder.open_archive()
        return SearchResult.of(self.folder, tuple(self.problem.objective_names), archive, self.iterations)

    # ------------------------------------------------------------------ state
    def _settings(self) -> dict:
        pred = self.predictor if isinstance(self.predictor, str) else {"repr": repr(self.predictor)}
        return {"n_doe": self.n_doe, "iterations": self.iterations, "n_iter": self.n_iter, "predictor": pred,
                "pop_size": self.pop_size, "n_gen": self.n_gen, "subset_pop": self.subset_pop,
                "subset_gen": self.subset_gen, "eval_batch_size": self.eval_batch_size,
                "max_train": self.max_train, "predictor_kwargs": self.predictor_kwargs, "selection": self.selection,
                "optimism": self.optimism}

    def _open(self) -> None:
        if self.archive is not None:
            return
        if self._state is None:
            self.check()
            self.save_dir.mkdir(parents=True, exist_ok=True)
            import sys

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
        else:
            self._check_budget()
            self._state["settings"]["iterations"] = self.iterations
            self._state["status"] = "running"
            self.folder.clean()
        self.folder.write_state(self._state)
        self.archive = self.folder.open_archive(repair=True)
        self._recover_lost_records()
        if self.retry_failed and (k := self._current()) is not None:
            self._retry = {r["key"] for r in self.archive.records if r["status"] != "ok" and r.get("iteration") == k}
            if self._retry:
                log.info("evaluating again %d failed record(s) of iteration %d", len(self._retry), k)

    def _recover_lost_records(self) -> None:
        """A completed iteration whose record is missing from the archive (a torn or garbled line): rebuild the
        record from ``iter_k.stats`` and ``iter_k/net_i.stats`` (or ``failed/``), so the archive never shrinks."""
        p, names = self.problem, self.problem.objective_names
        it = self.archive.columns(names).iteration
        per_iteration = np.bincount(it[it >= 0]) if len(it) else np.zeros(0, int)
        k = 0
        while self.folder.is_done(k):
            loaded = self.folder.load_candidates(k, p.n_var, p.vtype == "int")
            if loaded is None or (k < len(per_iteration) and per_iteration[k] >= len(loaded[0])):
                k += 1  # as many records of iteration k as candidates: none is missing (keys not computed)
                continue
            missing = [(i, x) for i, x in enumerate(loaded[0]) if p.key(x) not in self.archive]
            if missing:
                stats = self.folder.read_stats(k)
                rows = {json.dumps(row[0], sort_keys=True): row[1:] for row in stats.get("archive", [])}
                for i, x in missing:
                    values = rows.get(json.dumps(p.config(x), sort_keys=True))
                    extra = self.folder.read_candidate_stats(k, i)
                    if values is not None and len(values) == len(names):
                        r = EvalResult(values=[values[j] for j in p.expensive], stats=extra)
                        cheap = np.array([values[j] for j in p.cheap]) if p.cheap else None
                    elif self.folder.failed_path(k, i).exists():
                        r, cheap = EvalResult.failure("failed (its error text was lost with the archive line)"), None
                    else:
                        log.warning("%s: the record of iteration %d candidate %d is lost and nothing holds it; it is "
                                    "not in the archive", self.save_dir, k, i)
                        continue
                    rec = self._record(k, i, x, r, cheap, None)
                    rec["recovered"] = True
                    self.archive.append(rec)
                    log.warning("%s: recovered the record of iteration %d candidate %d from its files",
                                self.save_dir, k, i)
            k += 1

    def _current(self) -> int | None:
        """The first iteration not completed (0 is the DOE), or ``None`` when the search is finished."""
        return next((k for k in range(self.iterations + 1) if not self.folder.is_done(k)), None)

    def _finish(self) -> None:
        if self._state.get("status") != "done" or self._state.get("iterations_done") != self.iterations:
            self._state["status"] = "done"
            self._state["iterations_done"] = self.iterations
            self.folder.write_state(self._state)

    def check(self) -> None:
        """Refuse settings that cannot work before anything is written (``run()`` and ``ask()`` check too)."""
        if self.folder.exists() and self._state is None:
            raise ValueError(f"{self.save_dir} already holds a search: resume it (`nsganetv2 search --resume "
                             f"{self.save_dir}`, or MSuNAS.load(folder, problem).run() in Python) or choose "
                             "another folder")
        self._check_budget()

    def _check_budget(self) -> None:
        """Refuse, before anything is evaluated, surrogate settings that cannot work: keyword arguments the surrogate
        does not take, or a DOE smaller than it needs to be fitted."""
        try:
            model = self._make_model(0)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"predictor {self.predictor!r} with --predictor_kwargs {self.predictor_kwargs}: "
                             f"{str(exc).splitlines()[0]}") from None
        if self.optimism > 0:
            import inspect

            if self.selection != "hv":
                raise ValueError("--optimism lowers the predictions of the hv selection: add --selection hv")
            if "return_std" not in inspect.signature(model.predict).parameters:
                raise ValueError(f"--optimism needs a predictor with an uncertainty (predict(X, return_std=True)), "
                                 f"such as gp-ard or ensemble; {self.predictor!r} has none")
        if self.iterations == 0 or not isinstance(self.predictor, str):
            return
        spec = get_surrogate(self.predictor)
        n_features = self.problem.features(self.problem.initial_design(2, np.random.default_rng(0))).shape[1]
        need = spec.min_samples(n_features, self.predictor_kwargs)
        if self.n_doe < need:
            raise ValueError(f"predictor {self.predictor!r} needs at least {need} archive entries for {n_features} "
                             f"features, but n_doe is {self.n_doe}: raise --n_doe above {need - 1} or use "
                             "--predictor carts")

    # ------------------------------------------------------------------ iterations
    def _candidates(self, k: int) -> tuple:
        """Iteration k's genomes, predictions and surrogate description: recorded, or proposed now and recorded."""
        if k not in self._pending:
            loaded = self.folder.load_candidates(k, self.problem.n_var, self.problem.vtype == "int")
            t0 = time.perf_counter()
            if loaded is None:
                seeds = _seeds(self.seed, k)
                if k == 0:
                    X = initial_design(self.problem, self.n_doe, np.random.default_rng(seeds["numpy"]))
                    pred = sur = fit = None
                else:
                    prop = self._propose(k, seeds)
                    X, pred, sur, fit = prop.X, prop.predicted, prop.surrogate, prop.archive_fit
                self.folder.save_candidates(k, X, pred, seeds, sur, fit)
                loaded = (X, pred, sur, fit)
            t1 = time.perf_counter()
            self._pending[k] = (*loaded, t1 - t0, t1)
            keys = [self.problem.key(x) for x in loaded[0]]
            for i, key in enumerate(keys):
                self._where.setdefault(key, (k, i))
            self._left[k] = {key for key in keys if not self._recorded(key)}
        return self._pending[k]

    def _ok_rows(self, upto: int) -> tuple[ArchiveColumns, np.ndarray]:
        """The archive's columns and the rows of the successful records of iterations up to ``upto``, in (iteration,
        index) order (the order results were told in does not matter)."""
        c = self.archive.columns(self.problem.objective_names)
        return c, c.select(upto)

    def _propose(self, k: int, seeds: dict[str, int]):
        """Iteration k's proposal: a function of the records before k (so a lost candidates file is re-proposed
        identically even when some of its genomes were already recorded)."""
        c, rows = self._ok_rows(upto=k - 1)
        Xa, Fa = c.genomes[rows], c.F[rows]
        taken = {r["key"] for r in self.archive.records if r.get("iteration", 0) < k}
        label = self.predictor if isinstance(self.predictor, str) else ""
        return propose(self.problem, Xa, Fa, taken, self.n_iter, self._make_model, seeds,
                       self.pop_size, self.n_gen, self.subset_pop, self.subset_gen, self.max_train, label,
                       seed_torch=isinstance(self.predictor, str) and get_surrogate(self.predictor).uses_torch,
                       selection=self.selection, optimism=self.optimism)

    def _make_model(self, random_state: int) -> Any:
        p = self.predictor
        if isinstance(p, str):
            return make_surrogate(p, random_state=random_state, **self.predictor_kwargs)
        if hasattr(p, "fit") and hasattr(p, "predict"):
            try:
                return clone(p)
            except Exception:  # not a full sklearn estimator: deep-copy it
                return copy.deepcopy(p)
        if callable(p):
            return p(random_state)
        raise ValueError(f"predictor must be a surrogate name, an estimator or a factory, got {p!r}")

    def _record(self, k: int, i: int, x: np.ndarray, r: EvalResult, cheap: np.ndarray | None,
                pred: list | None) -> dict:
        p = self.problem
        names = p.objective_names
        objectives = None
        if r.ok:
            row = np.empty(p.n_obj)
            row[list(p.expensive)] = r.values
            if cheap is not None:
                row[list(p.cheap)] = cheap
            objectives = {n: float(v) for n, v in zip(names, row)}
        else:
            log.warning("iteration %d candidate %d failed: %s", k, i, r.error)
        exp_names = [names[j] for j in p.expensive]
        return {"key": p.key(x), "genome": np.asarray(x).tolist(), "config": p.config(x), "objectives": objectives,
                "stats": r.stats, "iteration": k, "index": i, "status": "ok" if r.ok else "failed",
                "error": r.error, "predicted": None if pred is None else dict(zip(exp_names, pred))}

    def _write_candidate_files(self, k: int, i: int, x: np.ndarray, rec: dict, only_missing: bool,
                               result: EvalResult | None = None) -> None:
        if result is None:
            result = EvalResult(values=None if rec["status"] != "ok" else [0.0] * len(self.problem.expensive),
                                stats=rec.get("stats") or {}, error=rec.get("error"))
        files = self.problem.candidate_files(x, result)
        failed = None if result.ok else files.get(".subnet", rec["config"])
        self.folder.write_candidate_files(k, i, files, failed, only_missing)

    def _complete(self, k: int) -> None:
        """All of iteration k is recorded: fix the reference point (k = 0), write ``iter_{k}.stats``, log."""
        X, pred, sur, fit, search_s, ready = self._candidates(k)
        seeds = _seeds(self.seed, k)
        p = self.problem
        if k == 0:
            _, F0 = self.archive.arrays(p.objective_names, iterations=(0,))
            if len(F0) == 0:
                errors = {r.get("error") for r in self.archive.records if r["status"] != "ok"}
                raise RuntimeError(f"every DOE evaluation failed, e.g. {sorted(map(str, errors))[:3]}; fix the "
                                   "setting, then resume with --retry_failed (retry_failed=True) to evaluate them again")
            if self.ref_point is None:  # fixed once, from the DOE's successful evaluations, and recorded
                mx = F0.max(axis=0)
                self.ref_point = mx + 0.01 * np.abs(mx)
                self.ref_point[self.ref_point == 0] = 1e-12
            if self.hv_ideal is None:
                mn = F0.min(axis=0)
                self.hv_ideal = np.where(self.ref_point > 0, np.minimum(0.0, mn), mn)
            self._state["ref_point"] = self.ref_point.tolist()
            self._state["hv_ideal"] = self.hv_ideal.tolist()
            self.folder.write_state(self._state)
            surrogate = None
        else:
            quality = self._quality(X, pred, fit)
            surrogate = dict(sur or {})
            surrogate.update(quality[0] if quality else dict.fromkeys(QUALITY_KEYS))
            surrogate["metrics"] = QUALITY_DOC
            if len(p.expensive) > 1:
                surrogate["per_objective"] = dict(zip([p.objective_names[j] for j in p.expensive], quality))
        c, rows = self._ok_rows(upto=k)
        F = c.F[rows]
        hv = self._hv(k, F)
        timing = {"search_s": search_s, "eval_s": time.perf_counter() - ready}
        self._write_stats(k, X, c, rows, hv, surrogate, seeds, timing)
        del self._pending[k], self._left[k]
        self._where = {key: ki for key, ki in self._where.items() if ki[0] != k}
        n_fail = sum(self.archive.get(p.key(x))["status"] != "ok" for x in X)
        if k == 0:
            log.info("DOE: %d evaluated (%d failed), HV %.4f, ref point %s", len(X), n_fail, hv,
                     np.array2string(self.ref_point, precision=4))
        else:
            q = (surrogate or {})
            log.info("iter %d/%d: %d evaluated (%d failed), archive %d, HV %.5f, surrogate on the candidates: rmse %s "
                     "rho %s tau %s", k, self.iterations, len(X), n_fail, len(self.archive), hv,
                     _fmt(q.get("candidates_rmse")), _fmt(q.get("candidates_rho")), _fmt(q.get("candidates_tau")))
            if self._bars:
                self._bars["iter"].update(1)
        if self.callbacks:
            self._notify(k, len(X), n_fail, F, hv, surrogate, timing)

    def _notify(self, k: int, n: int, n_fail: int, F: np.ndarray, hv: float, surrogate: dict | None,
                timing: dict) -> None:
        """Call every callback with iteration k's :class:`IterationInfo` (``F``: the successful records' objectives);
        a failing callback is logged, not raised."""
        names = self.problem.objective_names
        front = F[pareto_mask(F)] if len(F) else F
        settings = {**self._settings(), "seed": self.seed, "objectives": list(names),
                    "problem": self.problem.describe().get("name")}
        info = IterationInfo(k, self.iterations, n, n_fail, len(self.archive), float(hv),
                             None if surrogate is None else dict(surrogate), dict(timing), front, tuple(names),
                             self.save_dir, settings)
        for cb in self.callbacks:
            try:
                cb(info)
            except Exception:  # noqa: BLE001 - a tracking failure never stops a search
                log.warning("search callback %r failed at iteration %d; the search goes on", cb, k, exc_info=True)

    # ------------------------------------------------------------------ metrics and files
    def _hv(self, upto: int, F: np.ndarray) -> float:
        """Normalised HV of ``F``, the objectives of the successful records of iterations 0..upto (a rebuilt
        iter_k.stats sees only those)."""
        failure_point = (self._state or {}).get("failure_point")
        if failure_point is not None and any(r["status"] != "ok" or any(d.get("status") != "ok" for d in
                                                                           r.get("duplicates", ()))
                                             for r in self.archive.records if r.get("iteration", 0) <= upto):
            # an imported run of the original, which kept each failure in its archive at this point
            F = np.vstack([F, np.asarray(failure_point, dtype=float)])
        return normalised_hypervolume(F, self.ref_point, self.hv_ideal)

    def _quality(self, X: np.ndarray, pred: list | None, fit: dict | None) -> list[dict]:
        """Surrogate quality per expensive objective: ``candidates_rmse/rho/tau`` over this iteration's successful
        candidates (out of sample), and the original's ``rmse/rho/tau`` over the archive records the surrogate was
        fitted on (its in-sample predictions; all records up to ``max_train``) stacked with those candidates (RMSE
        without the original's broadcasting bug)."""
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
            row = {f"candidates_{k}": v for k, v in _metrics(t, q).items()}
            if fit is not None:
                row.update(_metrics([f[jj] for f in fit["true"]] + t, [f[jj] for f in fit["pred"]] + q))
            else:
                row.update(dict.fromkeys(("rmse", "rho", "tau")))
            out.append({k: row[k] for k in QUALITY_KEYS})
        return out

    def _write_stats(self, k: int, X: np.ndarray, c: ArchiveColumns, rows: np.ndarray, hv: float,
                     surrogate: dict | None, seeds: dict, timing: dict) -> None:
        """``iter_{k}.stats``: the original's ``archive`` and ``candidates`` rows ``[config, *objectives]`` of the
        successful records (``rows`` of the archive's columns ``c``), each row encoded once per record, then this
        iteration's figures."""
        p = self.problem
        names = p.objective_names
        records = [self.archive.records[i] for i in rows]

        def row(r: dict) -> str:
            text = self._stats_rows.get(r["key"])
            if text is None:  # a successful record never changes, so its row is encoded once
                text = self._stats_rows[r["key"]] = dumps([r["config"], *[r["objectives"][n] for n in names]])
            return text

        n_records = int((c.iteration <= k).sum())
        keys = {p.key(x) for x in X}
        stats = {
            "archive": RawJSON("[" + ", ".join(row(r) for r in records) + "]"),
            "candidates": RawJSON("[" + ", ".join(row(r) for r in records if r["key"] in keys) + "]"),
            "hv": float(hv),
            "surrogate": surrogate,
            "iteration": k,
            "objectives": list(names),
            "n_evaluations": n_records,
            "n_failed": n_records - len(records),
            "ref_point": self.ref_point.tolist(),
            "seeds": seeds,
            "timing": timing,
        }
        self.folder.write_stats(k, stats)


QUALITY_KEYS = ("rmse", "rho", "tau", "candidates_rmse", "candidates_rho", "candidates_tau")
QUALITY_DOC = ("rmse/rho/tau: the fitted surrogate on the archive records it was fitted on (in-sample; all of them up "
               "to max_train) and this iteration's candidates, as the original logs them; candidates_*: this "
               "iteration's candidates only (out of sample)")


def _metrics(t: list, q: list) -> dict:
    """rmse, Spearman rho and Kendall tau of predictions ``q`` of true values ``t`` (None where undefined)."""
    if len(t) >= 2:
        return _nan_to_none({k: float(v) for k, v in correlation(np.array(t), np.array(q)).items()})
    rmse = float(np.sqrt(np.mean((np.array(t) - np.array(q)) ** 2))) if t else None
    return {"rmse": rmse, "rho": None, "tau": None}


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{v:.4g}"
