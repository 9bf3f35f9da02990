"""Bring a search folder of the original NSGANetV2 (``msunas.py``, or a fork of it) into this project's format.

The original writes ``iter_{k}/net_{i}.subnet`` + ``net_{i}.stats`` per evaluated architecture (no ``.stats`` when
the evaluation failed, and a copy in ``failed/it_{k}_net_{i}``) and ``iter_{k}.stats`` for k >= 1, whose
``archive`` holds every row ``[config, top1 error, second objective]`` (failures as ``[100, 1000]``) and whose
``hv`` is normalised by a reference point fixed after the DOE. :func:`import_original_run` builds from these an
``archive.jsonl`` (one record per architecture; an architecture the original evaluated twice keeps the other rows
under ``duplicates``), ``search.json`` (settings inferred from the run, the original's reference point) and our
``iter_{k}.stats`` (k = 0 too), so that ``report``, ``select`` and ``search --resume`` work on it.

What it infers, and the flags for what it cannot:

- the second objective: the ``net_i.stats`` field whose values are the archive's second column (``params``,
  ``flops``, or a score of a fork such as ``tiny_ml``); ``sec_obj`` picks a field instead (then the HV is ours
  on that field, not the original's);
- the resolutions: 192-256 step 4 when every resolution of the run lies on it, else min-max with the common step;
  ``resolutions`` gives them;
- the width and class count of the head the complexity was measured with, from ``params`` (recorded so that a
  resumed search counts new candidates the same way), and that FLOPs are torchprofile's (``flops_counter``
  ``original``).
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nsganetv2.moo.hypervolume import normalised_hypervolume
from nsganetv2.search.archive import Archive
from nsganetv2.search.folder import ARCHIVE_FILE, RunFolder
from nsganetv2.space import DEFAULT_RESOLUTIONS, Arch, OFAMobileNetV3Space

log = logging.getLogger(__name__)

__all__ = ["ImportReport", "import_original_run", "original_rows"]

PREFERRED = ("flops", "params", "cpu")  # registered objectives first when several fields match
FAILED_ROW = (100.0, 1000.0)  # the original's score of a failed evaluation


@dataclass
class Row:
    """One evaluation of the original run."""

    iteration: int
    index: int
    config: dict
    stats: dict | None  # None: the evaluation failed (no net_i.stats)
    failed_copy: bool = False


@dataclass
class ImportReport:
    """What an import read, inferred and wrote."""

    save: Path
    rows: int
    records: int
    failed: int
    duplicates: int
    iterations: int
    objectives: tuple[str, ...]
    resolutions: list[int]
    hv: list[tuple[int, float, float | None]] = field(default_factory=list)  # (iteration, ours, the original's)
    notes: list[str] = field(default_factory=list)

    @property
    def hv_max_abs_diff(self) -> float | None:
        diffs = [abs(a - b) for _, a, b in self.hv if b is not None]
        return max(diffs) if diffs else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None


def original_rows(src: str | os.PathLike) -> tuple[list[Row], dict[int, dict]]:
    """Every evaluation of the original run in ``src`` in the original's archive order (iteration, then index),
    and its ``iter_{k}.stats`` by k."""
    src = Path(src)
    if not src.is_dir():
        raise ValueError(f"{src} is not a folder; pass the original run's folder (the --save of msunas.py)")
    stats = {}
    for p in src.glob("iter_*.stats"):
        m = re.fullmatch(r"iter_(\d+)\.stats", p.name)
        if m:
            stats[int(m.group(1))] = _read_json(p)
    rows: list[Row] = []
    k = 0
    while (src / f"iter_{k}").is_dir() or k in stats:
        folder = src / f"iter_{k}"
        nets = sorted((int(m.group(1)), p) for p in folder.glob("net_*.subnet")
                      if (m := re.fullmatch(r"net_(\d+)\.subnet", p.name)))
        if not nets and k in stats:
            raise ValueError(f"{src}: iter_{k}.stats exists but {folder} holds no net_*.subnet; the per-architecture "
                             "files are needed (copy the whole run folder)")
        for i, path in nets:
            st = path.with_suffix(".stats")
            rows.append(Row(k, i, _read_json(path), _read_json(st) if st.is_file() else None,
                            (src / "failed" / f"it_{k}_net_{i}").is_file()))
        k += 1
    if not rows:
        raise ValueError(f"{src} holds no iter_0/net_*.subnet: it is not a search folder of the original NSGANetV2")
    return rows, stats


def _archive_order(rows: list[Row], archive: list, src: Path, K: int) -> list[Row]:
    """``rows`` in the order of the original's archive. Within an iteration the original's forks may list the
    evaluations in another order than their net_i numbers; each archive row is matched to the net_i.subnet of
    that iteration with its architecture (and, when there are several, the net_i.stats with its values)."""
    out: list[Row] = []
    start = 0
    for k in sorted({r.iteration for r in rows}):
        group = [r for r in rows if r.iteration == k]
        block = archive[start:start + len(group)]
        start += len(group)
        free = list(group)
        for j, entry in enumerate(block):
            key = Arch.from_config(entry[0]).key
            same = [r for r in free if Arch.from_config(r.config).key == key]
            if not same:
                raise ValueError(f"{src}: row {start - len(group) + j} of iter_{K}.stats' archive is no "
                                 f"iter_{k}/net_*.subnet; the files do not belong together")
            exact = [r for r in same if _close(_values(r, None, entry)[0], float(entry[1]))]
            pick = (exact or same)[0]
            free.remove(pick)
            out.append(pick)
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _infer_objective(rows: list[Row], archive: list, notes: list[str]) -> str:
    """The ``net_i.stats`` field equal to the archive's second column on every successful row."""
    candidates: set[str] | None = None
    for row, entry in zip(rows, archive):
        if row.stats is None:
            continue
        value = float(entry[2])
        match = {k for k, v in row.stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                 and math.isfinite(v) and _close(float(v), value)}
        candidates = match if candidates is None else candidates & match
    if not candidates:
        raise ValueError("no net_i.stats field equals the second column of the original's archive on every row; "
                         "pass --sec_obj NAME (a field of net_i.stats, e.g. flops or params) to import that field")
    name = next((p for p in PREFERRED if p in candidates), sorted(candidates)[0])
    if len(candidates) > 1:
        notes.append(f"second column equals the net_i.stats fields {sorted(candidates)}; imported as {name!r}")
    return name


def _infer_resolutions(rows: list[Row], given: Sequence[int] | None) -> list[int]:
    seen = sorted({int(Arch.from_config(r.config).r) for r in rows})
    if given is not None:
        missing = [r for r in seen if r not in set(given)]
        if missing:
            raise ValueError(f"the run evaluated resolutions {missing} that --resolutions {list(given)} lacks")
        return [int(r) for r in given]
    if set(seen) <= set(DEFAULT_RESOLUTIONS):
        return list(DEFAULT_RESOLUTIONS)
    step = 0
    for r in seen:
        step = math.gcd(step, r - seen[0])
    return list(range(seen[0], seen[-1] + 1, step or 1))


def _infer_head(rows: list[Row], notes: list[str]) -> tuple[float | None, int | None]:
    """(width, classes) of the head ``params`` was counted with: the pair that reproduces every row's params."""
    from nsganetv2.evaluation.complexity import count_params

    ok = [r for r in rows if r.stats is not None and isinstance(r.stats.get("params"), (int, float))]
    if not ok:
        return None, None
    best = None  # (mismatching rows, width, classes)
    for width in (1.0, 1.2):
        last = 1536 if width == 1.2 else 1280
        for r0 in ok[:5]:  # a head guess from a few rows (a row's stats may belong to another architecture)
            base = count_params(r0.config, n_classes=0, width_mult=width)
            guess = round((r0.stats["params"] * 1e6 - base) / (last + 1))
            for n in range(max(1, guess - 8), guess + 9):
                bad = sum(round(count_params(r.config, n_classes=n, width_mult=width) / 1e6, 2) != r.stats["params"]
                          for r in ok)
                if best is None or bad < best[0]:
                    best = (bad, width, n)
    if best is not None and best[0] < len(ok) / 2:  # most rows agree (the others: another net)
        bad, width, n = best
        if bad:
            notes.append(f"params of {bad} of {len(ok)} net_i.stats do not match their net_i.subnet at w{width} with "
                         f"a {n}-class head (the others do): those stats belong to another architecture")
        return width, n
    notes.append("the params of net_i.stats match no OFA MobileNetV3 head (w1.0/w1.2, 1-1000+ classes); the width "
                 "and class count are not recorded")
    return None, None


def import_original_run(src: str | os.PathLike, save: str | os.PathLike, sec_obj: str | None = None,
                        resolutions: Sequence[int] | None = None, copy_files: bool = True) -> ImportReport:
    """Import the original run in ``src`` into a new search folder ``save`` (see the module docs)."""
    src, save = Path(src), Path(save)
    folder = RunFolder(save)
    if folder.exists() or (save / ARCHIVE_FILE).exists():
        raise ValueError(f"{save} already holds a search; choose a new folder for the import")
    rows, stats = original_rows(src)
    notes: list[str] = []
    K = max((k for k in stats), default=0)
    last = stats.get(K)
    if last is not None:
        archive = last.get("archive") or []
        if len(archive) != len(rows):
            raise ValueError(f"{src}/iter_{K}.stats lists {len(archive)} evaluations but the iter_*/ folders hold "
                             f"{len(rows)} net_*.subnet; is the run folder complete?")
        rows = _archive_order(rows, archive, src, K)
    else:
        archive = None
    if sec_obj is None:
        if archive is None:
            raise ValueError(f"{src} has no iter_k.stats to tell the second objective: pass --sec_obj NAME (a field "
                             "of net_i.stats, e.g. flops or params)")
        sec_obj = _infer_objective(rows, archive, notes)
    elif archive is not None:
        agree = all(r.stats is None or _close(float(r.stats.get(sec_obj, float("nan"))), float(e[2]))
                    for r, e in zip(rows, archive))
        if not agree:
            notes.append(f"--sec_obj {sec_obj}: not the original archive's second column, so the hypervolume is "
                         "recomputed on it and differs from the original's hv")
    for r in rows:
        if r.stats is not None and not isinstance(r.stats.get(sec_obj), (int, float)):
            raise ValueError(f"{src}/iter_{r.iteration}/net_{r.index}.stats has no numeric {sec_obj!r}; pass "
                             "--sec_obj with a field every net_i.stats holds")
    res = _infer_resolutions(rows, resolutions)
    space = OFAMobileNetV3Space(resolutions=res)
    width, n_classes = _infer_head(rows, notes)
    names = ("top1", sec_obj)

    # one record per architecture; the rows of an architecture evaluated again go under "duplicates"
    records: dict[str, dict] = {}
    order: list[str] = []
    n_dup = 0
    for row in rows:
        genome = space.encode(row.config)
        key = str(space.key(genome))
        ok = row.stats is not None
        entry = {"iteration": row.iteration, "index": row.index, "status": "ok" if ok else "failed",
                 "objectives": {"top1": 100.0 - float(row.stats["top1"]), sec_obj: float(row.stats[sec_obj])}
                 if ok else None, "stats": row.stats}
        if not ok and not row.failed_copy:
            notes.append(f"iter_{row.iteration}/net_{row.index} has no .stats and no failed/ copy; imported as failed")
        if key in records:
            n_dup += 1
            primary = records[key]
            if ok and primary["status"] != "ok":  # the successful evaluation is the record, the failure its duplicate
                entry, primary_view = _swap(primary, entry)
            primary.setdefault("duplicates", []).append(entry)
            continue
        records[key] = {"key": key, "genome": genome.tolist(), "config": space.decode(genome),
                        "objectives": entry["objectives"], "stats": row.stats, "iteration": row.iteration,
                        "index": row.index, "status": entry["status"],
                        "error": None if ok else f"no net_{row.index}.stats: the original's evaluation failed "
                                                 f"(scored top1 0, {sec_obj} 1000)",
                        "predicted": None, "imported": f"{src.name}/iter_{row.iteration}/net_{row.index}"}
        order.append(key)
    if n_dup:
        notes.append(f"{n_dup} row(s) repeat an architecture evaluated before (the original deduplicates genomes, not "
                     "architectures); kept under their record's 'duplicates'")

    # the original's reference point: 1.01 x the maximum of the DOE rows, failures (100, 1000) included
    doe = np.array([_values(r, sec_obj) for r in rows if r.iteration == 0], dtype=float)
    ref = 1.01 * doe.max(axis=0)
    save.mkdir(parents=True, exist_ok=True)
    with Archive(save / ARCHIVE_FILE) as arch:
        arch.extend([records[k] for k in order])
    ok_recs = [records[k] for k in order if records[k]["status"] == "ok"]
    n_iter = max((sum(r.iteration == k for r in rows) for k in range(1, K + 1)), default=8)
    sur0 = (stats.get(1) or {}).get("surrogate") or {}
    predictor = sur0.get("model") if isinstance(sur0.get("model"), str) else None
    from nsganetv2.surrogate import surrogate_names

    if predictor not in surrogate_names():
        notes.append(f"the run's predictor {predictor!r} is not one of ours; a resumed search uses rbf")
        predictor = "rbf"
    hv_rows = []
    for k in range(K + 1):
        upto = [r for r in ok_recs if r["iteration"] <= k]
        # the original's archive at iteration k: every row, a failure at (100, 1000); where the second objective
        # runs above 1000 (a fork's score) a failure is not dominated and adds to the hypervolume
        F = np.array([_values(r, sec_obj) for r in rows if r.iteration <= k], dtype=float).reshape(-1, 2)
        hv = normalised_hypervolume(F, ref)  # the original's: divided by prod(ref)
        orig = stats.get(k, {}).get("hv")
        hv_rows.append((k, hv, None if orig is None else float(orig)))
        sur = dict(stats[k]["surrogate"]) if k in stats and isinstance(stats[k].get("surrogate"), dict) else None
        if sur is not None:
            sur["metrics"] = "imported: rmse/rho/tau as the original logged them (archive + candidates)"
        n_rows = sum(r.iteration <= k for r in rows)
        folder.write_stats(k, {
            "archive": [[r["config"], *[r["objectives"][n] for n in names]] for r in upto],
            "candidates": [[r["config"], *[r["objectives"][n] for n in names]] for r in upto if r["iteration"] == k],
            "hv": hv, "surrogate": sur, "iteration": k, "objectives": list(names), "n_evaluations": n_rows,
            "n_failed": sum(r.iteration <= k and r.stats is None for r in rows), "ref_point": ref.tolist(),
            "seeds": None, "timing": None, "original": {"hv": orig, "file": f"iter_{k}.stats" if k in stats else None},
        })
    problem = {"name": "ofa_mbv3", "n_var": int(space.n_var), "objectives": list(names), "expensive": [0],
               "vtype": "int", "resolutions": res, "flops_counter": "original"}
    if width is not None:
        problem.update(n_classes=n_classes, width_mult=width)
    folder.write_state({
        "format_version": 1, "problem": problem,
        "settings": {"n_doe": int(len(doe)), "iterations": K, "n_iter": int(n_iter), "predictor": predictor,
                     "pop_size": 40, "n_gen": 20, "subset_pop": 100, "subset_gen": 60, "eval_batch_size": None,
                     "max_train": 1000, "predictor_kwargs": {}, "selection": "gaps", "optimism": 0.0},
        "seed": 0, "seeds": {"rule": "numpy.random.SeedSequence([seed, iteration]).generate_state(3) -> numpy "
                                     "Generator, pymoo seed, torch/surrogate seed (mod 2**31-1); the imported "
                                     "iterations were run unseeded by the original"},
        "ref_point": ref.tolist(), "hv_ideal": [0.0, 0.0], "failure_point": list(FAILED_ROW), "status": "done",
        "iterations_done": K,
        "versions": {}, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "imported": {"from": str(src), "rows": len(rows), "duplicates": n_dup, "notes": notes},
    })
    if copy_files:
        _copy_files(src, save, K)
    for note in notes:
        log.warning("import %s: %s", src, note)
    return ImportReport(save, len(rows), len(order), sum(r.stats is None for r in rows), n_dup, K, names, res,
                        hv_rows, notes)


def _values(row: Row, sec_obj: str | None, entry: Sequence | None = None) -> tuple[float, float]:
    """(top1 error, second objective) of a row as the original scored it; ``sec_obj=None``: the error only."""
    if row.stats is None:
        return FAILED_ROW
    return 100.0 - float(row.stats["top1"]), float("nan") if sec_obj is None else float(row.stats[sec_obj])


def _swap(primary: dict, entry: dict) -> tuple[dict, dict]:
    """Make the successful ``entry`` the record and keep the failed one as its duplicate."""
    old = {k: primary[k] for k in ("iteration", "index", "status", "objectives", "stats")}
    primary.update({k: entry[k] for k in ("iteration", "index", "status", "objectives", "stats")})
    primary["error"] = None
    return old, primary


def _copy_files(src: Path, save: Path, K: int) -> None:
    """The per-architecture files, failed/ and final/ as they were; the original's iter_k.stats under original/."""
    for k in range(K + 1):
        if (src / f"iter_{k}").is_dir():
            shutil.copytree(src / f"iter_{k}", save / f"iter_{k}", dirs_exist_ok=True)
        if (src / f"iter_{k}.stats").is_file():
            (save / "original").mkdir(exist_ok=True)
            shutil.copy2(src / f"iter_{k}.stats", save / "original" / f"iter_{k}.stats")
    for name in ("failed", "final"):
        if (src / name).is_dir():
            shutil.copytree(src / name, save / name, dirs_exist_ok=True)
