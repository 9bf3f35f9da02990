"""The search-problem protocol that the MSuNAS loop talks to.

A problem has ``n_var`` decision variables bounded by ``xl``/``xu`` (integers or reals), ``n_obj`` minimised
objectives named ``objective_names``. The objectives listed in ``expensive`` (indices) are measured by
``evaluate_expensive`` and predicted by the surrogate during the search; the others are computed exactly and
cheaply by ``cheap_objectives``. Genomes are canonicalised (``canonical``) before anything else sees them, and
``key`` gives the identity used for the archive and for duplicate elimination.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


@dataclass
class EvalResult:
    """The outcome of one expensive evaluation.

    ``values`` holds the expensive objective values (in the order of ``problem.expensive``); ``stats`` any
    per-candidate statistics worth keeping (JSON-serialisable). A failure has ``error`` set and no values.
    """

    values: list[float] | None
    stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failure(cls, error: str, stats: dict[str, Any] | None = None) -> "EvalResult":
        return cls(values=None, stats=dict(stats or {}), error=str(error) or "unknown error")


class SearchProblem:
    """Base class of search problems. Subclasses set the attributes in ``__init__`` and override the hooks.

    Required: ``n_var``, ``xl``, ``xu``, ``objective_names``, ``expensive``, ``vtype`` (``"int"`` or
    ``"real"``), ``name``; and ``_evaluate_expensive`` (plus ``cheap_objectives`` when some objective is cheap).
    """

    name: str = "problem"
    n_var: int
    xl: np.ndarray
    xu: np.ndarray
    objective_names: tuple[str, ...]
    expensive: tuple[int, ...] = (0,)
    vtype: str = "real"

    # ------------------------------------------------------------------ derived sizes
    @property
    def n_obj(self) -> int:
        return len(self.objective_names)

    @property
    def cheap(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.n_obj) if i not in self.expensive)

    def check(self) -> None:
        """Validate the problem's declaration; raise ``ValueError`` naming what is wrong."""
        xl = np.asarray(self.xl, dtype=float).reshape(-1)
        xu = np.asarray(self.xu, dtype=float).reshape(-1)
        if xl.shape != (self.n_var,) or xu.shape != (self.n_var,):
            raise ValueError(f"{self.name}: xl and xu must have n_var={self.n_var} entries, got {xl.shape} and {xu.shape}")
        if np.any(xl > xu):
            raise ValueError(f"{self.name}: xl must be <= xu everywhere (variable {int(np.argmax(xl > xu))})")
        if self.vtype not in ("int", "real"):
            raise ValueError(f"{self.name}: vtype must be 'int' or 'real', got {self.vtype!r}")
        if self.n_obj < 2:
            raise ValueError(f"{self.name}: needs at least 2 objectives, got {list(self.objective_names)}")
        exp = tuple(self.expensive)
        if not exp or len(set(exp)) != len(exp) or any(not 0 <= i < self.n_obj for i in exp):
            raise ValueError(
                f"{self.name}: expensive={exp} must list distinct objective indices in 0..{self.n_obj - 1}, at least one"
            )

    # ------------------------------------------------------------------ genomes
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random canonical genomes."""
        xl, xu = np.asarray(self.xl, float), np.asarray(self.xu, float)
        if self.vtype == "int":
            X = rng.integers(xl.astype(np.int64), xu.astype(np.int64) + 1, size=(n, self.n_var))
        else:
            X = xl + rng.random((n, self.n_var)) * (xu - xl)
        return self.canonical(X)

    def initial_design(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The design of experiments (default: ``sample``)."""
        return self.sample(n, rng)

    def canonical(self, X: np.ndarray) -> np.ndarray:
        """Canonical form of each row (clipped to the bounds; rounded for integer problems)."""
        X = np.clip(np.atleast_2d(np.asarray(X, dtype=float)), self.xl, self.xu)
        if self.vtype == "int":
            return np.rint(X).astype(np.int64)
        return X

    def key(self, x: np.ndarray) -> str:
        """Identity of a canonical genome (a short, JSON-safe string)."""
        x = np.asarray(x)
        if self.vtype == "int":
            return "-".join(str(int(v)) for v in x)
        return hashlib.sha1(np.ascontiguousarray(x, dtype=np.float64).tobytes()).hexdigest()

    def features(self, X: np.ndarray) -> np.ndarray:
        """Surrogate inputs for canonical genomes (default: the genomes as floats)."""
        return np.asarray(X, dtype=float)

    def config(self, x: np.ndarray) -> Any:
        """JSON-serialisable phenotype of a genome (default: the genome as a list)."""
        return np.asarray(x).tolist()

    # ------------------------------------------------------------------ objectives
    def cheap_objectives(self, X: np.ndarray) -> np.ndarray:
        """Exact values of the cheap objectives, shape (N, len(cheap))."""
        if self.cheap:
            raise NotImplementedError(f"{self.name} declares cheap objectives {self.cheap} but no cheap_objectives()")
        return np.zeros((len(X), 0))

    def _evaluate_expensive(self, X: np.ndarray) -> list[Any]:
        """One raw result per genome (see :meth:`to_result`); raise only when no genome could be evaluated."""
        raise NotImplementedError(f"{self.name} evaluates nothing itself; give results through ask()/tell()")

    def evaluate_expensive(self, X: np.ndarray) -> list[EvalResult]:
        """Measure the expensive objectives of canonical genomes; a failure never raises but is returned.

        When the batch as a whole raises, each genome is tried alone, so one bad genome fails alone."""
        X = np.atleast_2d(X)
        try:
            out = list(self._evaluate_expensive(X))
        except Exception as exc:
            if len(X) > 1:
                return [self.evaluate_expensive(X[i:i + 1])[0] for i in range(len(X))]
            return [EvalResult.failure(f"{type(exc).__name__}: {exc}")]
        return self.results(X, out)

    def evaluate_stream(self, X: np.ndarray, on_result: Callable[[int, EvalResult], None]) -> list[EvalResult]:
        """``evaluate_expensive`` calling ``on_result(i, result)`` as each genome's result is known, so the caller
        can record it at once (default: one genome at a time; problems that evaluate in parallel override it)."""
        X = np.atleast_2d(X)
        out = []
        for i in range(len(X)):
            out.append(self.evaluate_expensive(X[i:i + 1])[0])
            on_result(i, out[-1])
        return out

    def results(self, X: np.ndarray, raw: Sequence[Any]) -> list[EvalResult]:
        """Checked ``EvalResult`` s of genomes ``X`` from raw results (whatever :meth:`to_result` accepts)."""
        X, raw = np.atleast_2d(X), list(raw)
        if len(raw) != len(X):
            raise ValueError(f"{self.name}: {len(raw)} results for {len(X)} genomes")
        return [self._checked(self.to_result(x, r)) for x, r in zip(X, raw)]

    def to_result(self, x: np.ndarray, raw: Any) -> EvalResult:
        """One raw result as an ``EvalResult``: an ``EvalResult``, an exception or error text (a failure), or the
        expensive objective values (a number, or a sequence in the order of ``expensive``)."""
        if isinstance(raw, EvalResult):
            return raw
        if (failed := failure_of(raw)) is not None:
            return failed
        try:
            values = [float(v) for v in np.ravel(np.asarray(raw, dtype=float))]
        except (TypeError, ValueError):
            return EvalResult.failure(f"unexpected result {raw!r}"[:300])
        return EvalResult(values=values)

    def _checked(self, r: EvalResult) -> EvalResult:
        if r.ok and (r.values is None or len(r.values) != len(self.expensive)):
            return EvalResult.failure(f"expected {len(self.expensive)} expensive values, got {r.values}", r.stats)
        if r.ok and not np.all(np.isfinite(r.values)):
            return EvalResult.failure(f"non-finite objective value {r.values}", r.stats)
        return r

    def candidate_files(self, x: np.ndarray, result: EvalResult) -> dict[str, Any]:
        """Per-candidate JSON files to write as ``iter_{k}/net_{i}<suffix>`` (default: none)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What identifies this problem in ``search.json`` (checked on resume)."""
        return {
            "name": self.name,
            "n_var": int(self.n_var),
            "objectives": list(self.objective_names),
            "expensive": list(self.expensive),
            "vtype": self.vtype,
        }

    def full_objectives(self, expensive_values: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Assemble (N, n_obj) from expensive values (N, len(expensive)) and the exact cheap ones."""
        X = np.atleast_2d(X)
        F = np.empty((len(X), self.n_obj))
        F[:, list(self.expensive)] = np.asarray(expensive_values, dtype=float).reshape(len(X), len(self.expensive))
        if self.cheap:
            F[:, list(self.cheap)] = np.asarray(self.cheap_objectives(X), dtype=float).reshape(len(X), len(self.cheap))
        return F


def failure_of(raw: Any, stats: dict[str, Any] | None = None) -> EvalResult | None:
    """The failure a raw result stands for (an exception, error text, or nothing at all), else ``None``."""
    if isinstance(raw, BaseException):
        return EvalResult.failure(f"{type(raw).__name__}: {raw}", stats)
    if isinstance(raw, str) or raw is None:
        return EvalResult.failure(str(raw or "no result"), stats)
    return None


def check_problem(problem: SearchProblem) -> SearchProblem:
    """Validate a problem object (anything with the ``SearchProblem`` attributes); return it."""
    missing = [a for a in ("n_var", "xl", "xu", "objective_names", "expensive", "evaluate_expensive", "canonical", "key")
               if not hasattr(problem, a)]
    if missing:
        raise ValueError(f"problem {problem!r} lacks {missing}; subclass nsganetv2.search.problem.SearchProblem")
    if isinstance(problem, SearchProblem):
        problem.check()
    return problem

