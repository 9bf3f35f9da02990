"""After the search: choose final architectures from an ``iter_{k}.stats`` and export them.

Reads our stats files and the original's (whose archive rows are ``[config, top1_err, complexity]`` with no
objective names: pass ``sec_obj``). Choice by preference (achievement scalarisation, ``--prefer top1#80+flops#150``)
or by high trade-off points; the most accurate architecture is always included. Each choice is exported to
``net-<obj>@<value>/`` with ``net.subnet``, ``net.config`` (with resolution), ``net.inherited`` (supernet weights,
BN recalibrated on training images when loaders are given), ``net.stats`` and ``net.onnx``.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nsganetv2.atomic import torch_save_atomic, write_json_atomic
from nsganetv2.moo.decision import asf_select, high_tradeoff_points, parse_preference
from nsganetv2.moo.sorting import pareto_mask

log = logging.getLogger(__name__)


@dataclass
class Front:
    """The non-dominated archive entries of a stats file, sorted by error (objectives minimised)."""

    configs: list[dict]
    F: np.ndarray
    objectives: list[str]
    precision: dict | None = None  # {"amp", "device", "torch"} the search measured top-1 in, when recorded


def load_front(stats_path: str | os.PathLike, sec_obj: str | None = None) -> Front:
    """The first front of the archive in ``stats_path``; ``sec_obj`` names the 2nd column of original files."""
    path = Path(stats_path)
    if not path.is_file():
        raise ValueError(f"stats file {path} does not exist; pass an iter_<k>.stats written by a search (--expr)")
    try:
        stats = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); is it an iter_<k>.stats file?") from exc
    rows = stats.get("archive") if isinstance(stats, dict) else None
    if not rows:
        raise ValueError(f"{path} has no 'archive' entries; it is not an iter_<k>.stats file of a search")
    names = stats.get("objectives") or ["top1", sec_obj or "flops"]
    bad = [i for i, row in enumerate(rows) if len(row) != len(names) + 1 or not isinstance(row[0], dict)]
    if bad:
        raise ValueError(f"{path}: archive row {bad[0]} is not [config, {', '.join(names)}]")
    F = np.array([row[1:] for row in rows], dtype=float)
    mask = pareto_mask(F)
    idx = np.flatnonzero(mask)
    idx = idx[np.lexsort((F[idx, 1:].sum(axis=1), F[idx, 0]))]
    return Front([rows[i][0] for i in idx], F[idx], list(names), recorded_precision(path.parent))


def recorded_precision(search_dir: str | os.PathLike) -> dict | None:
    """``{"amp", "device", "torch"}`` of the search in ``search_dir`` (``None`` when its files do not say)."""
    path = Path(search_dir) / "search.json"
    if not path.is_file():
        return None
    try:
        problem = json.loads(path.read_text()).get("problem") or {}
    except (ValueError, AttributeError):
        log.warning("%s is not valid JSON; the search's precision is unknown", path)
        return None
    if "amp" not in problem:
        return None
    return {"amp": problem["amp"], **(problem.get("environment") or {})}


def choose(front: Front, n: int = 1, prefer: str | None = None) -> list[int]:
    """Indices into ``front`` of the chosen architectures; the most accurate one (index 0) is always included."""
    if n < 1:
        raise ValueError(f"-n must be >= 1, got {n}")
    if prefer is not None and prefer.strip().lower() in ("", "none"):
        prefer = None  # the original's README: "pass None to --prefer" for high trade-off points
    if prefer:
        picked = asf_select(front.F, parse_preference(prefer, front.objectives), n).tolist()
    else:
        picked = high_tradeoff_points(front.F, n=n).tolist() if len(front.F) > 2 else list(range(len(front.F)))[:n]
    out = list(dict.fromkeys(picked))
    if 0 not in out:
        out.append(0)
    return out


def folder_name(front: Front, i: int, decimals: int = 0) -> str:
    """``net-flops@150`` (or ``net-flops@150-cpu@12`` with several cheap objectives), named by the objectives."""
    parts = [f"{name}@{value:.{decimals}f}" for name, value in zip(front.objectives[1:], front.F[i, 1:])]
    return "net-" + "-".join(parts)


def folder_names(front: Front, chosen: list[int], max_decimals: int = 4) -> list[str]:
    """Distinct folder names for the chosen indices: as few decimals as make them distinct (``net-params@3.09``,
    ``net-params@3.19``), then ``-2``, ``-3`` ... for architectures whose values are equal."""
    options = [[folder_name(front, i, decimals) for i in chosen] for decimals in range(max_decimals + 1)]
    names = max(options, key=lambda n: len(set(n)))  # the first (fewest decimals) with the most distinct names
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def export(front: Front, chosen: list[int], save_dir: str | os.PathLike, supernet=None, loaders=None,
           onnx: bool = True, amp: str | None = None) -> list[Path]:
    """Write one folder per chosen architecture; weights and ONNX need ``supernet``; BN recalibration ``loaders``.

    With ``loaders`` and ``amp`` (``off``, ``bf16``, ... : the precision to check in, normally the search's), each
    exported network is also evaluated on the held-out split, as the search did, and ``net.stats`` gets
    ``"check": {"top1", "search_top1", "amp"}``: the export reproduces the search's record when the two agree.
    """
    from nsganetv2.supernet import save_net_config

    from nsganetv2.space import Arch, OFAMobileNetV3Space

    save_dir = Path(save_dir)
    for i in chosen:  # every choice is an architecture of the space, before anything is written
        arch = Arch.from_config(front.configs[i])
        if arch.r is None:
            raise ValueError(f"front entry {i} has no resolution 'r': {front.configs[i]}")
        try:
            OFAMobileNetV3Space(resolutions=[arch.r]).validate_config(arch.to_config())
        except ValueError as exc:
            raise ValueError(f"front entry {i} is not an architecture of the OFA MobileNetV3 space: {exc}") from None
    out = []
    for i, name in zip(chosen, folder_names(front, chosen)):
        config = front.configs[i]
        folder = save_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        stats = {name: float(v) for name, v in zip(front.objectives, front.F[i])}
        stats["top1"] = 100.0 - stats["top1"]  # files hold accuracy, like the original's net.stats
        if front.precision:
            stats["precision"] = front.precision
        write_json_atomic(folder / "net.subnet", config, indent=2)
        if supernet is not None:
            net = supernet.extract(config)
            net.eval()
            stats["weights"] = {"classes": net.n_classes, "bn": "supernet" if loaders is None else "recalibrated"}
            if loaders is not None:
                from nsganetv2.evaluation.accuracy import recalibrate_bn

                loaders.set_resolution(int(config["r"]))
                recalibrate_bn(net, loaders.calib)
                if amp is not None:
                    stats["check"] = _check_export(net, loaders, amp, stats["top1"], folder.name)
            save_net_config(net, folder / "net.config", resolution=int(config["r"]))
            torch_save_atomic({"state_dict": net.state_dict()}, folder / "net.inherited")
            if onnx:
                from nsganetv2.evaluation.latency import export_onnx

                export_onnx(net, int(config["r"]), 1, folder / "net.onnx", dynamic_batch=True)
        write_json_atomic(folder / "net.stats", stats, indent=2)
        log.info("exported %s", folder)
        out.append(folder)
    return out


def check_amp(requested: str, front: Front) -> str:
    """The precision of the export check on this CPU: ``auto`` means the search's recorded one where this CPU runs
    it (else ``off``, with a warning), or this host's ``auto`` when nothing is recorded; an explicit value is used
    as given."""
    import torch

    from nsganetv2.evaluation.accuracy import amp_for_record, amp_name, resolve_amp

    cpu = torch.device("cpu")
    recorded = (front.precision or {}).get("amp")
    if requested != "auto":
        here = amp_name(resolve_amp(requested, cpu))
        if recorded is not None and here != recorded:
            log.warning("checking the export with --amp %s; the search measured with --amp %s", here, recorded)
        return here
    try:
        amp = amp_for_record("auto", cpu, recorded, "the search")
    except ValueError as exc:
        log.warning("%s; the export check runs in fp32 (--amp off)", exc)
        return "off"
    log.info("checking the export with --amp %s (%s)", amp,
             "as the search recorded" if recorded is not None else "the search records no precision; auto here")
    return amp


def _check_export(net, loaders, amp: str, search_top1: float, name: str) -> dict:
    """Held-out top-1 of an exported network in precision ``amp``, compared with the search's record."""
    import torch

    from nsganetv2.evaluation.accuracy import evaluate, resolve_amp

    top1 = evaluate(net, loaders.valid, amp_dtype=resolve_amp(amp, torch.device("cpu"))).top1
    if abs(top1 - search_top1) > 1e-9:
        log.warning("%s: held-out top-1 %.4f%% with --amp %s differs from the search's %.4f%% (same data split, "
                    "--vld_size and supernet?)", name, top1, amp, search_top1)
    else:
        log.info("%s: held-out top-1 %.4f%% with --amp %s reproduces the search's record", name, top1, amp)
    return {"top1": top1, "search_top1": search_top1, "amp": amp}

