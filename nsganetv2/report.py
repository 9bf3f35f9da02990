"""Plots and a summary of a search folder (headless matplotlib; reads only the files the search wrote).

``make_report(save_dir)`` writes into ``save_dir/report/``:

- ``front_iter_{k}.png``: the archive up to iteration k, its non-dominated front and the candidates of iteration k
  (with 3+ objectives, one panel per pair (first objective, other objective));
- ``hv.png``: hypervolume (fixed reference point) over the number of true evaluations;
- ``surrogate.png``: predicted vs true value of every candidate evaluated after the DOE, per expensive objective;
- ``summary.md``: settings, the HV / surrogate-quality curve and the final front as tables.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nsganetv2.evaluation.objectives import column_name, get_objective
from nsganetv2.search.archive import read_records

log = logging.getLogger(__name__)



class _Search:
    """The files of one search folder, loaded once."""

    def __init__(self, save_dir: str | Path) -> None:
        self.dir = Path(save_dir)
        state_path = self.dir / "search.json"
        if not state_path.exists():
            raise ValueError(f"{self.dir} holds no search.json: not a search folder")
        self.state = json.loads(state_path.read_text())
        self.names: list[str] = list(self.state["problem"]["objectives"])
        self.expensive: list[int] = list(self.state["problem"].get("expensive", [0]))
        self.records = read_records(self.dir / "archive.jsonl")
        self.stats: dict[int, dict] = {}
        k = 0
        while (self.dir / f"iter_{k}.stats").exists():
            self.stats[k] = json.loads((self.dir / f"iter_{k}.stats").read_text())
            k += 1

    def ok(self, up_to: int | None = None) -> list[dict]:
        return [r for r in self.records
                if r["status"] == "ok" and (up_to is None or r.get("iteration", 0) <= up_to)]

    def F(self, recs: list[dict]) -> np.ndarray:
        return np.array([[r["objectives"][n] for n in self.names] for r in recs], dtype=float).reshape(-1, len(self.names))


def _front_mask(F: np.ndarray) -> np.ndarray:
    from nsganetv2.moo.sorting import pareto_mask

    return pareto_mask(F) if len(F) else np.zeros(0, bool)


def _label(name: str) -> str:
    """The objective's plot label from the registry (test problems' f1, f2 ... are their own labels)."""
    try:
        return get_objective(name).label
    except ValueError:
        return name


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_front(save_dir: str | Path, iteration: int, out_dir: str | Path | None = None,
               _s: _Search | None = None) -> Path:
    """Archive, front and candidates of ``iteration`` -> ``front_iter_{iteration}.png``."""
    s = _s or _Search(save_dir)
    out = Path(out_dir) if out_dir else s.dir / "report"
    recs = s.ok(iteration)
    F = s.F(recs)
    nd = _front_mask(F)
    cand = np.array([r.get("iteration") == iteration for r in recs], dtype=bool)
    pairs = [(0, j) for j in range(1, len(s.names))]
    fig = Figure(figsize=(5.2 * len(pairs), 4.4))
    for n, (a, b) in enumerate(pairs):
        ax = fig.add_subplot(1, len(pairs), n + 1)
        ax.scatter(F[:, b], F[:, a], s=10, c="0.7", label=f"archive ({len(F)})")
        if nd.any():
            fr = F[nd]
            if len(s.names) == 2:
                o = np.argsort(fr[:, b])
                ax.step(fr[o, b], fr[o, a], where="post", c="tab:red", lw=1)
            ax.scatter(fr[:, b], fr[:, a], s=18, c="tab:red", label=f"front ({int(nd.sum())})")
        if cand.any() and iteration > 0:
            ax.scatter(F[cand, b], F[cand, a], s=40, facecolors="none", edgecolors="tab:blue",
                       label=f"iteration {iteration} candidates")
        ax.set_xlabel(_label(s.names[b]))
        ax.set_ylabel(_label(s.names[a]))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    hv = s.stats.get(iteration, {}).get("hv")
    fig.suptitle(f"iteration {iteration}" + (f", HV {hv:.4f}" if hv is not None else ""))
    return _save(fig, out / f"front_iter_{iteration}.png")


def plot_hv(save_dir: str | Path, out_dir: str | Path | None = None, _s: _Search | None = None) -> Path:
    """Hypervolume over true evaluations -> ``hv.png``."""
    s = _s or _Search(save_dir)
    out = Path(out_dir) if out_dir else s.dir / "report"
    ks = sorted(s.stats)
    x = [s.stats[k].get("n_evaluations", len(s.stats[k]["archive"])) for k in ks]
    y = [s.stats[k]["hv"] for k in ks]
    fig = Figure(figsize=(5.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(x, y, "o-", ms=3)
    ax.set_xlabel("true evaluations")
    ax.set_ylabel("normalised hypervolume")
    ax.set_title("hypervolume (fixed reference point)")
    ax.grid(alpha=0.3)
    return _save(fig, out / "hv.png")


def plot_surrogate(save_dir: str | Path, out_dir: str | Path | None = None, _s: _Search | None = None) -> Path:
    """Predicted vs true value of each candidate evaluated after the DOE -> ``surrogate.png``."""
    s = _s or _Search(save_dir)
    out = Path(out_dir) if out_dir else s.dir / "report"
    recs = [r for r in s.ok() if r.get("predicted")]
    exp_names = [s.names[j] for j in s.expensive]
    fig = Figure(figsize=(4.8 * len(exp_names), 4.4))
    for n, name in enumerate(exp_names):
        ax = fig.add_subplot(1, len(exp_names), n + 1)
        t = np.array([r["objectives"][name] for r in recs], dtype=float)
        p = np.array([r["predicted"][name] for r in recs], dtype=float)
        it = np.array([r.get("iteration", 0) for r in recs])
        if len(t):
            sc = ax.scatter(t, p, c=it, s=14, cmap="viridis")
            lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            fig.colorbar(sc, ax=ax, label="iteration")
        else:
            ax.text(0.5, 0.5, "no predictions yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"true {_label(name)}")
        ax.set_ylabel(f"predicted {_label(name)}")
        ax.grid(alpha=0.3)
    fig.suptitle("surrogate: predicted vs true (candidates)")
    return _save(fig, out / "surrogate.png")


def _cell(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        text = json.dumps(v, separators=(",", ":"))
        return text if len(text) <= 60 else text[:57] + "..."
    return str(v)


def write_summary(save_dir: str | Path, out_dir: str | Path | None = None, _s: _Search | None = None) -> Path:
    """A markdown summary: settings, HV and surrogate quality per iteration, the final front -> ``summary.md``."""
    s = _s or _Search(save_dir)
    out = Path(out_dir) if out_dir else s.dir / "report"
    st = s.state
    n_fail = sum(r["status"] != "ok" for r in s.records)
    lines = [f"# Search summary: {s.dir.name}", "",
             f"- problem: `{st['problem']['name']}`, objectives {', '.join(s.names)} "
             f"(expensive: {', '.join(s.names[j] for j in s.expensive)})",
             "- settings: " + ", ".join(f"{k}={_cell(v)}" for k, v in st["settings"].items()),
             f"- seed {st['seed']}, reference point {_cell(st.get('ref_point'))}, status {st.get('status')}",
             f"- evaluations: {len(s.records)} ({n_fail} failed), iterations completed: {max(s.stats, default=-1)}",
             "", "## Hypervolume and surrogate quality", "",
             "Surrogate quality on each iteration's candidates (out of sample), and as the original logged it: "
             "rmse / rho / tau over the archive it was fitted on (in-sample) plus the candidates.", "",
             "| iteration | evaluations | HV | candidates rmse | candidates rho | candidates tau | rmse (archive + "
             "candidates) | rho (archive + candidates) | tau (archive + candidates) | search s | eval s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(s.stats):
        d = s.stats[k]
        q = d.get("surrogate") or {}
        t = d.get("timing") or {}
        cells = [q.get(f"candidates_{m}") for m in ("rmse", "rho", "tau")] + [q.get(m) for m in ("rmse", "rho", "tau")]
        lines.append(f"| {k} | {d.get('n_evaluations', '-')} | {d['hv']:.5f} | " + " | ".join(map(_cell, cells)) +
                     f" | {_cell(t.get('search_s'))} | {_cell(t.get('eval_s'))} |")
    recs = s.ok()
    F = s.F(recs)
    nd = np.flatnonzero(_front_mask(F))
    nd = nd[np.argsort(F[nd, 0], kind="stable")] if len(nd) else nd
    lines += ["", f"## Final front ({len(nd)} of {len(recs)} successful)", "",
              "| # | " + " | ".join(map(column_name, s.names)) + " | iteration | config |",
              "|---|" + "---|" * len(s.names) + "---|---|"]
    for i, j in enumerate(nd):
        r = recs[j]
        lines.append(f"| {i} | " + " | ".join(_cell(float(v)) for v in F[j]) +
                     f" | {r.get('iteration')} | `{_cell(r.get('config'))}` |")
    path = out / "summary.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def make_report(save_dir: str | Path, out_dir: str | Path | None = None,
                iterations: Iterable[int] | str = "all") -> list[Path]:
    """All plots and the summary for the search in ``save_dir``; ``iterations`` = "all", "last" or a list."""
    s = _Search(save_dir)
    if not s.stats:
        raise ValueError(f"{s.dir} has no iter_*.stats yet: run the search (its DOE at least) first")
    if iterations == "all":
        ks = sorted(s.stats)
    elif iterations == "last":
        ks = [max(s.stats)]
    else:
        ks = [int(k) for k in iterations]  # type: ignore[union-attr]
    paths = [plot_front(save_dir, k, out_dir, _s=s) for k in ks]
    paths += [plot_hv(save_dir, out_dir, _s=s), plot_surrogate(save_dir, out_dir, _s=s),
              write_summary(save_dir, out_dir, _s=s)]
    log.info("report: %d files in %s", len(paths), paths[-1].parent)
    return paths
