"""``nsganetv2 <command>``: the only place that parses arguments.

Commands: search, select, validate, train, supernet, latency, report, demo. Each accepts the original scripts'
flags where it has a counterpart (``--dataset --data --save --sec_obj --n_gpus --supernet_path --vld_size
--n_epochs``, ``-n --expr --prefer``, ...) plus our own. Run ``nsganetv2 <command> --help``.
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


def _add_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--supernet_path", help="OFA MobileNetV3 supernet checkpoint (ofa_mbv3_d234_e346_k357_w1.0 etc.)")
    p.add_argument("--vld_size", type=int, default=None, help="held-out training images for the search's top-1")
    p.add_argument("--n_epochs", type=int, default=0, help="per-subnet fine-tune epochs before evaluation")
    p.add_argument("--trn_batch_size", type=int, default=128)
    p.add_argument("--vld_batch_size", type=int, default=250)
    p.add_argument("--n_calib", type=int, default=2000, help="training images for BN recalibration")
    p.add_argument("--amp", default="auto", choices=("auto", "off", "fp16", "bf16"),
                   help="autocast: auto = fp16 on CUDA, bf16 on CPUs with native bf16, else off; on --resume, auto "
                        "keeps the precision the search recorded")
    p.add_argument("--compile", action="store_true", help="torch.compile the subnets (pays on GPUs, rarely on CPU)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")


def cmd_search(args) -> int:
    from nsganetv2 import api
    from nsganetv2.evaluation.objectives import objectives_from_flags

    save = args.resume or args.save
    callbacks = [api.tracker(args.tracking, args.tracking_uri, save=save)] if args.tracking else []
    settings = api.SearchSettings(**_fields(args, api.SearchSettings,
                                            objectives=objectives_from_flags(args.sec_obj, args.objectives),
                                            progress=not args.quiet, callbacks=callbacks))
    if not args.problem and not args.supernet_path:
        raise ValueError("search needs --supernet_path (train one with `nsganetv2 supernet train`), or --problem "
                         "for a test problem")
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
                                threads=args.threads, runs=args.runs)
    print(json.dumps(asdict(stats)))
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

    p = argparse.ArgumentParser(prog="nsganetv2", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    fmt = argparse.ArgumentDefaultsHelpFormatter

    s = sub.add_parser("search", help="run (or --resume) an MSuNAS search", formatter_class=fmt)
    _add_data_args(s)
    _add_eval_args(s)
    s.add_argument("--save", default="experiments/search", help="experiment folder")
    s.add_argument("--resume", default=None, help="continue the search in this folder")
    s.add_argument("--retry_failed", action="store_true",
                   help="on --resume, evaluate again the failures of the unfinished iteration (after fixing a setting)")
    s.add_argument("--sec_obj", default="flops", choices=cheap_objective_names(), help="second objective")
    s.add_argument("--objectives", default=None, help="several objectives, e.g. top1,flops,cpu (overrides --sec_obj)")
    s.add_argument("--lut", default=None, help="latency table for the cpu objective (else measured with ONNX Runtime)")
    s.add_argument("--resolutions", type=parse_resolutions, default=None,
                   help="resolution list, e.g. 192-256:4 (default: 192-256:4; 32,36,40 for mnist5k)")
    s.add_argument("--n_doe", type=int, default=100)
    s.add_argument("--iterations", type=int, default=None,
                   help="search iterations after the DOE (default 30; on --resume: the recorded plan)")
    s.add_argument("--n_iter", type=int, default=8, help="candidates evaluated per iteration")
    s.add_argument("--predictor", default="rbf", choices=surrogate_names(), help="accuracy surrogate")
    s.add_argument("--predictor_kwargs", type=json.loads, default=None,
                   help='JSON keyword arguments of the predictor, e.g. \'{"n_trees": 500}\' for carts')
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
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("select", help="choose final architectures from an iter_<k>.stats and export them",
                       formatter_class=fmt)
    s.add_argument("--expr", required=True, help="iter_<k>.stats file of a search")
    s.add_argument("-n", type=int, default=1, help="number of architectures")
    s.add_argument("--prefer", default=None, help="preference, e.g. top1#80+flops#150 (default: high trade-off)")
    s.add_argument("--sec_obj", default=None, help="name of the 2nd column for the original's stats files")
    s.add_argument("--save", default="experiments/selected")
    s.add_argument("--supernet_path", default=None, help="export net.config / net.inherited / net.onnx from it")
    _add_data_args(s)
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
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=cmd_latency_build)
    q = lsub.add_parser("predict", help="latency of a net.subnet from a table", formatter_class=fmt)
    q.add_argument("--lut", required=True)
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
    m.set_defaults(func=cmd_latency_measure)

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
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit codes: 0 done, 2 a bad setting or input (one ``error:`` line), 130 interrupted."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
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
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
            text = f"{text}: {exc.filename}"
        print(f"error: {text.splitlines()[0] if text else type(exc).__name__} (-v for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
