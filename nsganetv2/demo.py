"""The newcomer path: the whole flow on the bundled mnist5k, on a laptop CPU.

1. train a small OFA MobileNetV3 supernet on mnist5k at 32-48 px (sandwich rule, in-place distillation);
2. search top-1 vs FLOPs (MSuNAS), then top-1 vs FLOPs vs CPU latency with a look-up table built on this CPU;
3. select three architectures (high trade-off points) and export them; validate one on the test split;
4. write plots and a summary into the experiment folder.

Every step skips what an earlier run already finished (the supernet checkpoint, the latency table, the searches
resume), so a second ``make demo`` is quick. ``quick=True`` is a miniature used by the end-to-end test.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class DemoSettings:
    resolutions: tuple[int, ...] = (32, 36, 40)
    epochs: int = 5
    max_steps: int | None = None
    vld_size: int = 1000
    n_calib: int = 500
    n_doe: int = 16
    iterations: int = 4
    n_iter: int = 4
    lut_runs: int = 10
    lut_calibrate: int = 8
    n_trees: int = 1000


FULL = DemoSettings()
TITLES = {"flops": "top-1 vs FLOPs", "cpu": "top-1 vs FLOPs vs CPU latency (from the table)"}
QUICK = DemoSettings(resolutions=(32,), epochs=1, max_steps=3, vld_size=200, n_calib=100, n_doe=5,
                     iterations=1, n_iter=2, lut_runs=2, lut_calibrate=0, n_trees=50)


def run_demo(save: str | Path, quick: bool = False, seed: int = 0, progress: bool = True) -> Path:
    """Run the demo into ``save``; returns the path of the summary file."""
    from nsganetv2 import api

    s = QUICK if quick else FULL
    save = Path(save)
    save.mkdir(parents=True, exist_ok=True)
    res = ",".join(str(r) for r in s.resolutions)
    supernet = save / "supernet" / "supernet.pth"
    if not supernet.exists():
        print(f"[1/5] training a supernet on mnist5k at {res} px ({s.epochs} epochs)")
        out = api.train_supernet(api.SupernetSettings(
            dataset="mnist5k", resolutions=list(s.resolutions), epochs=s.epochs, vld_size=s.vld_size,
            n_calib=s.n_calib, seed=seed, resume=True, max_steps=s.max_steps, progress=progress), supernet.parent)
        for name, top1 in out["top1"].items():
            print(f"  {name.replace('@', ' subnet @ ')}px: held-out top-1 {top1:.2f}%")
    lut = save / "latency_lut.yaml"
    print(f"[2/5] latency look-up table for this CPU at {res} px -> {lut}")
    api.build_latency_table(api.LatencyTableSettings(resolutions=list(s.resolutions), n_classes=10, runs=s.lut_runs,
                                                     calibrate=s.lut_calibrate, progress=progress), lut)
    # RBF and GP need more archive entries than genes (47); the tree ensemble works from a few
    common = dict(dataset="mnist5k", supernet_path=str(supernet), resolutions=list(s.resolutions),
                  vld_size=s.vld_size, n_calib=s.n_calib, n_doe=s.n_doe, iterations=s.iterations, n_iter=s.n_iter,
                  seed=seed, predictor="carts", predictor_kwargs={"n_trees": s.n_trees}, progress=progress)
    searches = {"flops": (save / "search_top1_flops", api.SearchSettings(**common)),
                "cpu": (save / "search_top1_flops_cpu",
                        api.SearchSettings(**common, objectives=("top1", "flops", "cpu"), lut=str(lut)))}
    for step, (name, (path, settings)) in enumerate(searches.items(), start=3):
        print(f"[{step}/5] search: {TITLES[name]}")
        if (path / "search.json").exists():
            api.resume(path, settings)
        else:
            api.search(settings, path)
    flops_dir = searches["flops"][0]
    last = max(flops_dir.glob("iter_*.stats"), key=lambda p: int(p.stem.split("_")[1]))
    selected = save / "selected"
    print(f"[5/5] select three architectures from {last.name}, export and validate one")
    api.select(api.SelectSettings(expr=str(last), n=3, supernet_path=str(supernet), dataset="mnist5k",
                                  vld_size=s.vld_size, n_calib=s.n_calib), selected)
    folder = sorted(selected.glob("net-*"))[0]
    acc = api.validate(folder / "net.config", folder / "net.inherited", "mnist5k")
    summary = save / "SUMMARY.md"
    lines = ["# nsganetv2 demo on mnist5k", ""]
    lines.append(f"- selected architectures: {', '.join(p.name for p in sorted(selected.glob('net-*')))} in {selected}")
    lines.append(f"- validation of {folder.name} on the mnist5k test split: {json.dumps(acc.as_dict())}")
    for name, (path, _) in searches.items():
        lines += ["", f"## Search: {TITLES[name]}",
                  "", f"Folder {path}; fronts per iteration in `report/front_iter_*.png`, the hypervolume curve in "
                  "`report/hv.png`.", *_report_tables(path / "report" / "summary.md")]
    summary.write_text("\n".join(lines) + "\n")
    print(summary.read_text())
    print(f"demo finished: everything is in {save}")
    return summary


def _report_tables(summary: Path) -> list[str]:
    """The hypervolume and final-front tables of a search report, one heading level down."""
    text = summary.read_text().split("\n")
    start = next((i for i, line in enumerate(text) if line.startswith("## Hypervolume")), len(text))
    return [("#" + line if line.startswith("## ") else line) for line in text[start:]]
