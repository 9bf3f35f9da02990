"""Hypervolume: ours vs moocore and pymoo's HV (which calls moocore), single thread, median of repeats.

Fronts on the positive unit sphere, reference 1.1 per objective, N = 1e2, 1e3, 1e4 and M = 2..6. A cell a
library cannot finish within 30 s (probed in a child process) prints "-". Prints a table with ours / fastest peer.
Times are process CPU seconds (``time.process_time``): every library here runs on one thread, and CPU time stays
meaningful when other jobs share the machine, where wall time does not. Within a cell the libraries take turns,
one timed block each per round (so a slow spell of the machine hits all of them alike), after one untimed call (the
first call after another library's runs cold: up to 1.5x slower at N = 100), and a block repeats a fast call until
it lasts about 2 ms or has called every front once (a single 100-µs call times too coarsely to compare); the time is
the median over rounds of the block time per call. A block calls each of FRONTS (64) fronts of the same size and
shape (seeds 0..63; ``--fronts``; fewer where 64 would take over 32 MiB) at most once, the untimed call's included:
called on one input again and again, a CPU's branch predictors learn that input's branches, which no real caller
sees (at M = 5, N = 100 on one Zen 4 core: ours 55 µs on one front, 140 µs on eight; moocore 73 and 263 µs), and a
few fronts cycled are learnt as well (at M = 4, N = 100, 8 fronts cycled 400 times: ours 7.4 µs; each front once
between other libraries' calls: 26-30 µs). ``--fronts 1`` repeats one front for the whole block, the method
before.

    python benchmarks/bench_hv.py [--quick] [--m 5 [6 ...]] [--n 100 [1000 ...]] [--fronts 64]
    python benchmarks/bench_hv.py --contrib [--m 2 3 ...] [--n ...]
    python benchmarks/bench_hv.py --indicators
    python benchmarks/bench_hv.py --threads [--m 5 6] [--n 1000 3000]

``--m`` / ``--n`` restrict the table to those cells (a targeted timing: the other cells are not run).
``--contrib`` times the hypervolume contributions of every point instead (ours ``hv_contributions`` vs
``moocore.hv_contributions``, both in their default mode; on a front the modes agree), M = 2..6, N = 1e2..1e4
where moocore finishes (it computes N + 1 hypervolumes for M >= 4). ``--indicators`` times IGD, IGD+ and the
additive epsilon of a sphere front (N points) against another sphere front (N reference points), ours vs moocore.
``--threads`` times ours at ``n_threads`` = 1 and 2 (M = 5, 6; N = 1e3, 3e3), in wall seconds (CPU time adds the
threads up), and prints the speed-up and the load average: on a machine busy with other jobs the second thread
waits for a core, and the speed-up says little. The column ``cpu 2/1`` (process CPU seconds on 2 threads over those
on 1) is the extra work the threads cost, which the load does not change much.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

LIMIT_S = 30.0
FRONTS = 64  # inputs a timed block calls once each at most (see the module docstring)
FRONTS_BYTES = 32 << 20  # at most this much memory for a cell's fronts


def sphere(n: int, m: int, seed: int = 0) -> np.ndarray:
    X = np.abs(np.random.default_rng(seed).normal(size=(n, m))) + 1e-12
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _libraries() -> dict:
    from nsganetv2.moo.hypervolume import hypervolume

    libs = {"ours": hypervolume}
    try:
        import moocore

        libs["moocore"] = lambda F, ref: moocore.hypervolume(F, ref=ref)
    except ImportError:
        pass
    try:
        from pymoo.indicators.hv import HV

        libs["pymoo"] = lambda F, ref: HV(ref_point=ref)(F)
    except ImportError:
        pass
    return libs


def _child(name: str, n: int, m: int, queue) -> None:
    F, ref = sphere(n, m), np.full(m, 1.1)
    t = time.process_time()
    v = _libraries()[name](F, ref)
    queue.put((time.process_time() - t, float(v)))


def _probe(name: str, n: int, m: int) -> tuple[float, float] | None:
    """One run in a child process; None when it does not finish within LIMIT_S."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, n, m, queue))
    proc.start()
    proc.join(LIMIT_S)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get() if not queue.empty() else None


BLOCK_S = 2e-3


def _time_turns(fns: dict, inputs: list[tuple], budget: float, max_rounds: int) -> dict[str, tuple[float, float]]:
    """``{name: (median CPU seconds per call, value on inputs[0])}``, the libraries taking turns, one block each per
    round; a block calls ``fn(*args)`` for the argument tuples of ``inputs`` in turn, each at most once and not the
    last, which the untimed call before the block takes (one input: repeated)."""
    values, calls = {}, {}
    for name, fn in fns.items():  # the warm-up call also sizes the blocks (a slow cell runs twice, not 3 times)
        t = time.process_time()
        values[name] = fn(*inputs[0])
        calls[name] = int(min(1000, max(1, BLOCK_S / max(time.process_time() - t, 1e-7))))
    times: dict[str, list[float]] = {name: [] for name in fns}
    start, rounds = time.perf_counter(), 0
    while rounds < max_rounds and (rounds < 3 or time.perf_counter() - start < budget * len(fns)):
        for name, fn in fns.items():
            # no input twice in a block, the untimed call's (the last input) included
            k = calls[name] if len(inputs) == 1 else min(calls[name], len(inputs) - 1)
            fn(*inputs[-1])  # untimed: the caches and branch predictors were the previous library's
            t = time.process_time()
            for i in range(k):
                fn(*inputs[i % len(inputs)])
            times[name].append((time.process_time() - t) / k)
        rounds += 1
    return {name: (float(np.median(times[name])), values[name]) for name in fns}  # values: what fn returned


def _turns(k: int, what: str = "fronts") -> str:
    """How a block takes its inputs, for the tables' titles."""
    return f"one {what[:-1]} repeated" if k == 1 else f"{k} {what}, each at most once a block"


def _count(n: int, m: int, k: int, arrays: int = 1) -> int:
    """How many of ``k`` inputs of ``arrays`` n x m arrays each fit in FRONTS_BYTES (at least one)."""
    return max(1, min(k, FRONTS_BYTES // (8 * n * m * arrays)))


def _fronts(n: int, m: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Argument tuples ``(sphere front of seed s, reference 1.1)``, s = 0, 1, ...: ``k`` of them, fewer where they
    would take over FRONTS_BYTES."""
    return [(sphere(n, m, seed=s), np.full(m, 1.1)) for s in range(_count(n, m, k))]


def main(quick: bool = False, ms: list[int] | None = None, ns: list[int] | None = None,
         fronts: int = FRONTS) -> list[dict]:
    libs = _libraries()
    sizes = tuple(ns) if ns else ((100, 1000) if quick else (100, 1000, 10000))
    budget, max_repeats = (0.2, 20) if quick else (1.0, 200)
    rows = []
    last: dict[tuple[str, int], float] = {}
    for m in (ms or range(2, 7)):
        for n in sizes:
            inputs = _fronts(n, m, fronts)
            row = {"M": m, "N": n}
            values, turns = {}, {}
            for name, fn in libs.items():
                guess = last.get((name, m), 0.0) * (10.0 ** max(1, m - 3))
                if guess > 1.0:  # might not finish: probe once in a child with a hard limit
                    probe = _probe(name, n, m)
                    if probe is None:
                        row[name] = None
                        continue
                    if probe[0] > 2.0:  # slow enough: one more run is all the median we afford
                        t, v = _time_turns({name: fn}, inputs[:1], 0.0, 1)[name]
                        row[name], values[name], last[(name, m)] = min(t, probe[0]), v, min(t, probe[0])
                        continue
                turns[name] = fn
            for name, (t, v) in _time_turns(turns, inputs, budget, max_repeats).items():
                row[name], values[name], last[(name, m)] = t, v, t
            if "ours" in values and len(values) > 1:
                ref_v = [v for k, v in values.items() if k != "ours"][0]
                row["relerr"] = abs(values["ours"] - ref_v) / abs(ref_v)
            rows.append(row)
    _print(rows, [k for k in libs], fronts)
    return rows


def _print(rows: list[dict], names: list[str], fronts: int) -> None:
    peers = [k for k in names if k != "ours"]
    head = f"{'M':>2} {'N':>6} " + " ".join(f"{k:>10}" for k in names) + f" {'ours/best':>10} {'rel.err':>8}"
    print(f"hypervolume, sphere fronts, ref 1.1, CPU seconds per call (median of interleaved rounds, single thread, "
          f"{_turns(fronts)})")
    print(head)
    print("-" * len(head))
    for r in rows:
        cells = " ".join(f"{r[k]:10.3e}" if r.get(k) is not None else f"{'-':>10}" for k in names)
        best = [r[k] for k in peers if r.get(k) is not None]
        ratio = f"{r['ours'] / min(best):10.2f}" if best and r.get("ours") is not None else f"{'-':>10}"
        err = f"{r['relerr']:8.1e}" if "relerr" in r else f"{'-':>8}"
        print(f"{r['M']:>2} {r['N']:>6} {cells} {ratio} {err}")


def main_contrib(ms: list[int] | None = None, ns: list[int] | None = None, fronts: int = FRONTS) -> list[dict]:
    import moocore

    from nsganetv2.moo import hv_contributions

    fns = {"ours": hv_contributions, "moocore": lambda F, ref: moocore.hv_contributions(F, ref=ref)}
    sizes = {2: (100, 1000, 10000), 3: (100, 1000, 10000), 4: (100, 300), 5: (100,), 6: (50,)}
    rows = []
    print(f"hypervolume contributions, sphere fronts, ref 1.1, CPU seconds per call (median of interleaved rounds, "
          f"{_turns(fronts)})")
    print(f"{'M':>2} {'N':>6} {'ours':>10} {'moocore':>10} {'ours/moocore':>12} {'max.abs.diff':>12}")
    for m in (ms or range(2, 7)):
        for n in (ns or sizes.get(m, (100,))):
            inputs = _fronts(n, m, fronts)
            F, ref = inputs[0]
            t = _time_turns(fns, inputs, 0.5, 50)
            diff = float(np.abs(hv_contributions(F, ref) - moocore.hv_contributions(F, ref=ref)).max())
            row = {"M": m, "N": n, "ours": t["ours"][0], "moocore": t["moocore"][0], "diff": diff}
            rows.append(row)
            print(f"{m:>2} {n:>6} {row['ours']:10.3e} {row['moocore']:10.3e} {row['ours'] / row['moocore']:12.2f} "
                  f"{diff:12.1e}")
    return rows


def main_threads(ms: list[int] | None = None, ns: list[int] | None = None) -> list[dict]:
    from nsganetv2.moo.hypervolume import hypervolume

    rows = []
    print(f"hypervolume on 1 and 2 threads, sphere front, ref 1.1, wall seconds per call (median of interleaved "
          f"rounds); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'M':>2} {'N':>6} {'1 thread':>10} {'2 threads':>10} {'speed-up':>9} {'cpu 2/1':>8} {'same':>5}")
    for m in (ms or (5, 6)):
        for n in (ns or (1000, 3000)):
            F, ref = sphere(n, m), np.full(m, 1.1)
            values = {t: hypervolume(F, ref, n_threads=t) for t in (1, 2)}
            times: dict[int, list[float]] = {1: [], 2: []}
            cpu: dict[int, list[float]] = {1: [], 2: []}
            start = time.perf_counter()
            while len(times[1]) < 5 or (time.perf_counter() - start < 3.0 and len(times[1]) < 100):
                for t in (1, 2):
                    t0, c0 = time.perf_counter(), time.process_time()
                    hypervolume(F, ref, n_threads=t)
                    times[t].append(time.perf_counter() - t0)
                    cpu[t].append(time.process_time() - c0)
            one, two = float(np.median(times[1])), float(np.median(times[2]))
            extra = float(np.median(cpu[2]) / np.median(cpu[1]))
            rows.append({"M": m, "N": n, "1": one, "2": two, "cpu": extra, "same": values[1] == values[2]})
            print(f"{m:>2} {n:>6} {one:10.3e} {two:10.3e} {one / two:9.2f} {extra:8.2f} {str(values[1] == values[2]):>5}")
    return rows


def main_indicators(ms: list[int] | None = None, ns: list[int] | None = None, fronts: int = FRONTS) -> list[dict]:
    import moocore

    from nsganetv2.moo import indicators

    rows = []
    print(f"IGD / IGD+ / eps+, sphere front vs a reference sphere front of as many points, CPU seconds per call "
          f"({_turns(fronts, 'pairs')})")
    print(f"{'indicator':>16} {'M':>2} {'N':>6} {'ours':>10} {'moocore':>10} {'ours/moocore':>12} {'abs.diff':>9}")
    for name in ("igd", "igd_plus", "epsilon_additive"):
        ours, theirs = getattr(indicators, name), getattr(moocore, name)
        fns = {"ours": ours, "moocore": lambda F, R, f=theirs: f(F, ref=R)}
        for m in (ms or (2, 3, 5)):
            for n in (ns or (100, 1000)):
                inputs = [(sphere(n, m, seed=2 * s + 1) * 1.05, sphere(n, m, seed=2 * s + 2))
                          for s in range(_count(n, m, fronts, arrays=2))]
                t = _time_turns(fns, inputs, 0.3, 30)
                diff = abs(t["ours"][1] - t["moocore"][1])
                rows.append({"indicator": name, "M": m, "N": n, "ours": t["ours"][0], "moocore": t["moocore"][0]})
                print(f"{name:>16} {m:>2} {n:>6} {t['ours'][0]:10.3e} {t['moocore'][0]:10.3e} "
                      f"{t['ours'][0] / t['moocore'][0]:12.2f} {diff:9.1e}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e2, 1e3 only, fewer repeats")
    parser.add_argument("--m", type=int, nargs="+", help="numbers of objectives to run (default 2..6)")
    parser.add_argument("--n", type=int, nargs="+", help="numbers of points to run (default 1e2, 1e3, 1e4)")
    parser.add_argument("--contrib", action="store_true", help="hypervolume contributions instead of hypervolume")
    parser.add_argument("--indicators", action="store_true", help="IGD, IGD+ and additive epsilon instead")
    parser.add_argument("--threads", action="store_true", help="ours on 1 and 2 threads (wall time) instead")
    parser.add_argument("--fronts", type=int, default=FRONTS,
                        help=f"fronts a timed block calls once each at most (default {FRONTS}; 1: one front repeated)")
    args = parser.parse_args()
    if args.threads:
        main_threads(args.m, args.n)
    elif args.indicators:
        main_indicators(args.m, args.n, args.fronts)
    elif args.contrib:
        main_contrib(args.m, args.n, args.fronts)
    else:
        main(args.quick, args.m, args.n, args.fronts)
