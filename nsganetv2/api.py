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

import json
import logging
import os
from dataclasses import dataclass, field, fields
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nsganetv2.distributed import DevicePlan, plan_devices
from nsganetv2.evaluation.objectives import objectives_from_flags
from nsganetv2.search import MSuNAS, SearchResult, SetupError, read_state, test_problem
from nsganetv2.search.problems import TEST_PROBLEMS, OFANASProblem
from nsganetv2.space import default_resolutions

log = logging.getLogger(__name__)

__all__ = ["SearchSettings", "SelectSettings", "SupernetSettings", "LatencyTableSettings", "EvaluateSettings",
           "build_latency_table", "evaluate_one", "import_run", "load_result", "load_subnet", "nas_problem",
           "recorded_objectives", "recorded_settings", "open_search", "predict_latency", "predictor_problem",
           "resume", "search", "select", "train_supernet", "validate", "measure_latency", "finetune", "report",
           "tracker", "TEST_PROBLEMS"]

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
    runtime: str = "onnxruntime"  # the cpu objective's runtime (onnxruntime, openvino); a --lut must record the same
    flops_counter: str | None = None  # "ofa" (default) or "original" (torchprofile's, as the original's files)
    n_classes: int | None = None  # the original's --n_classes: checked against the dataset's
    test: bool = False  # the original's --test: top-1 on the test split (it leaks the test set into the search)
    gpu: int = 1  # the original's --gpu (GPUs per evaluation job): here always 1, one worker per GPU
    # how a candidate is evaluated
    supernet_path: str | None = None
    acc_predictor: str | None = None  # OFA's ImageNet accuracy predictor file: top-1 predicted, not measured
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
    backend: str = "torch"  # auto, torch, onnxruntime, openvino (nsganetv2.evaluation.backends)
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
    features: str = "raw"  # the surrogate's encoding of a genome: raw (the original's), onehot or stages
    selection: str = "hv"  # the batch: hv (predicted-HV infill) or gaps (the original's subset selection)
    optimism: float = 0.0  # hv: predictions lowered by this many standard deviations (a surrogate with a std)
    max_train: int | None = 1000  # the surrogate's training records at most (best fronts first); None: all
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
        if self.gpu != 1:
            raise ValueError(f"--gpu {self.gpu}: every evaluation here runs on one GPU, one worker per GPU (--n_gpus "
                             "N evaluates N architectures at a time); drop --gpu")
        if self.flops_counter is not None and self.flops_counter not in ("ofa", "original"):
            raise ValueError(f"flops_counter must be 'ofa' or 'original', got {self.flops_counter!r}")
        from nsganetv2.search.proposal import SELECTIONS
        from nsganetv2.space.ofa_mbv3 import FEATURE_KINDS

        if self.selection not in SELECTIONS:
            raise ValueError(f"--selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"--features must be one of {FEATURE_KINDS}, got {self.features!r}")
        _require(self, "optimism", lambda v: v >= 0, "a number >= 0 (standard deviations)")
        if self.max_train is not None:
            _require(self, "max_train", lambda v: v >= 2 and v == int(v), "an integer >= 2 (or None: no cap)")
        if self.acc_predictor and self.supernet_path:
            raise ValueError("--acc_predictor and --supernet_path both say how top-1 is obtained: give one (the "
                             "predictor's top-1 is OFA's ImageNet prediction, the supernet's is measured)")
        _check_backend(self.backend)
        _check_runtime(self.runtime)
        if self.predictor_kwargs is not None and not isinstance(self.predictor_kwargs, dict):
            raise ValueError(f"predictor_kwargs must be a JSON object (a dict), got {self.predictor_kwargs!r}")

    def to_config(self) -> dict:
        """The settings as plain values for ``config.yaml`` (what ``progress`` and a non-name predictor are not)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("progress", "callbacks")}
        out["objectives"] = list(self.objectives)
        if not isinstance(self.predictor, str):
            out.pop("predictor")
        return out

    @classmethod
    def from_config(cls, path: str | os.PathLike, **overrides: Any) -> SearchSettings:
        """Settings from a YAML (or JSON) file of field names, e.g. a run folder's ``config.yaml``; ``overrides``
        win. An unknown name is an error naming it."""
        values = read_config(path)
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {unknown}; see `nsganetv2 search --help` for the names")
        return cls(**{**values, **overrides})

    def search_kwargs(self) -> dict:
        return dict(n_doe=self.n_doe, iterations=self.iterations, n_iter=self.n_iter, predictor=self.predictor,
                    predictor_kwargs=self.predictor_kwargs, seed=self.seed, pop_size=self.pop_size,
                    n_gen=self.n_gen, progress=self.progress, callbacks=self.callbacks, selection=self.selection,
                    optimism=self.optimism, max_train=self.max_train)


@dataclass
class SelectSettings:
    """Choosing and exporting final architectures from an ``iter_<k>.stats`` (the CLI's ``select`` flags).

    With ``supernet_path`` and no ``dataset`` the exports keep the supernet's own head and BatchNorm statistics (as
    the original's ``post_search.py``); with a ``dataset`` the head is replaced when its class count differs and BN
    is recalibrated on its training images (unless ``recalibrate`` is off)."""

    expr: str
    n: int = 1
    prefer: str | None = None
    sec_obj: str | None = None
    supernet_path: str | None = None
    dataset: str | None = None
    data: str | None = None
    vld_size: int | None = None
    n_calib: int = 2000
    recalibrate: bool = True
    onnx: bool = True
    check: bool = True
    amp: str = "auto"


@dataclass
class EvaluateSettings:
    """Evaluating one architecture, as the original's ``evaluator.py``: a ``subnet`` ({ks, e, d, r}) taken from
    ``supernet_path`` with BN recalibrated (and ``n_epochs`` of fine-tuning), or a ``config`` (``net.config``) with
    its weights ``init`` (BN recalibrated with ``reset_running_statistics``). Top-1 on the held-out split of the
    training images (``vld_size``), or on the test split with ``test``."""

    subnet: str | None = None
    config: str | None = None
    init: str | None = None
    supernet_path: str | None = None
    dataset: str = "mnist5k"
    data: str | None = None
    n_classes: int | None = None
    vld_size: int | None = None
    test: bool = False
    n_epochs: int = 0
    resolution: int | None = None
    reset_running_statistics: bool = False
    n_calib: int = 2000
    trn_batch_size: int = 128
    vld_batch_size: int = 256
    n_workers: int = 0
    amp: str = "auto"
    backend: str = "torch"  # auto, torch, onnxruntime, openvino (nsganetv2.evaluation.backends)
    device: str = "auto"
    flops_counter: str = "ofa"
    seed: int = 0

    def __post_init__(self) -> None:
        _check_backend(self.backend)
        if (self.subnet is None) == (self.config is None):
            raise ValueError("give either --subnet (with --supernet_path) or --config (with --init), as evaluator.py")
        if self.subnet is not None and not self.supernet_path:
            raise ValueError("--subnet needs --supernet_path (the supernet to take it from)")
        if self.config is not None and self.n_epochs:
            raise ValueError("--config with --n_epochs: fine-tune a net.config with `nsganetv2 train`")


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
    runtime: str = "onnxruntime"  # or openvino (pip install nsganetv2[openvino])
    precision: str = "fp32"  # bf16: openvino only
    batch_size: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        _check_runtime(self.runtime, self.precision)
        for name in ("n_classes", "threads", "runs", "batch_size"):
            _require(self, name, lambda v: v >= 1, ">= 1")
        _require(self, "calibrate", lambda v: v >= 0, ">= 0")
        _require(self, "width_mult", lambda v: v > 0, "> 0")


CONFIG_FILE = "config.yaml"


def read_config(path: str | os.PathLike) -> dict:
    """A settings file: a YAML (or JSON) mapping of names to values; errors name the file."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"config file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"config file {path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping of setting names to values")
    return values


def write_config(settings: SearchSettings, save: str | os.PathLike) -> Path:
    """The fully resolved settings of a search, as ``config.yaml`` in its folder (so ``--resume`` needs no flags)."""
    import yaml

    from nsganetv2.atomic import atomic_write

    return atomic_write(Path(save) / CONFIG_FILE, yaml.safe_dump(settings.to_config(), sort_keys=False))


def _check_runtime(runtime: str, precision: str = "fp32") -> None:
    from nsganetv2.evaluation.runtimes import RUNTIME_PRECISIONS, RUNTIMES

    if runtime not in RUNTIMES:
        raise ValueError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if precision not in RUNTIME_PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(RUNTIME_PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and runtime == "onnxruntime":
        raise ValueError("--precision bf16 needs --runtime openvino (onnxruntime times fp32 only)")


def _check_backend(backend: str) -> None:
    from nsganetv2.evaluation.backends import BACKENDS

    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def _backend_and_amp(amp: str, backend: str, device: Any, recorded: dict | None, what: str) -> tuple[str, str]:
    """The concrete backend and ``--amp`` of an evaluation; ``recorded`` (a search's problem record) keeps its own
    (``auto``) or refuses a different one (see ``backend_for_record`` and ``amp_for_record``)."""
    from nsganetv2.evaluation.accuracy import amp_for_record
    from nsganetv2.evaluation.backends import backend_amp, backend_for_record

    recorded = recorded or {}
    # a search recorded before backends existed was measured by torch
    kept = (recorded.get("environment") or {}).get("backend", "torch") if recorded else None
    backend = backend_for_record(backend, device, kept, what)
    if amp == "auto" and recorded.get("amp") is not None:
        amp = amp_for_record("auto", device, recorded["amp"], what)
    else:
        amp = amp_for_record(backend_amp(amp, backend), device, recorded.get("amp"), what)
    backend_amp(amp, backend)  # the kept precision must run on this backend
    return backend, amp


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
    from nsganetv2.evaluation.accuracy import precision_record, resolve_amp
    from nsganetv2.evaluation.evaluator import EvalSpec, SubnetEvaluator
    from nsganetv2.space import OFAMobileNetV3Space

    s = settings
    if s.acc_predictor:
        return _predictor_problem(s, save)
    space = OFAMobileNetV3Space(resolutions=s.resolutions or default_resolutions(s.dataset))
    n_classes = (num_classes(s.dataset) if s.dataset != "folder" else None) or 1000
    if s.n_classes is not None:
        own = num_classes(s.dataset, s.data)
        if s.n_classes != own:
            raise ValueError(f"--n_classes {s.n_classes}, but {s.dataset} has {own} classes: drop the flag (the head "
                             "is the dataset's)")
    width_mult, evaluate_fn, precision, evaluation = 1.0, None, None, None
    if s.supernet_path:
        from nsganetv2.supernet import infer_width_mult, read_state_dict

        if not os.path.isfile(s.supernet_path):
            raise FileNotFoundError(f"supernet checkpoint {s.supernet_path} does not exist "
                                    "(train one with `nsganetv2 supernet train`)")
        plan = plan or plan_devices(s.device, s.n_gpus, s.eval_workers, ray_address=s.ray_address)
        recorded = read_state(resume)["problem"] if resume else None
        backend, amp = _backend_and_amp(s.amp, s.backend, plan.amp_device, recorded, f"the search in {resume}")
        log.info("evaluating with --backend %s --amp %s on %s", backend, amp, plan.amp_device.type)
        evaluator = SubnetEvaluator(EvalSpec(
            supernet_path=s.supernet_path, dataset=s.dataset, data=s.data, vld_size=s.vld_size, n_calib=s.n_calib,
            trn_batch_size=s.trn_batch_size, vld_batch_size=s.vld_batch_size, n_workers=s.n_workers,
            n_epochs=s.n_epochs, amp=amp, compile=s.compile, backend=backend, seed=s.seed, test=s.test))
        if s.test:
            log.warning("--test: top-1 is measured on the test split of %s (as the original's --test); the search "
                        "then selects on the test set", s.dataset)
        width_mult = infer_width_mult(read_state_dict(s.supernet_path))
        precision = precision_record(resolve_amp(amp, plan.amp_device), plan.amp_device, backend)
        evaluation = {"dataset": s.dataset, "vld_size": s.vld_size, "n_calib": s.n_calib, "n_epochs": s.n_epochs,
                      "seed": s.seed, "supernet_sha256": file_sha256(s.supernet_path)}
        if runner is None:
            raise ValueError("nas_problem needs a runner to evaluate with a supernet (see search())")

        def evaluate_fn(configs, on_result=None):  # streams each result to on_result as its worker finishes
            stream = None if on_result is None else (lambda i, r: on_result(i, r.value if r.ok else r.error))
            return [r.value if r.ok else r.error for r in runner.run(evaluator, configs, on_result=stream)]

    cpu_fn = _cpu_fn(s, space, n_classes, width_mult, resume or save)
    gpu_fn = _gpu_fn(n_classes, width_mult, resume or save) if "gpu" in s.objectives else None
    return OFANASProblem(evaluate_fn, s.objectives, space=space, cpu_fn=cpu_fn, n_classes=n_classes,
                         width_mult=width_mult, precision=precision, streaming=evaluate_fn is not None,
                         evaluation=evaluation, flops_counter=s.flops_counter or "ofa", gpu_fn=gpu_fn,
                         top1_split="test" if s.test else "held-out", lut_fn=_lut_fn(s, space, n_classes, width_mult),
                         features=s.features)


def _lut_fn(s: SearchSettings, space: Any, n_classes: int, width_mult: float):
    """The latency objective: the look-up table ``s.lut`` of the target device (without one, the objective's
    registry entry refuses the search)."""
    return _table_fn(s.lut, space, n_classes, width_mult) if "latency" in s.objectives and s.lut else None


def _table_fn(lut: str, space: Any, n_classes: int, width_mult: float):
    """``config -> ms`` from the latency table ``lut``, checked to cover the space before anything is evaluated."""
    from nsganetv2.evaluation.latency import cpu_latency_fn

    fn = cpu_latency_fn(lut, width_mult=width_mult, n_classes=n_classes)
    _check_table_covers(lut, fn, space)
    return fn


def predictor_problem(acc_predictor: str | os.PathLike, objectives: Sequence[str] = ("top1", "latency"),
                      lut: str | os.PathLike | None = None, resolutions: Sequence[int] | None = None,
                      features: str = "raw") -> OFANASProblem:
    """OFA's ImageNet specialisation problem: top-1 from OFA's accuracy predictor file (each call stands for one
    ImageNet evaluation) with cheap objectives of the w1.2 supernet (``latency`` from ``lut``, e.g. OFA's Note10
    tables, FLOPs, params); resolutions default to OFA's 160-224 step 16."""
    settings = SearchSettings(acc_predictor=str(acc_predictor), objectives=tuple(objectives),
                              lut=str(lut) if lut else None, resolutions=list(resolutions) if resolutions else None,
                              dataset="imagenet", features=features)
    return _predictor_problem(settings, None)


def _predictor_problem(s: SearchSettings, save: str | os.PathLike | None) -> OFANASProblem:
    from nsganetv2.evaluation.ofa_predictor import WIDTH_MULT, OFAAccuracyPredictor
    from nsganetv2.space import OFAMobileNetV3Space

    if "gpu" in s.objectives:
        raise ValueError("--acc_predictor searches OFA's ImageNet landscape: use the objectives latency (with --lut), "
                         "flops, params or cpu")
    space = OFAMobileNetV3Space(resolutions=s.resolutions or list(range(160, 225, 16)))
    predictor = OFAAccuracyPredictor.load(s.acc_predictor)
    predictor(space.initial_design(2, 0))  # a resolution the predictor lacks is refused before anything is recorded
    cpu_fn = _cpu_fn(s, space, 1000, WIDTH_MULT, save)
    return OFANASProblem(predictor, s.objectives, space=space, cpu_fn=cpu_fn, n_classes=1000, width_mult=WIDTH_MULT,
                         evaluation={"acc_predictor_sha256": file_sha256(s.acc_predictor)},
                         flops_counter=s.flops_counter or "ofa", lut_fn=_lut_fn(s, space, 1000, WIDTH_MULT),
                         features=s.features)


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


def _gpu_fn(n_classes: int, width_mult: float, folder: str | os.PathLike | None):
    """The gpu objective: each subnet timed with torch on this machine's CUDA GPU (batch 64, as the original's
    ``gpu64``), cached in the search folder; refused where there is no CUDA device."""
    import torch

    if not torch.cuda.is_available():
        raise ValueError("--sec_obj gpu measures latency on a CUDA GPU: not supported on this machine (no CUDA "
                         "device); use cpu, flops or params")
    return _timing_meter(n_classes, width_mult, folder, "latency_gpu_cache.json", on_gpu=True, backend="torch",
                         batch_size=64, warmup=10, runs=50, tag=f"cuda {torch.cuda.get_device_name()}")


def _cpu_fn(s: SearchSettings, space: Any, n_classes: int, width_mult: float, folder: str | os.PathLike | None):
    """The cpu objective (None when it is not searched): the look-up table ``s.lut`` (checked to cover the space),
    else measurement of each subnet in ``s.runtime``."""
    from nsganetv2.evaluation.latency import cpu_latency_fn

    if "cpu" not in s.objectives:
        return None
    if s.lut:
        _check_table_runtime(s.lut, s.runtime)
        return _table_fn(s.lut, space, n_classes, width_mult)
    log.warning("no latency table: every network NSGA-II proposes is exported and timed (about a second each); "
                "build a table once with `nsganetv2 latency build-lut` for a fast search")
    return cpu_latency_fn(meter=_timing_meter(n_classes, width_mult, folder, "latency_cache.json",
                                              runtime=s.runtime))


def _check_table_runtime(lut: str, runtime: str) -> None:
    """A table built with another runtime than the search's ``--runtime`` is refused (tables from before runtime
    records, the original's and OFA's count as onnxruntime)."""
    from nsganetv2.evaluation.latency.build import table_runtime

    if not os.path.isfile(lut):
        return  # a folder of OFA tables, or a missing file that the loader names
    header = "\n".join(line[1:].strip() for line in Path(lut).read_text().splitlines() if line.startswith("#"))
    recorded = (table_runtime(header) or {}).get("runtime", "onnxruntime")
    if recorded != runtime:
        raise ValueError(f"latency table {lut} was measured with {recorded}, but --runtime is {runtime}: pass "
                         f"--runtime {recorded}, or build a table with `nsganetv2 latency build-lut --runtime "
                         f"{runtime}`")


def _timing_meter(n_classes: int, width_mult: float, folder: str | os.PathLike | None, cache_name: str,
                  on_gpu: bool = False, **meter_kwargs: Any):
    """A ``LatencyMeter`` timing each subnet of a supernet of this head and width (its weights do not matter),
    caching the measurements in ``folder/cache_name``."""
    from nsganetv2.evaluation.latency import LatencyMeter
    from nsganetv2.supernet import OFAMobileNetV3Supernet

    timing_net = OFAMobileNetV3Supernet(n_classes=n_classes, width_mult=width_mult).eval()
    cache = Path(folder or ".") / cache_name
    cache.parent.mkdir(parents=True, exist_ok=True)
    build = (lambda config: timing_net.extract(config).cuda()) if on_gpu else timing_net.extract
    return LatencyMeter(build, cache_path=cache, **meter_kwargs)


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


def recorded_settings(save: str | os.PathLike, settings: SearchSettings) -> SearchSettings:
    """``settings`` with what it leaves open (``resolutions``, ``flops_counter``) taken from the search in ``save``
    (and ``objectives`` too when ``objectives`` is None)."""
    from dataclasses import replace

    problem = read_state(save)["problem"]
    values = {}
    if settings.resolutions is None and problem.get("resolutions"):
        values["resolutions"] = list(problem["resolutions"])
    if settings.flops_counter is None and problem.get("flops_counter"):
        values["flops_counter"] = problem["flops_counter"]
    return replace(settings, **values) if values else settings


def recorded_objectives(save: str | os.PathLike) -> tuple[str, ...]:
    """The objectives of the search in ``save``; a ``ValueError`` when one cannot be computed here (an imported
    search whose second column is a score of another program)."""
    from nsganetv2.evaluation.objectives import cheap_objective_names

    names = tuple(read_state(save)["problem"]["objectives"])
    unknown = [n for n in names[1:] if n not in cheap_objective_names()]
    if unknown:
        raise ValueError(f"the search in {save} has the objective {unknown[0]!r}, which this version cannot compute "
                         f"for new candidates; import the run again with --sec_obj flops (or params) to continue it")
    return names


def _run(settings: SearchSettings, save: str | os.PathLike, resume: bool, write_report: bool,
         iterations: int | None = None, retry_failed: bool = False) -> SearchResult:
    from nsganetv2.evaluation.runners import DistributedRunner

    if resume:
        settings = recorded_settings(save, settings)
    session = _Session(settings, save, resume)
    try:
        if isinstance(session.runner, DistributedRunner) and session.runner.rank > 0:
            session.runner.serve()  # ranks > 0 evaluate the shards rank 0 sends, until it closes the runner
            return MSuNAS.load(save, session.problem).result()
        if not resume:
            search = MSuNAS(session.problem, save, **settings.search_kwargs())
            search.check()  # settings refused before anything is written
            existed = Path(save).exists()
            write_config(settings, save)
            try:
                result = search.run()
            except SetupError:
                _remove_new_search(Path(save), existed)  # nothing was recorded: leave no search behind
                raise
        else:
            overrides = {"progress": settings.progress, "retry_failed": retry_failed, "callbacks": settings.callbacks}
            if iterations is not None:
                overrides["iterations"] = iterations
            result = MSuNAS.load(save, session.problem, **overrides).run()
    finally:
        session.close()
        _close_callbacks(settings.callbacks)
    if write_report:
        report(save)
    return result


def _remove_new_search(save: Path, existed: bool) -> None:
    """Undo the files a new search wrote before its first evaluation failed (the folder too if it made it)."""
    import shutil

    if not existed:
        shutil.rmtree(save, ignore_errors=True)
        return
    for name in ("search.json", CONFIG_FILE, "archive.jsonl"):
        (save / name).unlink(missing_ok=True)
    shutil.rmtree(save / "iter_0", ignore_errors=True)


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


def open_search(settings: SearchSettings, save: str | os.PathLike, resume: bool = False,
                iterations: int | None = None) -> MSuNAS:
    """The search in ``save`` as an ``MSuNAS`` object for ``ask()`` / ``tell()`` (your evaluation) or ``run()``;
    ``iterations`` extends a resumed search (e.g. an imported run of the original) beyond its recorded plan.

    Without ``settings.supernet_path`` the NAS problem has no evaluator: ``ask()`` gives architectures and
    ``tell()`` takes your results (a dict with ``"top1"`` accuracy per architecture, or an exception).
    """
    if settings.supernet_path or settings.eval_workers or settings.n_gpus or settings.ray_address:
        raise ValueError("open_search() evaluates nothing itself: drop supernet_path / n_gpus / eval_workers / "
                         "ray_address, or use search() to evaluate with the supernet")
    if resume and not settings.problem:
        settings = recorded_settings(save, settings)
    problem = test_problem(settings.problem) if settings.problem else nas_problem(settings, save=save)
    if resume:
        more = {} if iterations is None else {"iterations": iterations}
        return MSuNAS.load(save, problem, progress=settings.progress, callbacks=settings.callbacks, **more)
    return MSuNAS(problem, save, **settings.search_kwargs())


def import_run(original: str | os.PathLike, save: str | os.PathLike, sec_obj: str | None = None,
               resolutions: list[int] | None = None):
    """Import a search folder of the original NSGANetV2 (``iter_k.stats`` + ``iter_k/net_i.subnet|stats`` +
    ``failed/``) into the new folder ``save`` (``archive.jsonl``, ``search.json``, ``iter_k.stats``), so that
    :func:`report`, :func:`select` and :func:`resume` work on it; returns an ``ImportReport`` (rows, records, HV per
    iteration against the original's, what was inferred). ``sec_obj`` / ``resolutions`` give what cannot be
    inferred (see ``nsganetv2.search.importer``)."""
    from nsganetv2.search.importer import import_original_run

    return import_original_run(original, save, sec_obj=sec_obj, resolutions=resolutions)


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

        n_classes = None
        if s.dataset is None:
            log.warning("select: no --dataset, so the exports keep the supernet's own head and BatchNorm statistics "
                        "(as the original's post_search.py); pass --dataset (and --data) to recalibrate BN on its "
                        "training images, fit the head to its classes and check each export")
        elif s.recalibrate:
            loaders = build_loaders(s.dataset, s.data, vld_size=s.vld_size, n_calib=s.n_calib)
            n_classes = loaders.n_classes
        supernet = load_supernet(s.supernet_path, n_classes=n_classes)
    amp = check_amp(s.amp, front) if loaders is not None and s.check else None
    folders = export(front, chosen, save, supernet=supernet, loaders=loaders, onnx=s.onnx, amp=amp)
    for i, folder in zip(chosen, folders):
        values = ", ".join(f"{n}={v:.4g}" for n, v in zip(front.objectives, front.F[i]))
        log.info("%s: %s (top1 is the error in %%)", folder, values)
    return folders


def evaluate_one(settings: EvaluateSettings) -> dict:
    """Evaluate one architecture (the original's ``evaluator.py``); returns its ``net.stats`` dict: params and
    flops (M, in ``flops_counter``'s definition), top1, top5 and loss (%), the resolution, split and precision."""

    from nsganetv2.data import build_loaders, build_test_loader, num_classes
    from nsganetv2.evaluation.accuracy import evaluate, precision_record, resolve_amp
    from nsganetv2.evaluation.backends import recalibrate, validation_model
    from nsganetv2.evaluation.complexity import complexity, in_millions, profile_module

    s = settings
    plan = plan_devices(s.device, 0, None)
    device = plan.amp_device
    backend, amp = _backend_and_amp(s.amp, s.backend, device, None, "evaluate")
    if s.n_classes is not None and s.n_classes != num_classes(s.dataset, s.data):
        raise ValueError(f"--n_classes {s.n_classes}, but {s.dataset} has {num_classes(s.dataset, s.data)} classes")
    split = "test" if s.test else "held-out"
    if s.subnet is not None:
        from nsganetv2.evaluation.evaluator import EvalSpec, SubnetEvaluator

        arch = load_subnet(s.subnet, resolution=s.resolution)
        config = arch.to_config()
        evaluator = SubnetEvaluator(EvalSpec(
            supernet_path=s.supernet_path, dataset=s.dataset, data=s.data, vld_size=s.vld_size, n_calib=s.n_calib,
            trn_batch_size=s.trn_batch_size, vld_batch_size=s.vld_batch_size, n_workers=s.n_workers,
            n_epochs=s.n_epochs, amp=amp, backend=backend, seed=s.seed, test=s.test))
        out = evaluator(config, device)
        supernet, loaders = evaluator._setup()
        cx = complexity(config, loaders.n_classes, supernet.width_mult, counter=s.flops_counter)
        out.update(params=in_millions(cx.params), flops=in_millions(cx.flops), resolution=arch.r)
    else:
        from nsganetv2.evaluation.validate import load_network, network_resolution

        r, source = network_resolution(s.config, s.resolution)
        log.info("evaluating %s at %d px (%s)", s.config, r, source)
        net = load_network(s.config, s.init).to(device)
        loaders = build_loaders(s.dataset, s.data, resolution=r, vld_size=s.vld_size, batch_size=s.trn_batch_size,
                                eval_batch_size=s.vld_batch_size, n_calib=s.n_calib, n_workers=s.n_workers,
                                seed=s.seed)
        if net.n_classes != loaders.n_classes:
            raise ValueError(f"{s.config} has a {net.n_classes}-class head but {s.dataset} has {loaders.n_classes} "
                             "classes; evaluate it on its own dataset")
        if s.reset_running_statistics:
            recalibrate(net, loaders.calib, backend, device)
        loader = build_test_loader(s.dataset, s.data, r, batch_size=s.vld_batch_size, n_workers=s.n_workers) \
            if s.test else loaders.valid
        amp_dtype = resolve_amp(amp, device)
        acc = evaluate(validation_model(net, r, backend, amp), loader, device,
                       amp_dtype if backend == "torch" else None)
        cx = profile_module(net, r, counter=s.flops_counter)
        out = {"top1": acc.top1, "top5": acc.top5, "loss": acc.loss, "n_vld": acc.n,
               "params": in_millions(cx.params), "flops": in_millions(cx.flops), "resolution": r,
               "precision": precision_record(amp_dtype, device, backend)}
    out.update(split=split, flops_counter=s.flops_counter)
    return out


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
                     progress=s.progress, runtime=s.runtime, precision=s.precision, batch_size=s.batch_size)


def predict_latency(lut: str | os.PathLike, config: Any, resolution: int | None = None,
                    width_mult: float | None = None, n_classes: int = 1000) -> float:
    """Latency (ms) of an architecture (a ``net.subnet`` path, a dict or an ``Arch``) from a table (the original's
    format, or OFA's: a file per resolution or a folder of them); the width is the architecture's own (``"w"`` in
    NAT's files) unless ``width_mult`` is given (a contradiction is an error)."""
    from nsganetv2.evaluation.latency import load_latency_table
    from nsganetv2.space import Arch, OFAMobileNetV3Space

    if isinstance(config, (str, os.PathLike)):
        arch = load_subnet(config, resolution=resolution, width=width_mult)
    else:
        arch = Arch.from_config(config, resolution=resolution, width=width_mult)
    if arch.r is None:
        raise ValueError(f"{config} has no resolution 'r'; pass --resolution")
    cfg = OFAMobileNetV3Space(resolutions=[arch.r]).validate_config(arch.to_config())
    return load_latency_table(lut).predict(cfg, width_mult=arch.width, n_classes=n_classes)


def load_subnet(path: str | os.PathLike, resolution: int | None = None, width: float | None = None):
    """The ``Arch`` of a ``net.subnet`` file with its width: the file's ``w``; without one, the width of the
    ``net.config`` beside it (NAT wrote some w1.2 subnets without ``w``), logged; else 1.0. ``width`` overrides and
    must agree with both."""
    from nsganetv2.space import Arch
    from nsganetv2.supernet import stage_widths

    arch = Arch.load(path, resolution=resolution, width=width)
    raw = json.loads(Path(path).read_text())
    sibling = Path(path).with_name("net.config")
    if any(raw.get(k) is not None for k in ("w", "width", "width_mult")) or not sibling.is_file():
        return arch
    try:
        stem = int(json.loads(sibling.read_text())["first_conv"]["out_channels"])
    except (ValueError, KeyError, TypeError):
        return arch
    config_w = next((w for w in (1.0, 1.2) if stage_widths(w)[0] == stem), None)
    if config_w is None:
        return arch
    if width is not None and width != config_w:
        raise ValueError(f"{path}: width {width} was asked for, but the net.config beside it is w{config_w} (stem "
                         f"{stem} channels); drop --width_mult or fix the files")
    if config_w != arch.width:
        log.info("%s has no 'w'; the net.config beside it is w%s (stem %d channels): using width %s", path,
                 config_w, stem, config_w)
        arch = Arch.from_config(arch.to_config(), width=config_w)
    return arch


def measure_latency(config: str | os.PathLike, weights: str | os.PathLike | None = None, img_size: int | None = None,
                    batch_size: int = 1, threads: int = 1, runs: int = 50, runtime: str = "onnxruntime",
                    precision: str = "fp32"):
    """Latency statistics of a ``net.config`` network in ``runtime`` (ONNX Runtime, or OpenVINO in fp32 / bf16)."""
    from nsganetv2.evaluation.latency import measure_onnx
    from nsganetv2.evaluation.validate import load_network, network_resolution

    net = load_network(config, weights)
    resolution, source = network_resolution(config, img_size)
    log.info("measuring at %d px (%s)", resolution, source)
    _check_runtime(runtime, precision)
    return measure_onnx(net, resolution, batch_size=batch_size, threads=threads, runs=runs, runtime=runtime,
                        precision=precision)


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
