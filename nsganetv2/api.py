"""The public Python API and the composition root: typed settings in, results out.

Everything the command line does is a function here; the CLI only maps argv to these settings. A notebook::

    from nsganetv2 import api
    s = api.SearchSettings(supernet_path="supernet.pth", dataset="mnist5k", resolutions=[32, 40], n_doe=16)
    result = api.search(s, "runs/s1")              # or api.resume("runs/s1", s) after a kill
    df = result.to_dataframe()                      # the archive as a table (pandas), or result.X / result.F
    api.select(api.SelectSettings(expr="runs/s1/iter_30.stats", n=3, supernet_path="supernet.pth"), "runs/final")

Ask/tell with your own evaluation (your training code, cluster or scheduler)::

    search = api.open_search(api.SearchSettings(resolutions=[192, 224]), "runs/mine")   # no supernet needed
    while (asked := search.ask()) is not None:
        search.tell(asked.X, [{"top1": my_train_and_test(config)} for config in asked.configs])
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from nsganetv2.distributed import DevicePlan, plan_devices
from nsganetv2.evaluation.objectives import objectives_from_flags
from nsganetv2.search import MSuNAS, SearchResult, read_state, test_problem
from nsganetv2.search.problems import TEST_PROBLEMS, OFANASProblem
from nsganetv2.space import default_resolutions

log = logging.getLogger(__name__)

__all__ = ["SearchSettings", "SelectSettings", "SupernetSettings", "LatencyTableSettings", "build_latency_table",
           "load_result", "nas_problem", "open_search", "predict_latency", "resume", "search", "select",
           "train_supernet", "validate", "measure_latency", "finetune", "report", "tracker", "TEST_PROBLEMS"]

# ----------------------------------------------------------------------------------------------------- settings
@dataclass
class SearchSettings:
    """Everything a search depends on (the CLI's ``search`` flags). ``problem`` names a test problem (zdt1 ...)
    instead of NAS. Without ``supernet_path`` a NAS search can only be driven by ask/tell.

    ``callbacks`` are called with an ``IterationInfo`` as each iteration completes (e.g. ``tracker("mlflow")``); they
    are not recorded in ``search.json``. ``ray_address`` (``local``, ``auto``, ``ray://host:10001`` ...) evaluates on a
    Ray cluster whose workers may join and leave (``pip install nsganetv2[ray]``)."""

    # what is searched
    problem: str | None = None
    objectives: tuple[str, ...] = ("top1", "flops")
    resolutions: list[int] | None = None
    lut: str | None = None
    # how a candidate is evaluated
    supernet_path: str | None = None
    dataset: str = "mnist5k"
    data: str | None = None
    n_workers: int = 0
    vld_size: int | None = None
    n_epochs: int = 0
    trn_batch_size: int = 128
    vld_batch_size: int = 250
    n_calib: int = 2000
    amp: str = "auto"
    compile: bool = False
    device: str = "auto"
    n_gpus: int = 0
    eval_workers: int | None = None
    ray_address: str | None = None
    # the search
    n_doe: int = 100
    iterations: int = 30
    n_iter: int = 8
    predictor: Any = "rbf"
    predictor_kwargs: dict | None = None
    pop_size: int = 40
    n_gen: int = 20
    seed: int = 0
    progress: bool = True
    callbacks: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.objectives = objectives_from_flags(objectives=self.objectives)
        self.callbacks = list(self.callbacks or [])
        for cb in self.callbacks:
            if not callable(cb):
                raise ValueError(f"callbacks must be callables taking an IterationInfo, got {cb!r}")
        for name in ("n_gpus", "n_epochs") + (("eval_workers",) if self.eval_workers is not None else ()):
            _require(self, name, lambda v: v >= 0 and v == int(v), "an integer >= 0")
        for name in ("n_calib", "trn_batch_size", "vld_batch_size") + (("vld_size",) if self.vld_size else ()):
            _require(self, name, lambda v: v >= 1 and v == int(v), "an integer >= 1")
        if self.vld_size is not None and self.vld_size < 1:
            raise ValueError(f"--vld_size must be an integer >= 1 (or left out for the dataset's default), got "
                             f"{self.vld_size}")
        if self.problem is not None and self.problem not in TEST_PROBLEMS:
            raise ValueError(f"unknown test problem {self.problem!r}; choose one of {TEST_PROBLEMS}")
        if self.predictor_kwargs is not None and not isinstance(self.predictor_kwargs, dict):
            raise ValueError(f"predictor_kwargs must be a JSON object (a dict), got {self.predictor_kwargs!r}")

    def search_kwargs(self) -> dict:
        return dict(n_doe=self.n_doe, iterations=self.iterations, n_iter=self.n_iter, predictor=self.predictor,
                    predictor_kwargs=self.predictor_kwargs, seed=self.seed, pop_size=self.pop_size,
                    n_gen=self.n_gen, progress=self.progress, callbacks=self.callbacks)


@dataclass
class SelectSettings:
    """Choosing and exporting final architectures from an ``iter_<k>.stats`` (the CLI's ``select`` flags)."""

    expr: str
    n: int = 1
    prefer: str | None = None
    sec_obj: str | None = None
    supernet_path: str | None = None
    dataset: str = "mnist5k"
    data: str | None = None
    vld_size: int | None = None
    n_calib: int = 2000
    recalibrate: bool = True
    onnx: bool = True
    check: bool = True
    amp: str = "auto"


@dataclass
class SupernetSettings:
    """Training an OFA MobileNetV3 supernet (the CLI's ``supernet train`` flags)."""

    dataset: str = "mnist5k"
    data: str | None = None
    n_workers: int = 0
    init: str | None = None
    width_mult: float = 1.0
    resolutions: list[int] | None = None
    epochs: int = 5
    phases: list[tuple[str, int]] = field(default_factory=list)
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 64
    label_smoothing: float = 0.1
    n_random: int = 0
    kd_ratio: float = 1.0
    vld_size: int | None = None
    n_calib: int = 500
    max_steps: int | None = None
    resume: bool = False
    overwrite: bool = False
    checkpoint_every_s: float = 300.0
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        _require(self, "label_smoothing", lambda v: 0 <= v < 1, "in [0, 1)")
        _require(self, "lr", lambda v: v > 0, "> 0")
        _require(self, "kd_ratio", lambda v: v >= 0, ">= 0")
        _require(self, "batch_size", lambda v: v >= 1, ">= 1")
        _require(self, "n_calib", lambda v: v >= 1, ">= 1")


@dataclass
class LatencyTableSettings:
    """Building a latency look-up table for this CPU (the CLI's ``latency build-lut`` flags)."""

    resolutions: list[int] | None = None
    width_mult: float = 1.0
    n_classes: int = 1000
    threads: int = 1
    runs: int = 20
    calibrate: int = 8
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("n_classes", "threads", "runs"):
            _require(self, name, lambda v: v >= 1, ">= 1")
        _require(self, "calibrate", lambda v: v >= 0, ">= 0")
        _require(self, "width_mult", lambda v: v > 0, "> 0")


def _require(settings: Any, name: str, ok: Any, text: str) -> None:
    """A numeric setting that is not a finite number, or fails ``ok``, is one clear error naming its flag."""
    import math

    v = getattr(settings, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v):
        raise ValueError(f"--{name} must be {text}, got {v!r}")


# ----------------------------------------------------------------------------------------------------- search
def nas_problem(settings: SearchSettings, plan: DevicePlan | None = None, runner: Any = None,
                resume: str | os.PathLike | None = None, save: str | os.PathLike | None = None) -> OFANASProblem:
    """The OFA NAS problem of ``settings``: the precision is fixed here once (a resumed search keeps the one its
    archive was measured in), the expensive evaluation maps a ``SubnetEvaluator`` with ``runner``."""
    from nsganetv2.data import num_classes
    from nsganetv2.evaluation.accuracy import amp_for_record, precision_record, resolve_amp
    from nsganetv2.evaluation.evaluator import EvalSpec, SubnetEvaluator
    from nsganetv2.space import OFAMobileNetV3Space

    s = settings
    space = OFAMobileNetV3Space(resolutions=s.resolutions or default_resolutions(s.dataset))
    n_classes = (num_classes(s.dataset) if s.dataset != "folder" else None) or 1000
    width_mult, evaluate_fn, precision, evaluation = 1.0, None, None, None
    if s.supernet_path:
        from nsganetv2.supernet import infer_width_mult, read_state_dict

        if not os.path.isfile(s.supernet_path):
            raise FileNotFoundError(f"supernet checkpoint {s.supernet_path} does not exist "
                                    "(train one with `nsganetv2 supernet train`)")
        plan = plan or plan_devices(s.device, s.n_gpus, s.eval_workers, ray_address=s.ray_address)
        recorded = read_state(resume)["problem"].get("amp") if resume else None
        amp = amp_for_record(s.amp, plan.amp_device, recorded, f"the search in {resume}")
        log.info("evaluating with --amp %s on %s", amp, plan.amp_device.type)
        evaluator = SubnetEvaluator(EvalSpec(
            supernet_path=s.supernet_path, dataset=s.dataset, data=s.data, vld_size=s.vld_size, n_calib=s.n_calib,
            trn_batch_size=s.trn_batch_size, vld_batch_size=s.vld_batch_size, n_workers=s.n_workers,
            n_epochs=s.n_epochs, amp=amp, compile=s.compile, seed=s.seed))
        width_mult = infer_width_mult(read_state_dict(s.supernet_path))
        precision = precision_record(resolve_amp(amp, plan.amp_device), plan.amp_device)
        evaluation = {"dataset": s.dataset, "vld_size": s.vld_size, "n_calib": s.n_calib, "n_epochs": s.n_epochs,
                      "seed": s.seed, "supernet_sha256": file_sha256(s.supernet_path)}
        if runner is None:
            raise ValueError("nas_problem needs a runner to evaluate with a supernet (see search())")

        def evaluate_fn(configs, on_result=None):  # streams each result to on_result as its worker finishes
            stream = None if on_result is None else (lambda i, r: on_result(i, r.value if r.ok else r.error))
            return [r.value if r.ok else r.error for r in runner.run(evaluator, configs, on_result=stream)]

    cpu_fn = _cpu_fn(s, n_classes, width_mult, resume or save) if "cpu" in s.objectives else None
    if cpu_fn is not None and s.lut:
        _check_table_covers(s.lut, cpu_fn, space)
    return OFANASProblem(evaluate_fn, s.objectives, space=space, cpu_fn=cpu_fn, n_classes=n_classes,
                         width_mult=width_mult, precision=precision, streaming=evaluate_fn is not None,
                         evaluation=evaluation)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content (what a search records of its supernet)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_table_covers(lut: str, cpu_fn, space) -> None:
    """Before anything is evaluated: the table has entries for the smallest and largest network at every
    resolution of the space (else a missing key would surface in the middle of the search)."""
    for r in space.resolutions:
        for config in (space.smallest(), space.largest()):
            try:
                cpu_fn({**config, "r": r})
            except (KeyError, ValueError) as exc:
                raise ValueError(f"latency table {lut} does not cover resolution {r} ({str(exc).splitlines()[0]}): "
                                 "build it with those resolutions (`nsganetv2 latency build-lut --resolutions ...`) "
                                 "or search only the ones it has (--resolutions)") from None


def _cpu_fn(s: SearchSettings, n_classes: int, width_mult: float, folder: str | os.PathLike | None):
    """The cpu objective: the look-up table ``s.lut``, else ONNX Runtime measurement of each subnet."""
    from nsganetv2.evaluation.latency import LatencyMeter, cpu_latency_fn
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    if s.lut:
        return cpu_latency_fn(s.lut, width_mult=width_mult, n_classes=n_classes)
    log.warning("no latency table: every network NSGA-II proposes is exported and timed (about a second each); "
                "build a table once with `nsganetv2 latency build-lut` for a fast search")
    timing_net = OFAMobileNetV3Supernet(n_classes=n_classes, width_mult=width_mult).eval()  # weights do not matter
    cache = Path(folder or ".") / "latency_cache.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    return cpu_latency_fn(meter=LatencyMeter(timing_net.extract, cache_path=cache))


class _Session:
    """A problem with its runner, for the length of a search (the runner's workers are stopped at the end)."""

    def __init__(self, settings: SearchSettings, save: str | os.PathLike, resume: bool) -> None:
        from nsganetv2.evaluation.runners import make_runner

        self.runner = None
        if settings.problem:
            self.problem = test_problem(settings.problem)
        else:
            plan = plan_devices(settings.device, settings.n_gpus, settings.eval_workers,
                                ray_address=settings.ray_address) if settings.supernet_path else None
            self.runner = make_runner(plan) if plan is not None else None
            try:
                self.problem = nas_problem(settings, plan, self.runner, resume=save if resume else None, save=save)
            except BaseException:
                self.close()  # a refused setting leaves no workers (or Ray instance) behind
                raise

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()


def search(settings: SearchSettings, save: str | os.PathLike, write_report: bool = True) -> SearchResult:
    """Run a new search into the folder ``save`` (refused if it holds one); writes the report at the end. The
    callbacks that have a ``close()`` (the trackers) are closed when the search returns or fails."""
    return _run(settings, save, resume=False, write_report=write_report)


def resume(save: str | os.PathLike, settings: SearchSettings, iterations: int | None = None,
           retry_failed: bool = False, write_report: bool = True) -> SearchResult:
    """Continue the search in ``save`` (after a kill, or with more ``iterations``); nothing recorded is redone, except
    the failures of the unfinished iteration with ``retry_failed`` (after fixing a wrong setting)."""
    return _run(settings, save, resume=True, write_report=write_report, iterations=iterations,
                retry_failed=retry_failed)


def _run(settings: SearchSettings, save: str | os.PathLike, resume: bool, write_report: bool,
         iterations: int | None = None, retry_failed: bool = False) -> SearchResult:
    from nsganetv2.evaluation.runners import DistributedRunner

    session = _Session(settings, save, resume)
    try:
        if isinstance(session.runner, DistributedRunner) and session.runner.rank > 0:
            session.runner.serve()  # ranks > 0 evaluate the shards rank 0 sends, until it closes the runner
            return MSuNAS.load(save, session.problem).result()
        if resume:
            overrides = {"progress": settings.progress, "retry_failed": retry_failed, "callbacks": settings.callbacks}
            if iterations is not None:
                overrides["iterations"] = iterations
            result = MSuNAS.load(save, session.problem, **overrides).run()
        else:
            result = MSuNAS(session.problem, save, **settings.search_kwargs()).run()
    finally:
        session.close()
        _close_callbacks(settings.callbacks)
    if write_report:
        report(save)
    return result


def _close_callbacks(callbacks: list) -> None:
    for cb in callbacks:
        if callable(getattr(cb, "close", None)):
            try:
                cb.close()
            except Exception:  # noqa: BLE001 - closing a tracker never hides the search's own outcome
                log.warning("closing search callback %r failed", cb, exc_info=True)


def tracker(kind: str, uri: str | os.PathLike | None = None, save: str | os.PathLike | None = None,
            experiment: str = "nsganetv2"):
    """A search callback that tracks each iteration in ``kind`` (``mlflow``: ``uri`` is the tracking URI, default
    MLflow's own; ``tensorboard``: ``uri`` is the log folder, default ``save/tensorboard``). Needs
    ``pip install nsganetv2[tracking]``; see :mod:`nsganetv2.tracking`."""
    from nsganetv2.tracking import make_tracker

    return make_tracker(kind, uri, save=save, experiment=experiment)


def open_search(settings: SearchSettings, save: str | os.PathLike, resume: bool = False) -> MSuNAS:
    """The search in ``save`` as an ``MSuNAS`` object for ``ask()`` / ``tell()`` (your evaluation) or ``run()``.

    Without ``settings.supernet_path`` the NAS problem has no evaluator: ``ask()`` gives architectures and
    ``tell()`` takes your results (a dict with ``"top1"`` accuracy per architecture, or an exception).
    """
    if settings.supernet_path or settings.eval_workers or settings.n_gpus or settings.ray_address:
        raise ValueError("open_search() evaluates nothing itself: drop supernet_path / n_gpus / eval_workers / "
                         "ray_address, or use search() to evaluate with the supernet")
    problem = test_problem(settings.problem) if settings.problem else nas_problem(settings, save=save)
    if resume:
        return MSuNAS.load(save, problem, progress=settings.progress, callbacks=settings.callbacks)
    return MSuNAS(problem, save, **settings.search_kwargs())


def load_result(save: str | os.PathLike) -> SearchResult:
    """The archive of the search in ``save`` (finished or not) as arrays and records; ``.to_dataframe()``."""
    return SearchResult.load(save)


def report(save: str | os.PathLike, csv: bool = False) -> list[Path]:
    """Plots and ``summary.md`` of the search in ``save`` (and with ``csv`` the archive as a table,
    ``report/archive.csv``); returns the files written."""
    from nsganetv2.report import make_report

    files = make_report(save)
    if csv:
        files.append(SearchResult.load(save).to_csv(Path(save) / "report" / "archive.csv"))
    return files


# ----------------------------------------------------------------------------------------------------- select
def select(settings: SelectSettings, save: str | os.PathLike) -> list[Path]:
    """Choose architectures from ``settings.expr`` and export each to a folder under ``save``."""
    from nsganetv2.select import check_amp, choose, export, load_front

    s = settings
    front = load_front(s.expr, sec_obj=s.sec_obj)
    chosen = choose(front, n=s.n, prefer=s.prefer)
    supernet = loaders = None
    if s.supernet_path:
        from nsganetv2.data import build_loaders
        from nsganetv2.supernet import load_supernet

        if s.recalibrate:
            loaders = build_loaders(s.dataset, s.data, vld_size=s.vld_size, n_calib=s.n_calib)
        supernet = load_supernet(s.supernet_path, n_classes=loaders.n_classes if loaders is not None else None)
    amp = check_amp(s.amp, front) if loaders is not None and s.check else None
    folders = export(front, chosen, save, supernet=supernet, loaders=loaders, onnx=s.onnx, amp=amp)
    for i, folder in zip(chosen, folders):
        values = ", ".join(f"{n}={v:.4g}" for n, v in zip(front.objectives, front.F[i]))
        log.info("%s: %s (top1 is the error in %%)", folder, values)
    return folders


def validate(config: str | os.PathLike, weights: str | os.PathLike | None = None, dataset: str = "mnist5k",
             data: str | None = None, batch_size: int = 256, workers: int = 0, img_size: int | None = None,
             device: str = "cpu", amp: str | None = None):
    """Top-1 / top-5 / loss of a ``net.config`` + weights on the dataset's test split (see ``evaluation.validate``)."""
    from nsganetv2.evaluation.validate import validate as _validate

    return _validate(config, weights, dataset, data, batch_size=batch_size, workers=workers, img_size=img_size,
                     device=device, amp=amp)


# ----------------------------------------------------------------------------------------------------- latency
def build_latency_table(settings: LatencyTableSettings, save: str | os.PathLike):
    """Measure every block of the space on this CPU into the YAML table ``save`` (resumes if it exists)."""
    from nsganetv2.evaluation.latency import build_lut

    s = settings
    return build_lut(resolutions=s.resolutions or default_resolutions("imagenet"), width_mult=s.width_mult,
                     n_classes=s.n_classes, path=save, threads=s.threads, runs=s.runs, calibrate=s.calibrate,
                     progress=s.progress)


def predict_latency(lut: str | os.PathLike, config: Any, resolution: int | None = None,
                    width_mult: float | None = None, n_classes: int = 1000) -> float:
    """Latency (ms) of an architecture (a ``net.subnet`` path, a dict or an ``Arch``) from a table; the width is the
    architecture's own (``"w"`` in NAT's files) unless ``width_mult`` is given (a contradiction is an error)."""
    from nsganetv2.evaluation.latency import LatencyTable
    from nsganetv2.space import Arch, OFAMobileNetV3Space

    arch = Arch.load(config) if isinstance(config, (str, os.PathLike)) else Arch.from_config(config)
    arch = Arch.from_config(arch, resolution=resolution, width=width_mult)
    if arch.r is None:
        raise ValueError(f"{config} has no resolution 'r'; pass --resolution")
    cfg = OFAMobileNetV3Space(resolutions=[arch.r]).validate_config(arch.to_config())
    return LatencyTable.load(lut).predict(cfg, width_mult=arch.width, n_classes=n_classes)


def measure_latency(config: str | os.PathLike, weights: str | os.PathLike | None = None, img_size: int | None = None,
                    batch_size: int = 1, threads: int = 1, runs: int = 50):
    """ONNX Runtime latency statistics of a ``net.config`` network."""
    from nsganetv2.evaluation.latency import measure_onnx
    from nsganetv2.evaluation.validate import load_network

    net = load_network(config, weights)
    return measure_onnx(net, int(img_size or net.resolution or 224), batch_size=batch_size, threads=threads,
                        runs=runs)


# ----------------------------------------------------------------------------------------------------- training
def train_supernet(settings: SupernetSettings, save: str | os.PathLike) -> dict:
    """Train (or, with ``resume``, continue training) a supernet into ``save``; under torchrun every rank trains
    its slice of each batch. Returns the held-out top-1 of the smallest, middle and largest subnets (rank 0)."""
    import torch

    from nsganetv2.data import build_loaders
    from nsganetv2.distributed import init_distributed
    from nsganetv2.evaluation.accuracy import evaluate, recalibrate_bn
    from nsganetv2.supernet import OFAMobileNetV3Supernet, load_supernet
    from nsganetv2.supernet.training import SupernetTrainConfig, folder_problem
    from nsganetv2.supernet.training import train_supernet as _train

    s = settings
    resolutions = s.resolutions or default_resolutions(s.dataset)
    cfg = SupernetTrainConfig(epochs=s.epochs, lr=s.lr, optimizer=s.optimizer, label_smoothing=s.label_smoothing,
                              resolutions=resolutions, seed=s.seed, n_random=s.n_random, kd_ratio=s.kd_ratio,
                              max_steps_per_epoch=s.max_steps, schedule=list(s.phases),
                              checkpoint_every_s=s.checkpoint_every_s)  # a bad recipe is refused before any work
    if problem := folder_problem(Path(save), s.resume, s.overwrite):
        raise ValueError(problem)
    env = init_distributed()
    torch.manual_seed(s.seed)
    loaders = build_loaders(s.dataset, s.data, resolution=max(resolutions), vld_size=s.vld_size,
                            batch_size=s.batch_size, n_calib=s.n_calib, n_workers=s.n_workers, seed=s.seed)
    if s.init:
        net = load_supernet(s.init, n_classes=loaders.n_classes)
    else:
        net = OFAMobileNetV3Supernet(n_classes=loaders.n_classes, width_mult=s.width_mult, dropout_rate=0.0)
    _train(net, loaders.train, cfg, save, resume=s.resume, progress=s.progress, env=env, device=env.device,
           overwrite=s.overwrite)
    out: dict = {"save": str(Path(save) / "supernet.pth"), "top1": {}}
    if env.is_main:
        net.eval()
        for name, config in (("smallest", net.min_config()), ("middle", net.mid_config()),
                             ("largest", net.max_config())):
            for r in sorted({min(resolutions), max(resolutions)}):
                sub = net.extract(config)
                loaders.set_resolution(r)
                recalibrate_bn(sub, loaders.calib, device=env.device)
                out["top1"][f"{name}@{r}"] = evaluate(sub, loaders.valid, device=env.device).top1
    env.close()
    return out


def finetune(config: Any) -> dict:
    """Fine-tune a searched network (``nsganetv2.train.TrainConfig``: CIFAR- or ImageNet-style recipe)."""
    from nsganetv2.train import train

    return train(config)


def _settings_from(cls: type, values: dict) -> Any:
    """``cls(**values)`` keeping only ``cls``'s fields (for callers holding a wider namespace, like the CLI)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
