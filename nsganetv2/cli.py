"""Hardware-aware multi-objective neural architecture search (NSGANetV2 / MSuNAS).

Commands: search, select, validate, evaluate, train, supernet, latency, import, report, demo. Each accepts the
original scripts' flags where it has a counterpart (``--dataset --data --save --sec_obj --n_gpus --supernet_path
--vld_size --n_epochs``, ``-n --expr --prefer``, ...) plus our own, spelled with ``_`` or ``-`` alike.
This module only maps argv to the settings of ``nsganetv2.api``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from nsganetv2 import __version__

log = logging.getLogger("nsganetv2")

EXIT_CODES = "exit codes: 0 done; 2 a bad setting or input, one 'error:' line (-v for the traceback); 130 interrupted"

BACKEND_HELP = ("BN recalibration and validation in: torch (eager, or --compile), or on CPU the runtimes openvino "
                "(pip install nsganetv2[openvino]) or onnxruntime (fp32; bf16 on openvino only with --amp bf16); auto "
                "= torch on CUDA, on CPU the fastest installed one that matches eager fp32 to 1e-4")

# one line of help for options that many commands share (an option's own help= wins)
SHARED_HELP = {
    "amp": "autocast: auto = fp16 on CUDA, bf16 on CPUs with native bf16, else off",
    "batch_size": "images per batch",
    "data": "dataset root folder (not needed for the bundled mnist5k)",
    "dataset": "dataset name (imagenet, cifar10, ..., mnist5k)",
    "device": "auto, cpu, cuda or cuda:N",
    "epochs": "training epochs",
    "eval_batch_size": "images per evaluation batch",
    "flops_counter": "FLOPs definition: ofa (MACs of convolutions and linear layers) or original (torchprofile 0.0.1)",
    "img_size": "input resolution (default: the config's, then a run.config beside it, then 224)",
    "label_smoothing": "label smoothing of the cross-entropy",
    "lr": "learning rate",
    "model": "net.config of the network",
    "n_calib": "training images for BN recalibration",
    "n_classes": "classes of the head",
    "n_doe": "architectures in the initial design (DOE)",
    "n_gen": "NSGA-II generations on the surrogate per iteration",
    "n_workers": "data loader workers",
    "no_onnx": "do not export net.onnx",
    "optimizer": "optimizer",
    "pop_size": "NSGA-II population on the surrogate",
    "pretrained": "weights (net.inherited, net.best or {'state_dict': ...})",
    "quiet": "no progress bars and no INFO lines",
    "resolution": "input resolution (default: the subnet's r)",
    "resolutions": "resolution list, e.g. 192-256:4 or 32,36,40 (default: 192-256:4; 32,36,40 for mnist5k)",
    "runs": "timed runs per measurement",
    "save": "output folder or file",
    "seed": "random seed",
    "supernet_path": "OFA MobileNetV3 supernet checkpoint",
    "threads": "CPU threads",
    "trn_batch_size": "training images per batch",
    "vld_batch_size": "evaluation images per batch",
    "vld_size": "held-out training images for the top-1 (default: the dataset's)",
    "width_mult": "width multiplier of the supernet (1.0 or 1.2)",
    "workers": "data loader workers",
    "verbose": "debug logging, and tracebacks for errors",
    # fine-tuning (`train`), named as timm's train.py names them
    "cutout": "Cutout augmentation",
    "cutout_length": "side of the Cutout square (px)",
    "decay_epochs": "epochs between step decays of the learning rate",
    "decay_rate": "factor of each step decay",
    "drop_path": "drop-path (stochastic depth) rate",
    "grad_clip": "gradient-norm clipping (0: none)",
    "kd_ratio": "weight of the distillation loss",
    "kd_temperature": "distillation temperature",
    "min_lr": "lowest learning rate of the schedule",
    "model_ema_decay": "decay of the weights' moving average",
    "momentum": "SGD / RMSprop momentum",
    "opt_eps": "optimizer epsilon",
    "recount": "random-erasing count",
    "remode": "random-erasing mode",
    "sync_bn": "synchronised BatchNorm across processes",
    "teacher_mode": "the teacher in eval mode (default) or train mode, as OFA had it",
    "warmup_epochs": "epochs of learning-rate warm-up",
    "warmup_lr": "learning rate at the start of the warm-up",
    "weight_decay": "weight decay",
}


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` where the help does not state the default itself and the default says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _finish(parser: argparse.ArgumentParser) -> None:
    """For every command: shared help where an option has none, both spellings (``--n_doe`` and ``--n-doe``), and
    ``-v`` / ``-q`` accepted after the command too."""
    for action in list(parser._actions):
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.epilog = sub.epilog or EXIT_CODES
                for a in sub._actions:  # the top-level -v / -q must survive a command's own flag defaults
                    if a.dest in ("quiet", "verbose") and a.option_strings:
                        a.default = argparse.SUPPRESS
                        short = "-q" if a.dest == "quiet" else "-v"
                        if short not in sub._option_string_actions:
                            a.option_strings.insert(0, short)
                            sub._option_string_actions[short] = a
                if not any("--verbose" in a.option_strings for a in sub._actions):
                    sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                                     help=SHARED_HELP["verbose"])
                if not any("--quiet" in a.option_strings for a in sub._actions) and sub._subparsers is None:
                    sub.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                     help=SHARED_HELP["quiet"])
                _finish(sub)
            continue
        if not action.help and action.dest in SHARED_HELP:
            action.help = SHARED_HELP[action.dest]
        for opt in list(action.option_strings):
            if opt.startswith("--"):
                for other in (opt.replace("_", "-"), opt.replace("-", "_").replace("__", "--", 1)):
                    if other != opt and other not in parser._option_string_actions:
                        action.option_strings.append(other)
                        parser._option_string_actions[other] = action


def parse_resolutions(text: str) -> list[int]:
    """``"192-256:4"`` (start-stop:step, inclusive) or ``"32,40,48"`` (argparse type)."""
    from nsganetv2.space import parse_resolutions as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fields(args: argparse.Namespace, cls: type, **extra) -> dict:
    """The values of ``args`` that ``cls`` (a settings dataclass) has fields for, plus ``extra``."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    values.update(extra)
    return values


# ----------------------------------------------------------------------------------------------------- search
def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist5k", help="dataset name (imagenet, cifar10, ..., mnist5k; default mnist5k)")
    p.add_argument("--data", default=None, help="dataset root folder (not needed for the bundled mnist5k)")
    p.add_argument("--n_workers", type=int, default=0, help="data loader workers per evaluation process")


def _add_runtime_args(p: argparse.ArgumentParser, precision: bool = True) -> None:
    p.add_argument("--runtime", default="onnxruntime", choices=("onnxruntime", "openvino"),
                   help="the deploy runtime that times the network (openvino: pip install nsganetv2[openvino])")
    if precision:
        p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="bf16: openvino only")


def _add_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--supernet_path", help="OFA MobileNetV3 supernet checkpoint (ofa_mbv3_d234_e346_k357_w1.0 etc.)")
    p.add_argument("--acc_predictor", default=None,
                   help="instead of a supernet: OFA's ImageNet accuracy predictor (acc_predictor.pth) gives top-1 "
                        "(OFA's w1.2 space, resolutions 160-224:16; e.g. with --objectives top1,latency --lut NOTE10_DIR)")
    p.add_argument("--vld_size", type=int, default=None, help="held-out training images for the search's top-1")
    p.add_argument("--n_epochs", type=int, default=0, help="per-subnet fine-tune epochs before evaluation")
    p.add_argument("--trn_batch_size", type=int, default=128)
    p.add_argument("--vld_batch_size", type=int, default=250)
    p.add_argument("--n_calib", type=int, default=2000, help="training images for BN recalibration")
    p.add_argument("--amp", default="auto", choices=("auto", "off", "fp16", "bf16"),
                   help="autocast: auto = fp16 on CUDA, bf16 on CPUs with native bf16, else off; on --resume, auto "
                        "keeps the precision the search recorded")
    p.add_argument("--compile", action="store_true", help="torch.compile the subnets (pays on GPUs, rarely on CPU)")
    p.add_argument("--backend", default="torch", choices=("auto", "torch", "onnxruntime", "openvino"),
                   help=BACKEND_HELP + "; on --resume, auto keeps the backend the search recorded")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")


def cmd_search(args) -> int:
    from nsganetv2 import api
    from nsganetv2.evaluation.objectives import objectives_from_flags

    if args.resume and not args.problem and not (args.sec_obj or args.objectives):
        objectives = api.recorded_objectives(args.resume)  # the search's own, as its resolutions and FLOPs counter
    else:
        objectives = objectives_from_flags(args.sec_obj, args.objectives)
    save = args.resume or args.save
    callbacks = [api.tracker(args.tracking, args.tracking_uri, save=save)] if args.tracking else []
    settings = api.SearchSettings(**_fields(args, api.SearchSettings, objectives=objectives,
                                            progress=not args.quiet, callbacks=callbacks))
    if not args.problem and not args.supernet_path and not args.acc_predictor:
        raise ValueError("search needs --supernet_path (train one with `nsganetv2 supernet train`), --acc_predictor "
                         "(OFA's ImageNet accuracy predictor file), or --problem for a test problem")
    if args.resume:
        result = api.resume(save, settings, iterations=args.iterations, retry_failed=args.retry_failed)
    else:
        result = api.search(settings, save)
    print(f"search done: {result.n_evaluations} evaluations, front of {int(result.front.sum())}; "
          f"results and plots in {save} (summary: {Path(save) / 'report' / 'summary.md'})")
    return 0


# ----------------------------------------------------------------------------------------------------- select
def cmd_select(args) -> int:
    from nsganetv2 import api

    settings = api.SelectSettings(**_fields(args, api.SelectSettings, recalibrate=not args.no_recalibrate,
                                            onnx=not args.no_onnx, check=not args.no_check))
    for folder in api.select(settings, args.save):
        stats = json.loads((folder / "net.stats").read_text())
        print(f"{folder}: {json.dumps({k: v for k, v in stats.items() if k not in ('precision', 'check')})}")
    return 0


# ----------------------------------------------------------------------------------------------------- validate
def cmd_validate(args) -> int:
    from nsganetv2 import api

    acc = api.validate(args.model, args.pretrained, args.dataset, args.data, batch_size=args.batch_size,
                       workers=args.workers, img_size=args.img_size, device=args.device, amp=args.amp)
    print(json.dumps(acc.as_dict()))
    return 0


# ----------------------------------------------------------------------------------------------------- train
def cmd_train(args) -> int:
    from nsganetv2 import api
    from nsganetv2.train import config_from_args

    if args.n_gpus > 1 and "WORLD_SIZE" not in os.environ:  # train_cifar.py's --n_gpus: one process per GPU here
        import torch

        if torch.cuda.device_count() < args.n_gpus:
            raise ValueError(f"--n_gpus {args.n_gpus}, but this machine has {torch.cuda.device_count()} CUDA GPU(s); "
                             "drop the flag (or use torchrun across machines)")
        return _relaunch_under_torchrun(args.n_gpus, args.argv)

    result = api.finetune(config_from_args(args))
    print(f"fine-tune done: best held-out top-1 {result.get('best')}, test {result.get('test')}; in {result['save']}")
    return 0


# ----------------------------------------------------------------------------------------------------- supernet
def cmd_supernet_train(args) -> int:
    if args.processes > 1 and "WORLD_SIZE" not in os.environ:
        return _relaunch_under_torchrun(args.processes, args.argv)
    from nsganetv2 import api

    phases = []
    for part in (args.phases.split(",") if args.phases else []):
        name, _, epochs = part.partition(":")
        try:
            phases.append((name, int(epochs)))
        except ValueError:
            raise ValueError(f"--phases entry {part!r} is not NAME:EPOCHS (e.g. full:2,kernel:1)") from None
    settings = api.SupernetSettings(**_fields(args, api.SupernetSettings, phases=phases, progress=not args.quiet))
    out = api.train_supernet(settings, args.save)
    for name, top1 in out["top1"].items():
        subnet, r = name.split("@")
        print(f"{subnet} subnet @ {r}px: held-out top-1 {top1:.2f}%")
    if out["top1"]:
        print(f"supernet saved to {out['save']}")
    return 0


def _relaunch_under_torchrun(nproc: int, argv: list[str]) -> int:
    """Run this same command as ``nproc`` torchrun ranks on this machine (CPU threads split between them)."""
    import subprocess

    threads = str(max(1, (os.cpu_count() or 1) // nproc))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "nsganetv2", *argv]
    log.info("launching %d processes: %s", nproc, " ".join(cmd))
    return subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": threads}).returncode


# ----------------------------------------------------------------------------------------------------- latency
def cmd_latency_build(args) -> int:
    from nsganetv2 import api

    api.build_latency_table(api.LatencyTableSettings(**_fields(args, api.LatencyTableSettings,
                                                               progress=not args.quiet)), args.save)
    print(f"latency table written to {args.save}")
    return 0


def cmd_latency_predict(args) -> int:
    from nsganetv2 import api

    ms = api.predict_latency(args.lut, args.subnet, resolution=args.resolution, width_mult=args.width_mult,
                             n_classes=args.n_classes)
    print(f"{ms:.3f} ms")
    return 0


def cmd_latency_measure(args) -> int:
    from dataclasses import asdict

    from nsganetv2 import api

    stats = api.measure_latency(args.model, args.pretrained, img_size=args.img_size, batch_size=args.batch_size,
                                threads=args.threads, runs=args.runs, runtime=args.runtime, precision=args.precision)
    print(json.dumps(asdict(stats)))
    return 0


# ----------------------------------------------------------------------------------------------------- evaluate
def cmd_evaluate(args) -> int:
    from nsganetv2 import api
    from nsganetv2.atomic import write_json_atomic

    stats = api.evaluate_one(api.EvaluateSettings(**_fields(args, api.EvaluateSettings)))
    save = Path(args.save) if args.save else Path(args.log_dir) / "net.stats"
    save.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(save, stats, indent=2)
    print(json.dumps({k: stats[k] for k in ("params", "flops", "top1", "top5", "loss", "resolution", "split")}))
    print(f"written to {save}")
    return 0


# ----------------------------------------------------------------------------------------------------- import
def cmd_import(args) -> int:
    from nsganetv2 import api

    rep = api.import_run(args.original, args.save, sec_obj=args.sec_obj, resolutions=args.resolutions)
    print(f"imported {rep.rows} evaluations of {args.original} into {rep.save}: {rep.records} architectures "
          f"({rep.failed} failed, {rep.duplicates} evaluated twice), iterations 0-{rep.iterations}, objectives "
          f"{', '.join(rep.objectives)}, resolutions {rep.resolutions[0]}-{rep.resolutions[-1]} "
          f"({len(rep.resolutions)})")
    for k, ours, orig in rep.hv:
        print(f"iter {k}: hv {ours:.10g}" + ("" if orig is None else f" (the original's {orig:.10g})"))
    if rep.hv_max_abs_diff is not None:
        print(f"max |hv - original hv| = {rep.hv_max_abs_diff:.3g}")
    for note in rep.notes:
        print(f"note: {note}")
    return 0


# ----------------------------------------------------------------------------------------------------- report
def cmd_report(args) -> int:
    from nsganetv2 import api

    print("\n".join(str(p) for p in api.report(args.save, csv=args.csv)))
    return 0


# ----------------------------------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from nsganetv2.demo import run_demo

    run_demo(args.save, quick=args.quick, seed=args.seed, progress=not args.quiet)
    return 0


# ----------------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from nsganetv2.evaluation.objectives import cheap_objective_names
    from nsganetv2.search.problems import TEST_PROBLEMS
    from nsganetv2.surrogate import surrogate_names

    p = argparse.ArgumentParser(prog="nsganetv2", description=__doc__.split("\n\n")[0], epilog=EXIT_CODES,
                                formatter_class=HelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help=SHARED_HELP["verbose"])
    p.add_argument("-q", "--quiet", action="store_true", help=SHARED_HELP["quiet"])
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    fmt = HelpFormatter

    s = sub.add_parser("search", help="run (or --resume) an MSuNAS search", formatter_class=fmt)
    p.search_parser = s  # type: ignore[attr-defined]  (its defaults come from --config / the resumed folder)
    s.add_argument("--config", default=None,
                   help="YAML file of settings (the names of these options); flags given as well win")
    _add_data_args(s)
    _add_eval_args(s)
    s.add_argument("--save", default="experiments/search", help="experiment folder")
    s.add_argument("--resume", default=None, help="continue the search in this folder")
    s.add_argument("--retry_failed", action="store_true",
                   help="on --resume, evaluate again the failures of the unfinished iteration (after fixing a setting)")
    s.add_argument("--sec_obj", default=None, choices=cheap_objective_names(),
                   help="second objective (default flops; on --resume: the search's own)")
    s.add_argument("--flops_counter", default=None, choices=("ofa", "original"),
                   help="FLOPs definition: ofa (MACs of convolutions and linear layers) or original (torchprofile "
                        "0.0.1's count in the original's net_i.stats: also elementwise multiplies and means); "
                        "default ofa, on --resume the search's own")
    s.add_argument("--objectives", default=None, help="several objectives, e.g. top1,flops,cpu (overrides --sec_obj)")
    s.add_argument("--lut", default=None, help="latency table for the latency objective (required) and the cpu objective "
                   "(else measured with ONNX Runtime): the original NSGANetV2 format or OFA's (a file per resolution, "
                   "or their folder)")
    _add_runtime_args(s, precision=False)
    s.add_argument("--resolutions", type=parse_resolutions, default=None,
                   help="resolution list, e.g. 192-256:4 (default: 192-256:4; 32,36,40 for mnist5k)")
    s.add_argument("--n_doe", type=int, default=100)
    s.add_argument("--iterations", type=int, default=None,
                   help="search iterations after the DOE (default 30; on --resume: the recorded plan)")
    s.add_argument("--n_iter", type=int, default=8, help="candidates evaluated per iteration")
    s.add_argument("--predictor", default="rbf", choices=surrogate_names(), help="accuracy surrogate")
    s.add_argument("--predictor_kwargs", type=json.loads, default=None,
                   help='JSON keyword arguments of the predictor, e.g. \'{"n_trees": 500}\' for carts')
    s.add_argument("--features", default="raw", choices=("raw", "onehot", "stages"),
                   help="the surrogate's inputs: raw (the original's 46-integer genome), onehot (OFA's encoding) or "
                        "stages (per stage: depth and sums of kernel and expand indices; few features, for small DOEs)")
    s.add_argument("--selection", default="hv", choices=("hv", "gaps"),
                   help="how a batch is chosen: hv (the batch that adds the most predicted hypervolume to the "
                        "archive's front; default) or gaps (the original's subset selection: with --n_doe 100 and "
                        "--predictor rbf, the original algorithm exactly)")
    s.add_argument("--optimism", type=float, default=0.0,
                   help="with --selection hv and a predictor with an uncertainty (gp-ard, ensemble): rank candidates by "
                        "the prediction minus this many standard deviations (explores where the surrogate is unsure)")
    s.add_argument("--max_train", type=int, default=1000,
                   help="the surrogate trains on at most this many archive records, the best fronts first, then the "
                        "most recent (a larger cap fits better and slower: see the README)")
    s.add_argument("--pop_size", type=int, default=40)
    s.add_argument("--n_gen", type=int, default=20)
    s.add_argument("--n_gpus", type=int, default=0, help="GPUs on this machine (one evaluation worker each)")
    s.add_argument("--eval_workers", type=int, default=None, help="CPU evaluation worker processes")
    s.add_argument("--ray", dest="ray_address", default=None, metavar="ADDRESS|local",
                   help="evaluate on a Ray cluster whose workers may join and leave (`local` starts one here; auto, "
                        "host:6379 or ray://host:10001 joins one); with --device cuda each evaluation takes one GPU; "
                        "needs pip install nsganetv2[ray]")
    s.add_argument("--tracking", default=None, choices=("mlflow", "tensorboard"),
                   help="log every iteration (HV, archive size, surrogate rmse/rho/tau, timing) to MLflow or "
                        "TensorBoard; needs pip install nsganetv2[tracking]")
    s.add_argument("--tracking_uri", default=None,
                   help="MLflow tracking URI (default: MLflow's own) or TensorBoard log folder (default: SAVE/tensorboard)")
    s.add_argument("--problem", default=None, choices=TEST_PROBLEMS, help="search a test problem instead of NAS")
    s.add_argument("--n_classes", type=int, default=None, help="the original's flag: checked against the dataset")
    s.add_argument("--test", action="store_true",
                   help="the original's flag: top-1 on the test split instead of the held-out one (leaks the test set)")
    s.add_argument("--gpu", type=int, default=1,
                   help="the original's GPUs per evaluation job: 1 (each evaluation runs on one GPU)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("select", help="choose final architectures from an iter_<k>.stats and export them",
                       formatter_class=fmt)
    s.add_argument("--expr", required=True, help="iter_<k>.stats file of a search")
    s.add_argument("-n", type=int, default=1,
                   help="number of architectures chosen; the most accurate one is always added, so up to n + 1 folders")
    s.add_argument("--prefer", default=None,
                   help="preference, e.g. top1#80+flops#150 (default, or None as in the original: high trade-off)")
    s.add_argument("--sec_obj", default=None, help="name of the 2nd column for the original's stats files")
    s.add_argument("--save", default="experiments/selected")
    s.add_argument("--supernet_path", default=None, help="export net.config / net.inherited / net.onnx from it")
    s.add_argument("--dataset", default=None,
                   help="recalibrate BN on its training images and fit the head to its classes (default: keep the "
                        "supernet's head and BN statistics, as the original's post_search.py)")
    s.add_argument("--data", default=None, help="dataset root folder (not needed for the bundled mnist5k)")
    s.add_argument("--n_workers", type=int, default=0, help="data loader workers")
    s.add_argument("--vld_size", type=int, default=None)
    s.add_argument("--n_calib", type=int, default=2000)
    s.add_argument("--no_recalibrate", action="store_true", help="keep the supernet's BN statistics")
    s.add_argument("--no_onnx", action="store_true")
    s.add_argument("--no_check", action="store_true",
                   help="skip re-evaluating each export on the held-out split (the check against the search's top-1)")
    s.add_argument("--amp", default="auto", choices=("auto", "off", "fp16", "bf16"),
                   help="precision of that check; auto = the one the search recorded")
    s.set_defaults(func=cmd_select)

    s = sub.add_parser("validate", help="top-1 / top-5 / loss of a net.config + weights on the test split",
                       formatter_class=fmt)
    s.add_argument("--dataset", default="mnist5k")
    s.add_argument("--data", default=None)
    s.add_argument("-m", "--model", required=True, help="net.config")
    s.add_argument("--pretrained", default=None, help="weights (raw or {'state_dict': ...})")
    s.add_argument("-b", "--batch-size", type=int, default=256)
    s.add_argument("-j", "--workers", type=int, default=0)
    s.add_argument("--img-size", type=int, default=None, help="default: the config's resolution")
    s.add_argument("--device", default="cpu")
    s.add_argument("--amp", default=None, choices=("auto", "off", "fp16", "bf16"),
                   help="autocast; default: the precision recorded in net.stats beside the config (else off)")
    s.set_defaults(func=cmd_validate)

    from nsganetv2.train import add_train_args

    t = sub.add_parser("train", help="fine-tune a searched network (CIFAR- or ImageNet-style, DDP via torchrun)",
                       formatter_class=fmt)
    add_train_args(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("supernet", help="supernet tools")
    ssub = s.add_subparsers(dest="supernet_command", required=True, metavar="action")
    t = ssub.add_parser("train", help="train an OFA MobileNetV3 supernet", formatter_class=fmt)
    _add_data_args(t)
    t.add_argument("--save", default="experiments/supernet")
    t.add_argument("--init", default=None, help="start from this supernet checkpoint")
    t.add_argument("--width_mult", type=float, default=1.0, choices=(1.0, 1.2))
    t.add_argument("--resolutions", type=parse_resolutions, default=None)
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--phases", default=None, help="progressive shrinking, e.g. full:2,kernel:1,depth:1,expand:2")
    t.add_argument("--optimizer", default="sgd", choices=("sgd", "adamw"))
    t.add_argument("--lr", type=float, default=0.1)
    t.add_argument("--batch_size", type=int, default=64)
    t.add_argument("--label_smoothing", type=float, default=0.1)
    t.add_argument("--n_random", type=int, default=0, help="random subnets per step besides largest and smallest")
    t.add_argument("--kd_ratio", type=float, default=1.0, help="weight of in-place distillation")
    t.add_argument("--vld_size", type=int, default=None)
    t.add_argument("--n_calib", type=int, default=500)
    t.add_argument("--max_steps", type=int, default=None, help="cap the steps per epoch (quick runs)")
    t.add_argument("--processes", type=int, default=1,
                   help="train as this many torchrun processes on this machine, CPU threads split between them (for "
                        "several GPUs or machines, launch with torchrun instead; this flag is then ignored)")
    t.add_argument("--resume", action="store_true", help="continue from save/checkpoint.pt")
    t.add_argument("--overwrite", action="store_true", help="start again in a folder that holds a supernet or a run")
    t.add_argument("--checkpoint_every_s", type=float, default=300.0,
                   help="seconds between mid-epoch checkpoints (a kill loses at most this much training)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_supernet_train)

    s = sub.add_parser("latency", help="CPU latency: build a look-up table, predict, measure")
    lsub = s.add_subparsers(dest="latency_command", required=True, metavar="action")
    b = lsub.add_parser("build-lut", help="measure every block type of the space on this CPU", formatter_class=fmt)
    b.add_argument("--save", required=True, help="YAML table to write (resumes if it exists)")
    b.add_argument("--resolutions", type=parse_resolutions, default=None, help="default 192-256:4")
    b.add_argument("--width_mult", type=float, default=1.0, choices=(1.0, 1.2))
    b.add_argument("--n_classes", type=int, default=1000)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--runs", type=int, default=20)
    b.add_argument("--calibrate", type=int, default=8, help="whole subnets timed to scale the table (0: none)")
    _add_runtime_args(b)
    b.add_argument("--batch_size", type=int, default=1, help="images per timed forward pass")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_latency_build)
    q = lsub.add_parser("predict", help="latency of a net.subnet from a table", formatter_class=fmt)
    q.add_argument("--lut", required=True, help="a table in the original NSGANetV2 format, or OFA's tables (a file "
                   "per resolution, or their folder)")
    q.add_argument("--subnet", required=True, help="net.subnet JSON {ks, e, d, r}")
    q.add_argument("--resolution", type=int, default=None)
    q.add_argument("--width_mult", type=float, default=None, help="default: the subnet's own w (1.0 when absent)")
    q.add_argument("--n_classes", type=int, default=1000)
    q.set_defaults(func=cmd_latency_predict)
    m = lsub.add_parser("measure", help="ONNX Runtime latency of a net.config", formatter_class=fmt)
    m.add_argument("-m", "--model", required=True)
    m.add_argument("--pretrained", default=None)
    m.add_argument("--img-size", type=int, default=None)
    m.add_argument("--batch_size", type=int, default=1)
    m.add_argument("--threads", type=int, default=1)
    m.add_argument("--runs", type=int, default=50)
    _add_runtime_args(m)
    m.set_defaults(func=cmd_latency_measure)

    s = sub.add_parser("evaluate", help="evaluate one architecture, as the original's evaluator.py: --subnet from "
                                        "a supernet, or --config with --init", formatter_class=fmt)
    s.add_argument("--subnet", default=None, help="net.subnet {ks, e, d, r} (with --supernet_path)")
    s.add_argument("--config", default=None, help="net.config (with --init)")
    s.add_argument("--init", default=None, help="weights of --config (net.inherited, net.init, net.best)")
    s.add_argument("--supernet_path", default=None)
    s.add_argument("--dataset", default="mnist5k")
    s.add_argument("--data", default=None)
    s.add_argument("--n_classes", type=int, default=None, help="checked against the dataset")
    s.add_argument("--log_dir", default=".tmp", help="where net.stats goes unless --save")
    s.add_argument("--save", default=None, help="the stats file (default <log_dir>/net.stats)")
    s.add_argument("--trn_batch_size", type=int, default=128)
    s.add_argument("--vld_batch_size", type=int, default=256)
    s.add_argument("--num_workers", "--n_workers", dest="n_workers", type=int, default=0)
    s.add_argument("--n_epochs", type=int, default=0, help="fine-tune the subnet first (the weight-level surrogate)")
    s.add_argument("--resolution", type=int, default=None,
                   help="default: the subnet's r; for --config its resolution/img_size, run.config, else 224")
    s.add_argument("--valid_size", "--vld_size", dest="vld_size", type=int, default=None,
                   help="held-out training images (default: the dataset's)")
    s.add_argument("--test", action="store_true", help="top-1 on the test split instead of the held-out one")
    s.add_argument("--reset_running_statistics", action="store_true",
                   help="recalibrate BN on training images (--config; a --subnet is always recalibrated)")
    s.add_argument("--n_calib", type=int, default=2000)
    s.add_argument("--amp", default="auto", choices=("auto", "off", "fp16", "bf16"))
    s.add_argument("--backend", default="torch", choices=("auto", "torch", "onnxruntime", "openvino"),
                   help=BACKEND_HELP)
    s.add_argument("--device", default="auto")
    s.add_argument("--flops_counter", default="ofa", choices=("ofa", "original"))
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("import", help="bring a search folder of the original NSGANetV2 into this format",
                       formatter_class=fmt)
    s.add_argument("original", help="the original run's folder (iter_k.stats, iter_k/net_i.subnet|stats, failed/)")
    s.add_argument("--save", required=True, help="the new search folder (for report, select, search --resume)")
    s.add_argument("--sec_obj", default=None,
                   help="the net_i.stats field to import as the second objective (default: the one the original's "
                        "archive holds)")
    s.add_argument("--resolutions", type=parse_resolutions, default=None,
                   help="the run's resolution list (default: 192-256:4 when every resolution lies on it, else "
                        "min-max with the common step)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("report", help="plots and summary of a search folder", formatter_class=fmt)
    s.add_argument("--save", required=True)
    s.add_argument("--csv", action="store_true", help="also write the archive as a table, report/archive.csv")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("demo", help="the whole flow on the bundled mnist5k", formatter_class=fmt)
    s.add_argument("--save", default="experiments/demo")
    s.add_argument("--quick", action="store_true", help="a miniature (seconds), as the end-to-end test runs it")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_demo)
    _finish(p)
    return p


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        for spelling in (flag, flag.replace("_", "-")):
            if a == spelling and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(spelling + "="):
                return a.split("=", 1)[1]
    return None


def _settings_files_as_defaults(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """``search --config FILE`` and ``search --resume DIR`` (its ``config.yaml``) become the search's defaults, so a
    resume needs no other flag; flags given on the command line still win."""
    if "search" not in argv:
        return
    from nsganetv2.api import CONFIG_FILE, read_config

    search = parser.search_parser  # type: ignore[attr-defined]
    dests = {a.dest for a in search._actions}
    values: dict = {}
    resume = _flag_value(argv, "--resume")
    if resume and (Path(resume) / CONFIG_FILE).is_file():
        recorded = read_config(Path(resume) / CONFIG_FILE)
        recorded.pop("iterations", None)  # a resume continues the plan search.json records
        values.update({k: v for k, v in recorded.items() if k in dests})
    config = _flag_value(argv, "--config")
    if config:
        given = read_config(config)
        unknown = sorted(k for k in given if k not in dests)
        if unknown:
            raise ValueError(f"config file {config}: unknown setting(s) {unknown}; use the names of "
                             "`nsganetv2 search --help`'s options")
        values.update(given)
    if "objectives" in values and not isinstance(values["objectives"], str):
        values["objectives"] = ",".join(values["objectives"])
    search.set_defaults(**values)


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit codes: 0 done, 2 a bad setting or input (one ``error:`` line), 130 interrupted."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        _settings_files_as_defaults(parser, argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    args.argv = argv
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    ours = logging.getLogger("nsganetv2")
    saved = ours.level
    ours.setLevel(level)  # for this command only: a caller's (or a test's) logging is left as it was
    try:
        with logging_redirect_tqdm():  # log lines print above the progress bars instead of through them
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        where = getattr(args, "resume", None) or getattr(args, "save", None)
        hint = f"; continue with --resume {where}" if args.command == "search" and where else ""
        print(f"interrupted{hint}", file=sys.stderr)
        return 130
    except (ValueError, KeyError, RuntimeError, OSError) as exc:  # expected failures: bad settings, files, disks
        if args.verbose:
            raise
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        if isinstance(exc, FileNotFoundError) and exc.filename:
            text = f"{exc.filename} does not exist"
        elif isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
            text = f"{text}: {exc.filename}"
        print(f"error: {text.splitlines()[0] if text else type(exc).__name__} (-v for the traceback)", file=sys.stderr)
        return 2
    finally:
        ours.setLevel(saved)


if __name__ == "__main__":
    sys.exit(main())
