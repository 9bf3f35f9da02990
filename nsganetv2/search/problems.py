"""Search problems: pymoo test problems (ZDT, DTLZ) and the OFA MobileNetV3 NAS problem."""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from nsganetv2.evaluation.objectives import get_objective, objectives_from_flags
from nsganetv2.search.problem import EvalResult, SearchProblem, failure_of

__all__ = ["OFANASProblem", "PymooTestProblem", "TEST_PROBLEMS", "objectives_from_flags", "test_problem"]

TEST_PROBLEMS = ("zdt1", "zdt2", "zdt3", "dtlz2")


class PymooTestProblem(SearchProblem):
    """A pymoo test problem (real-valued) with some objectives treated as expensive.

    ``expensive`` lists the indices of the objectives measured by ``evaluate_expensive`` (default: the first);
    the others are cheap and exact. ``delay`` seconds are slept per expensive evaluation (to mimic cost), and
    ``on_evaluate(x)`` is called for each genome evaluated (e.g. to count calls).
    """

    vtype = "real"

    def __init__(self, pymoo_problem: Any, expensive: Sequence[int] = (0,), delay: float = 0.0,
                 on_evaluate: Callable[[np.ndarray], None] | None = None, name: str | None = None) -> None:
        self.pymoo = pymoo_problem
        self.name = name or type(pymoo_problem).__name__.lower()
        self.n_var = int(pymoo_problem.n_var)
        self.xl = np.asarray(pymoo_problem.xl, dtype=float)
        self.xu = np.asarray(pymoo_problem.xu, dtype=float)
        self.objective_names = tuple(f"f{i + 1}" for i in range(int(pymoo_problem.n_obj)))
        self.expensive = tuple(int(i) for i in expensive)
        self.delay = float(delay)
        self.on_evaluate = on_evaluate
        self.check()

    def _all(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.pymoo.evaluate(np.atleast_2d(np.asarray(X, dtype=float)), return_values_of=["F"]))

    def cheap_objectives(self, X: np.ndarray) -> np.ndarray:
        return self._all(X)[:, list(self.cheap)] if self.cheap else np.zeros((len(X), 0))

    def _evaluate_expensive(self, X: np.ndarray) -> list[EvalResult]:
        out = []
        for x in X:
            if self.on_evaluate is not None:
                self.on_evaluate(x)
            if self.delay > 0:
                time.sleep(self.delay)
            f = self._all(x)[0]
            out.append(EvalResult(values=[float(f[i]) for i in self.expensive],
                                  stats={n: float(v) for n, v in zip(self.objective_names, f)}))
        return out

    def pareto_front(self, n_points: int = 1000) -> np.ndarray:
        """The known Pareto front (all objectives, pymoo's order), about ``n_points`` points."""
        if self.name.startswith("dtlz"):
            from pymoo.util.ref_dirs import get_reference_directions

            m = self.n_obj
            parts = 1
            while _n_das_dennis(m, parts + 1) <= n_points:
                parts += 1
            return np.asarray(self.pymoo.pareto_front(get_reference_directions("das-dennis", m, n_partitions=parts)))
        return np.asarray(self.pymoo.pareto_front(n_points))


def _n_das_dennis(m: int, parts: int) -> int:
    from math import comb

    return comb(parts + m - 1, m - 1)


def test_problem(name: str, expensive: Sequence[int] = (0,), n_var: int | None = None, n_obj: int = 2,
                 **kw: Any) -> PymooTestProblem:
    """``zdt1``, ``zdt2``, ``zdt3`` (2 objectives) or ``dtlz2`` (``n_obj`` objectives) as a search problem."""
    if name.lower() not in TEST_PROBLEMS:
        raise ValueError(f"unknown test problem {name!r}; choose one of {TEST_PROBLEMS}")
    from pymoo.problems import get_problem

    name = name.lower()
    if name in ("zdt1", "zdt2", "zdt3"):
        p = get_problem(name, **({"n_var": n_var} if n_var else {}))
    elif name == "dtlz2":
        p = get_problem(name, n_obj=n_obj, **({"n_var": n_var} if n_var else {}))
    else:
        raise ValueError(f"unknown test problem {name!r}; choose zdt1, zdt2, zdt3 or dtlz2")
    return PymooTestProblem(p, expensive=expensive, name=name, **kw)


test_problem.__test__ = False  # not a pytest test


# ---------------------------------------------------------------------------------------------------- NAS
ConfigEvaluator = Callable[[list[dict]], Sequence[Any]]


class OFANASProblem(SearchProblem):
    """NAS over the OFA MobileNetV3 space: top-1 error (expensive) plus cheap objectives from the registry.

    ``evaluate_fn(configs)`` is the expensive evaluation (BN recalibration + top-1), injected by the caller: it
    takes a list of config dicts ``{ks, e, d, r}`` and returns one item per config, either a stats dict with at
    least ``"top1"`` (accuracy in %; ``top5``, ``loss`` ... are kept) or an exception / error string for a failure.
    It may be ``None`` when the search is driven by ask/tell (the caller evaluates). ``objectives`` is ``("top1",
    ...)`` followed by registered cheap objectives (``nsganetv2.evaluation.objectives``: ``flops`` in MMACs,
    ``params`` in M, ``cpu`` in ms from ``cpu_fn(config)``, ``latency`` in ms from ``lut_fn(config)``), computed for
    ``n_classes`` outputs and ``width_mult`` unless ``objective_fns`` gives a function for a name. ``precision`` (``{"amp", "device", "torch"}``, see
    ``nsganetv2.evaluation.accuracy.precision_record``) is what ``evaluate_fn`` measures in. With ``streaming``,
    ``evaluate_fn(configs, on_result=f)`` also calls ``f(i, raw)`` as each config finishes (in parallel workers), so
    each result is recorded as soon as it exists. ``features`` is the surrogate's encoding of a genome (``raw``: the
    original's 46 integers; ``onehot``; ``stages``: see ``OFAMobileNetV3Space.features``). ``evaluation`` holds the
    settings that change what a recorded top-1 means (dataset, split sizes, fine-tune epochs, the supernet's or the
    accuracy predictor's checksum ...): they are recorded in
    ``search.json`` with the resolutions, classes and width, and a resume that differs is refused, naming the setting.
    Cheap values are cached by canonical genome.
    """

    vtype = "int"
    name = "ofa_mbv3"

    def __init__(self, evaluate_fn: ConfigEvaluator | None, objectives: Sequence[str] = ("top1", "flops"),
                 space: Any = None, cpu_fn: Callable[[dict], float] | None = None,
                 objective_fns: dict[str, Callable[[dict], float]] | None = None,
                 n_classes: int = 1000, width_mult: float = 1.0, precision: dict | None = None,
                 streaming: bool = False, evaluation: dict | None = None, flops_counter: str = "ofa",
                 gpu_fn: Callable[[dict], float] | None = None, top1_split: str = "held-out",
                 lut_fn: Callable[[dict], float] | None = None, features: str = "raw") -> None:
        objectives = tuple(objectives)
        if len(objectives) < 2 or objectives[0] != "top1":
            raise ValueError(f"objectives must be 'top1' followed by cheap objectives, got {objectives}")
        objectives_from_flags(objectives=objectives)  # each name registered, cheap, not repeated
        if space is None:
            from nsganetv2.space import OFAMobileNetV3Space

            space = OFAMobileNetV3Space()
        given = dict(objective_fns or {})
        # flops and params are always computed: every net.stats carries them, as the original's do
        self._fns: dict[str, Callable[[dict], float]] = {
            name: given.get(name) or get_objective(name).build(n_classes=n_classes, width_mult=width_mult,
                                                               cpu_fn=cpu_fn, gpu_fn=gpu_fn, lut_fn=lut_fn,
                                                               flops_counter=flops_counter)
            for name in dict.fromkeys(("flops", "params", *objectives[1:]))}
        self.n_classes, self.width_mult, self.flops_counter = int(n_classes), float(width_mult), flops_counter
        self.top1_split = top1_split
        self.space = space
        from nsganetv2.space.ofa_mbv3 import FEATURE_KINDS

        if features not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {FEATURE_KINDS} (the surrogate's encoding of a genome), got "
                             f"{features!r}")
        self.feature_kind = features
        self.evaluate_fn = evaluate_fn
        self.objective_names = objectives
        self.expensive = (0,)
        self.n_var = int(space.n_var)
        self.xl = np.asarray(space.xl, dtype=float)
        self.xu = np.asarray(space.xu, dtype=float)
        self._cache: dict[str, dict[str, float]] = {}
        self._keys: dict[bytes, str] = {}
        self.precision = dict(precision) if precision else None
        self.streaming = bool(streaming)
        self.evaluation = dict(evaluation or {})
        self.check()

    def describe(self) -> dict[str, Any]:
        """The base description plus, when known, the evaluation's precision: ``amp`` (part of what a recorded
        top-1 means, checked on resume) and ``environment`` (device type and torch version, informational)."""
        out = super().describe()
        if hasattr(self.space, "resolutions"):
            out["resolutions"] = [int(r) for r in self.space.resolutions]
        out.update(n_classes=self.n_classes, width_mult=self.width_mult, flops_counter=self.flops_counter)
        if self.feature_kind != "raw":  # the surrogate's inputs (the original's: the raw genome)
            out["features"] = self.feature_kind
        if self.top1_split != "held-out":  # the original's --test: top-1 on the test split
            out["top1_split"] = self.top1_split
        if self.evaluation:
            out["evaluation"] = self.evaluation
        if self.precision:
            out["amp"] = self.precision["amp"]
            out["environment"] = {k: v for k, v in self.precision.items() if k != "amp"}
        return out

    # genomes ------------------------------------------------------------------
    def _genomes(self, items: Sequence[Any]) -> np.ndarray:
        """Genomes from what the space's sampler returns (config dicts or genomes)."""
        items = list(items)
        if items and isinstance(items[0], dict):
            items = [self.space.encode(c) for c in items]
        return self.canonical(np.asarray(items, dtype=np.int64).reshape(len(items), self.n_var))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._genomes(self.space.sample(n, rng))

    def initial_design(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The original DOE: the smallest and the largest network, then random ones."""
        return self._genomes(self.space.initial_design(n, rng))

    def canonical(self, X: np.ndarray) -> np.ndarray:
        X = np.rint(np.clip(np.atleast_2d(np.asarray(X, dtype=float)), self.xl, self.xu)).astype(np.int64)
        return np.asarray(self.space.canonical(X), dtype=np.int64).reshape(X.shape)

    def key(self, x: np.ndarray) -> str:
        """The space's key of the genome (memoised: the loop asks for the same genomes many times)."""
        x = np.asarray(x, dtype=np.int64)
        raw = x.tobytes()
        k = self._keys.get(raw)
        if k is None:
            k = self._keys[raw] = str(self.space.key(x))
        return k

    def features(self, X: np.ndarray) -> np.ndarray:
        G = np.asarray(X, dtype=np.int64)
        out = self.space.features(G) if self.feature_kind == "raw" else self.space.features(G, kind=self.feature_kind)
        return np.asarray(out, dtype=float)

    def config(self, x: np.ndarray) -> dict:
        return self.space.decode(np.asarray(x, dtype=np.int64))

    # objectives ---------------------------------------------------------------
    def complexity(self, x: np.ndarray, names: Sequence[str] | None = None) -> dict[str, float]:
        """flops/params (and the other cheap objectives) of one canonical genome, cached; with ``names`` only those
        are computed (what NSGA-II on the surrogate needs), the rest when a record asks."""
        k = self.key(x)
        hit = self._cache.setdefault(k, {})
        todo = [n for n in (self._fns if names is None else names) if n not in hit]
        if todo:
            cfg = self.config(x)
            hit.update({name: float(self._fns[name](cfg)) for name in todo})
        return hit

    def cheap_objectives(self, X: np.ndarray) -> np.ndarray:
        names = self.objective_names[1:]
        return np.array([[v[n] for n in names] for v in (self.complexity(x, names) for x in np.atleast_2d(X))],
                        dtype=float)

    def _evaluate_expensive(self, X: np.ndarray) -> list[Any]:
        if self.evaluate_fn is None:
            raise ValueError("this NAS problem has no evaluate_fn: evaluate with your own code through ask()/tell()")
        return list(self.evaluate_fn([self.config(x) for x in X]))

    def evaluate_stream(self, X: np.ndarray, on_result: Callable[[int, EvalResult], None]) -> list[EvalResult]:
        if not self.streaming:
            return super().evaluate_stream(X, on_result)
        X = np.atleast_2d(X)
        done: dict[int, EvalResult] = {}

        def got(i: int, raw: Any) -> None:
            if i not in done:
                done[i] = self._checked(self.to_result(X[i], raw))
                on_result(i, done[i])

        try:
            self.evaluate_fn([self.config(x) for x in X], on_result=got)
        except Exception as exc:  # the evaluation as a whole broke: what did not finish failed with its error
            for i in range(len(X)):
                got(i, exc)
        for i in range(len(X)):
            got(i, "the evaluation returned no result for this architecture")
        return [done[i] for i in range(len(X))]

    def to_result(self, x: np.ndarray, raw: Any) -> EvalResult:
        """A stats dict with ``"top1"`` (accuracy in %), an ``EvalResult``, or an exception / error text."""
        if isinstance(raw, EvalResult):
            return raw
        cx = self.complexity(x)
        stats = {"params": round(cx["params"], 2), "flops": round(cx["flops"], 2),
                 "gpu": round(cx["gpu"], 2) if "gpu" in cx else None,
                 "cpu": round(cx["cpu"], 2) if "cpu" in cx else None}
        if "latency" in cx:
            stats["latency"] = round(cx["latency"], 2)
        if (failed := failure_of(raw, stats)) is not None:
            return failed
        if not isinstance(raw, dict) or "top1" not in raw:
            return EvalResult.failure(f"evaluation returned no 'top1': {raw!r}"[:300], stats)
        # params and flops are the search's definitions (its classes, width and FLOPs counter), as its objectives
        stats.update({k: v for k, v in raw.items() if k not in ("params", "flops", "cpu", "gpu", "latency") or
                      (k in ("cpu", "gpu") and v is not None)})
        return EvalResult(values=[100.0 - float(raw["top1"])], stats=stats)

    def candidate_files(self, x: np.ndarray, result: EvalResult) -> dict[str, Any]:
        files: dict[str, Any] = {".subnet": self.config(x)}
        if result.ok:
            files[".stats"] = result.stats
        return files
