"""Recording a DOE through ask/tell: its results told one call per result vs all in one call, and the resume after.

On the NAS problem of ``bench_search_quality.py`` (46-integer OFA genome, exact FLOPs, a synthetic accuracy, so that
evaluating costs next to nothing), a DOE of N genomes is asked once and evaluated, then recorded two ways in fresh
folders: ``tell`` one call per result (a sync and two candidate files per record: what ``run()`` does as results
stream in) and ``tell`` once for all (one sync for the call). The folder recorded at once is then resumed:
``MSuNAS.load`` and the first ``ask()`` (archive read, surrogate fit, NSGA-II on it, selection). Wall seconds.
File creation and syncs depend on the disk: compare the columns of one run, not runs on different machines.

    python benchmarks/bench_tell.py [--sizes 1000 10000] [--one-by-one-max 10000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search_quality import _nas_problem  # noqa: E402

from nsganetv2.search import MSuNAS  # noqa: E402


def _record(folder: Path, n: int, one_by_one: bool) -> float:
    """Seconds to tell the results of a DOE of n (asked and evaluated beforehand) one call each or in one call."""
    p = _nas_problem()
    s = MSuNAS(p, folder, n_doe=n, iterations=1, n_iter=8, seed=0, progress=False)
    asked = s.ask()
    results = p.evaluate_expensive(asked.X)
    t = time.perf_counter()
    if one_by_one:
        for i in range(len(asked)):
            s.tell(asked.X[i:i + 1], results[i:i + 1])
    else:
        s.tell(asked.X, results)
    s.close()
    return time.perf_counter() - t


def _resume(folder: Path) -> float:
    """Seconds to load a recorded search and ask for its first iteration's candidates."""
    t = time.perf_counter()
    s = MSuNAS.load(folder, _nas_problem(), progress=False)
    s.ask()
    s.close()
    return time.perf_counter() - t


def main(sizes: list[int], one_by_one_max: int) -> None:
    print("| DOE | tell one call per result (s) | tell once (s) | one per result / once | resume: load + first ask (s) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            slow = _record(Path(tmp) / f"each_{n}", n, True) if n <= one_by_one_max else None
            fast = _record(Path(tmp) / f"once_{n}", n, False)
            resume = _resume(Path(tmp) / f"once_{n}")
            each = "-" if slow is None else f"{slow:.2f}"
            ratio = "-" if slow is None else f"{slow / fast:.2f}"
            print(f"| {n:,} | {each} | {fast:.2f} | {ratio} | {resume:.2f} |", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="DOE sizes")
    ap.add_argument("--one-by-one-max", type=int, default=10000,
                    help="largest DOE also told one call per result (that way takes minutes at 100,000)")
    args = ap.parse_args()
    main(args.sizes, args.one_by_one_max)
