"""Non-dominated sorting, first front, crowding distance: ours vs moocore and pymoo, single thread, median of repeats.

Sorting (all fronts) and first front for N = 1e2, 1e3, 1e4, 1e5 (quick: 1e2, 1e3), M = 2, 3, 5, uniform random points
and points on a sphere front (one front); crowding distance on sphere fronts (pygmo too if it is installed).
Peers: moocore (pareto_rank, is_nondominated keep_weakly), pymoo (NonDominatedSorting = moocore + front splitting,
find_non_dominated), pymoo's Cython ENS-BS, fast best-order sort and Deb sort, pymoo's Cython pairwise first-front
scan. A peer whose result differs from ours is marked "!" and is not counted as fastest (pymoo's best-order sort is
wrong on ties; ours is checked against moocore on every cell). A peer whose estimated time exceeds the limit prints
"-". Ratio = ours / fastest correct peer. Each library's repeats take point sets of the same kind and size (seeds 0,
1, ...) in turn, as many as the repeats (at most 101) where they fit in 32 MiB (at least 8 otherwise), so that at
small N no set is sorted twice (``--inputs K``: K sets cycled; 1: one set repeated, the method before): called on
one input again and again, a CPU's branch predictors learn its branches, which no caller in a search sees, and 8
small sets cycled over 100 repeats are learnt as well.

    python benchmarks/bench_sort.py [--quick] [--inputs K]
    python benchmarks/bench_sort.py --threads [--n 100000 1000000]
    python benchmarks/bench_sort.py --large [--n 1e5 1e6 1e7]

``--threads`` times ``pareto_mask`` at 1 and 2 threads (M = 2, 3, 5, 6; uniform points at each N, and a sphere front of
1e5 points, where every point is in the first front; wall time, since CPU time adds up over threads) next to
moocore's ``is_nondominated`` and prints the speed-up. It first prints the host's ceiling for the passes that stream the
rows from memory: the 2-thread speed-up of a plain read of 48 MiB (NumPy sums of the halves on two threads against one
sum of the whole; NumPy releases the GIL in them). On a VM whose memory does not serve a second core faster (1.2-1.5x
there), a call that spends half its time reading its rows cannot reach 2x.

``--large`` times all fronts (``non_dominated_sort``) on uniform points (``np.random.default_rng(0)``) for M = 2, 3 at
each N (default 1e5, 1e6, 1e7): ours, moocore's ``pareto_rank`` (skipped when its time, estimated from the previous N
with exponent 1.2, exceeds 30 s a call) and a floor (one ``np.argsort`` of the first objective and one pass in that
order), in CPU seconds (``time.process_time``, median of 7, 5 or 3 calls as N grows; moocore 3 calls, 1 at 1e7). Each
cell runs in its own forked child, which builds the points in place (no temporaries), makes one small call (imports,
first-call set-up), reads its resident set, makes the measured call and reads the peak resident set
(``ru_maxrss``): peak extra memory = peak - resident set before - the result's bytes, a point. This counts only pages
actually touched (what the call really takes from the machine) and includes any scratch kept for later calls. Ratios:
ours / floor, ours / the issue's time target (N = 1e6 only), extra bytes a point / 30. Run it from the repository
root with the worktree's package on the path (the header prints which ``nsganetv2`` was imported).
"""
from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def uniform(n: int, m: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, m))


def sphere(n: int, m: int, seed: int = 0) -> np.ndarray:
    X = np.abs(np.random.default_rng(seed).normal(size=(n, m))) + 1e-12
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _ranks_from_fronts(fronts, n: int) -> np.ndarray:
    r = np.full(n, -1, dtype=np.int64)
    for k, f in enumerate(fronts):
        r[np.asarray(f, dtype=np.int64)] = k
    return r


def _mask_from_index(idx, n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[np.asarray(idx, dtype=np.int64)] = True
    return m


# name -> (function returning a comparable result, growth exponent used to skip hopeless cells)
def _sort_libs() -> dict:
    from nsganetv2.moo.sorting import non_dominated_sort

    libs = {"ours": (non_dominated_sort, 1)}
    try:
        import moocore

        libs["moocore"] = (moocore.pareto_rank, 1)
    except ImportError:
        pass
    try:
        from pymoo.functions import load_function
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        nds = NonDominatedSorting()
        libs["pymoo"] = (lambda F: nds.do(F, return_rank=True)[1], 1)
        ens, fbos, deb = (load_function(k) for k in ("efficient_non_dominated_sort", "fast_best_order_sort",
                                                    "fast_non_dominated_sort"))
        libs["pymoo-ENS-BS"] = (lambda F: _ranks_from_fronts(ens(F, strategy="binary"), len(F)), 2)
        libs["pymoo-FBOS"] = (lambda F: _ranks_from_fronts(fbos(F), len(F)), 2)
        libs["pymoo-Deb"] = (lambda F: _ranks_from_fronts(deb(F), len(F)), 2)
    except ImportError:
        pass
    return libs


def _first_libs() -> dict:
    from nsganetv2.moo.sorting import pareto_mask

    libs = {"ours": (pareto_mask, 1)}
    try:
        import moocore

        libs["moocore"] = (lambda F: moocore.is_nondominated(F, keep_weakly=True), 1)
    except ImportError:
        pass
    try:
        from pymoo.functions import load_function
        from pymoo.util.nds.non_dominated_sorting import find_non_dominated

        libs["pymoo"] = (lambda F: _mask_from_index(find_non_dominated(F), len(F)), 1)
        scan = load_function("find_non_dominated")
        libs["pymoo-scan"] = (lambda F: _mask_from_index(scan(F), len(F)), 2)
    except ImportError:
        pass
    return libs


def _crowd_libs() -> dict:
    from nsganetv2.moo.crowding import crowding_distance

    libs = {"ours": (crowding_distance, 1)}
    try:
        from pymoo.operators.survival.rank_and_crowding.metrics import get_crowding_function

        cd = get_crowding_function("cd")
        libs["pymoo"] = (cd.do, 1)
    except ImportError:
        pass
    try:
        import pygmo  # only if already installed

        # pygmo does not divide by M; rescale so results are comparable
        libs["pygmo"] = (lambda F: np.asarray(pygmo.crowding_distance(F)) / F.shape[1], 1)
    except ImportError:
        pass
    return libs


def _same(a, b, task: str) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if task != "crowding":
        return bool(np.array_equal(a, b))
    if not np.array_equal(np.isinf(a), np.isinf(b)):
        return False
    fin = np.isfinite(a)
    return bool(np.allclose(a[fin], b[fin], rtol=1e-12, atol=0))


INPUTS_BYTES = 32 << 20  # by default a cell's point sets take at most this much memory (see the module docstring)
INPUTS_LEAST = 8  # ... and are at least this many


def _input_count(n: int, m: int, repeats: int, inputs: int | None) -> int:
    """Point sets for a cell: ``inputs`` when given, else one a repeat within INPUTS_BYTES (at least INPUTS_LEAST)."""
    if inputs:
        return inputs
    return max(INPUTS_LEAST, min(repeats, INPUTS_BYTES // (8 * n * m)))


def _time(fn, inputs: list, budget: float, max_repeats: int) -> tuple[float, object]:
    """Median seconds per call over repeats cycling through ``inputs``, and the result on ``inputs[0]``."""
    t = time.perf_counter()
    out = fn(inputs[0])
    first = time.perf_counter() - t
    reps = int(min(max_repeats, max(3, budget / max(first, 1e-7))))
    times = [first]
    for i in range(1, reps):
        F = inputs[i % len(inputs)]
        t = time.perf_counter()
        fn(F)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def _fmt(t: float | None, wrong: bool) -> str:
    if t is None:
        return "-"
    s = f"{t * 1e3:.3g}" if t * 1e3 >= 0.01 else f"{t * 1e3:.2g}"
    return s + ("!" if wrong else "")


def main(quick: bool = False, inputs: int | None = None) -> list[dict]:
    """Run every cell, print the table (times in ms) and return the rows."""
    sizes = (100, 1000) if quick else (100, 1000, 10_000, 100_000)
    budget, max_repeats, limit = (0.1, 15, 1.0) if quick else (0.6, 101, 8.0)
    tasks = [("rank", _sort_libs()), ("first", _first_libs()), ("crowding", _crowd_libs())]
    rows = []
    for task, libs in tasks:
        names = list(libs)
        header = f"{'task':8s} {'data':7s} {'M':>2s} {'N':>7s} " + " ".join(f"{n:>12s}" for n in names)
        print(f"\n{header} {'fastest peer':>13s} {'ratio':>6s}", flush=True)
        kinds = ("sphere",) if task == "crowding" else ("uniform", "sphere")
        for kind in kinds:
            for m in (2, 3, 5):
                last: dict[str, tuple[int, float]] = {}
                for n in sizes:
                    k = _input_count(n, m, max_repeats, inputs)
                    Fs = [uniform(n, m, s) if kind == "uniform" else sphere(n, m, s) for s in range(k)]
                    times: dict[str, float | None] = {}
                    wrong: dict[str, bool] = {}
                    ref = None
                    for name in names:
                        fn, expo = libs[name]
                        if name in last:
                            n0, t0 = last[name]
                            if t0 * (n / n0) ** expo > limit:
                                times[name] = None
                                continue
                        t, out = _time(fn, Fs, budget, max_repeats)
                        last[name] = (n, t)
                        times[name] = t
                        if name == "ours":
                            ref = out
                        wrong[name] = name != "ours" and not _same(out, ref, task)
                    peers = {k: v for k, v in times.items() if k != "ours" and v is not None and not wrong[k]}
                    best = min(peers, key=peers.get) if peers else None
                    ratio = times["ours"] / peers[best] if best else float("nan")
                    if task != "crowding" and "moocore" in times and wrong.get("moocore"):
                        raise AssertionError(f"ours differs from moocore on {task} {kind} M={m} N={n}")
                    cells = " ".join(f"{_fmt(times.get(k), wrong.get(k, False)):>12s}" for k in names)
                    print(f"{task:8s} {kind:7s} {m:2d} {n:7d} {cells} {best or '-':>13s} {ratio:6.2f}", flush=True)
                    rows.append(dict(task=task, data=kind, M=m, N=n, times=times, wrong=wrong, best=best, ratio=ratio))
    turn = f"{inputs} inputs in turn" if inputs else f"up to {max_repeats} inputs in turn, fewer above 32 MiB"
    print(f"\ntimes in ms (median; {turn}); '!' = result differs from ours (not counted); '-' = "
          "skipped (too slow)")
    return rows


THREADS_BLOCK_S = 0.2  # --threads times blocks of calls at least this long: single calls moved by up to 2x on a VM


def _calls_per_block(fn, block_s: float) -> int:
    """Calls of ``fn`` that take about ``block_s`` (from one timed call)."""
    t = time.perf_counter()
    fn()
    return max(1, round(block_s / max(time.perf_counter() - t, 1e-9)))


STREAM_MIB = 48  # --threads: the streaming read that gives the memory's 2-thread ceiling (about a 1e6 x 6 F)


def stream_speedup(rounds: int = 7, calls: int = 20) -> tuple[float, float, float]:
    """The 2-thread speed-up of a plain streaming read of STREAM_MIB MiB: median, least and most over ``rounds``
    rounds, each timing ``calls`` sums on one thread and ``calls`` pairs of half sums on two."""
    from concurrent.futures import ThreadPoolExecutor

    A = np.random.default_rng(0).random(STREAM_MIB * 2**20 // 8)
    halves = (A[: A.size // 2], A[A.size // 2:])
    with ThreadPoolExecutor(2) as pool:
        fns = (A.sum, lambda: sum(pool.map(np.sum, halves)))
        speedups = []
        for _ in range(rounds):
            t = []
            for fn in fns:
                fn()
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                t.append(time.perf_counter() - t0)
            speedups.append(t[0] / t[1])
    return float(np.median(speedups)), min(speedups), max(speedups)


def main_threads(ns: list[int] | None = None) -> list[dict]:
    import moocore

    from nsganetv2.moo.sorting import pareto_mask

    med, lo, hi = stream_speedup()
    print(f"memory: a streaming read of {STREAM_MIB} MiB on 2 threads is {med:.2f}x one (rounds {lo:.2f}-{hi:.2f}): "
          f"the ceiling of the passes over the rows")
    rows = []
    print(f"first front (pareto_mask), wall seconds per call (median of 7 interleaved rounds, each a block of about "
          f"{THREADS_BLOCK_S * 1e3:.0f} ms after an untimed call)")
    print(f"{'data':7s} {'M':>2} {'N':>8} {'1 thread':>10} {'2 threads':>10} {'moocore':>10} {'1/2 thr.':>8} "
          f"{'rounds':>11} {'1thr/moocore':>12}")
    cases = [("uniform", n) for n in (ns or (100000, 1000000))] + [("sphere", 100000)]
    for m in (2, 3, 5, 6):
        for kind, n in cases:
            F = uniform(n, m) if kind == "uniform" else sphere(n, m)
            fns = {1: lambda: pareto_mask(F), 2: lambda: pareto_mask(F, n_threads=2),
                   "moocore": lambda: moocore.is_nondominated(F, keep_weakly=True)}
            assert (fns[1]() == fns[2]()).all() and (fns[1]() == fns["moocore"]()).all()
            times: dict = {k: [] for k in fns}
            calls = {k: _calls_per_block(fn, THREADS_BLOCK_S) for k, fn in fns.items()}
            for _ in range(7):
                for k, fn in fns.items():
                    fn()  # untimed: after moocore's long call the second vCPU of a VM sleeps, and waking it costs
                    t = time.perf_counter()  # about as much as the whole two-thread call
                    for _ in range(calls[k]):
                        fn()
                    times[k].append((time.perf_counter() - t) / calls[k])
            med = {k: float(np.median(v)) for k, v in times.items()}
            per_round = np.array(times[1]) / np.array(times[2])  # the speed-up of each round: the VM's spread
            rows.append({"data": kind, "M": m, "N": n, **{str(k): v for k, v in med.items()},
                         "rounds": (float(per_round.min()), float(per_round.max()))})
            print(f"{kind:7s} {m:>2} {n:>8} {med[1]:10.3e} {med[2]:10.3e} {med['moocore']:10.3e} "
                  f"{med[1] / med[2]:8.2f} {per_round.min():5.2f}-{per_round.max():<5.2f} "
                  f"{med[1] / med['moocore']:12.2f}")
    return rows


# ---------------------------------------------------------------------------------------------------------------
# --large: all fronts at 1e5 .. 1e7 points, time and peak extra memory
# ---------------------------------------------------------------------------------------------------------------
LARGE_TARGET_S = {2: 0.045, 3: 0.170}  # issue #23: all fronts at N = 1e6 on one core (figures from a Zen 5 core)
LARGE_TARGET_BYTES = 30.0  # issue #23: extra memory a point
LARGE_PEER_LIMIT_S = 30.0  # a peer whose estimated time per call is above this is skipped


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _large_fn(lib: str):
    if lib == "ours":
        from nsganetv2.moo.sorting import non_dominated_sort

        return non_dominated_sort
    if lib == "moocore":
        import moocore

        return moocore.pareto_rank

    def floor(F: np.ndarray) -> np.ndarray:  # one argsort of the first objective and one pass in that order
        order = np.argsort(F[:, 0])
        return np.minimum.accumulate(F[order, 1])

    return floor


def _large_child(conn, lib: str, n: int, m: int, repeats: int) -> None:
    """In a forked child: build the points in place (no temporaries, so that the peak resident set so far is the
    current one), call once for the peak extra memory, then time `repeats` calls (CPU seconds)."""
    import resource

    fn = _large_fn(lib)
    F = np.empty((n, m))
    np.random.default_rng(0).random(out=F)
    fn(F[:64].copy())  # imports and first-call set-up outside the measurement
    before = _rss_bytes()
    slack = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    out = fn(F)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    extra = peak - before - out.nbytes  # the result is not extra memory
    times = []
    for _ in range(repeats):
        del out
        t = time.process_time()
        out = fn(F)
        times.append(time.process_time() - t)
    conn.send((float(np.median(times)), extra / n, slack / n, out if lib != "floor" and n <= 100_000 else None))


def _large_cell(lib: str, n: int, m: int, repeats: int, timeout: float):
    """(median CPU seconds, extra bytes a point, slack bytes a point, small result) from a child, or None when it
    ran past the timeout."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_large_child, args=(child, lib, n, m, repeats))
    p.start()
    child.close()
    res = parent.recv() if parent.poll(timeout) else None
    p.join(1 if res is None else None)
    if p.is_alive():
        p.terminate()
        p.join()
    return res


def main_large(ns: list[int] | None = None) -> list[dict]:
    """All fronts (non_dominated_sort) on uniform points for N in ns and M = 2, 3: ours, moocore and the floor."""
    import nsganetv2

    ns = ns or [100_000, 1_000_000, 10_000_000]
    rows = []
    print(f"nsganetv2 from {os.path.dirname(nsganetv2.__file__)}")
    print("all fronts, uniform points (np.random.default_rng(0)), CPU seconds per call (median), one core;")
    print("extra = peak resident set of a fresh child during the first call, less its resident set before and the "
          "result array, in bytes a point")
    head = (f"{'M':>2} {'N':>9} {'ours ms':>9} {'moocore ms':>10} {'floor ms':>9} {'ours/floor':>10} "
            f"{'ours/target':>11} {'ours B/pt':>9} {'moocore B/pt':>12} {'B/pt / 30':>9}")
    print(head)
    for m in (2, 3):
        last_peer: tuple[int, float] | None = None
        for n in ns:
            reps = 7 if n <= 100_000 else 5 if n <= 1_000_000 else 3
            ours = _large_cell("ours", n, m, reps, 600)
            floor = _large_cell("floor", n, m, reps, 600)
            peer = None
            est = last_peer[1] * (n / last_peer[0]) ** 1.2 if last_peer else 0.0
            if est <= LARGE_PEER_LIMIT_S:
                peer = _large_cell("moocore", n, m, 1 if n > 1_000_000 else 3, 4 * LARGE_PEER_LIMIT_S + 60)
                if peer is not None:
                    last_peer = (n, peer[0])
            if peer is not None and ours[3] is not None and not np.array_equal(ours[3], peer[3]):
                raise AssertionError(f"ours differs from moocore at M={m} N={n}")
            target = LARGE_TARGET_S[m] if n == 1_000_000 else None
            cells = [f"{ours[0] * 1e3:9.1f}", f"{peer[0] * 1e3:10.1f}" if peer else f"{'-':>10}",
                     f"{floor[0] * 1e3:9.1f}", f"{ours[0] / floor[0]:10.2f}",
                     f"{ours[0] / target:11.2f}" if target else f"{'':>11}", f"{ours[1]:9.1f}",
                     f"{peer[1]:12.1f}" if peer else f"{'-':>12}", f"{ours[1] / LARGE_TARGET_BYTES:9.2f}"]
            print(f"{m:>2} {n:>9} " + " ".join(cells), flush=True)
            rows.append(dict(M=m, N=n, ours=ours[:3], moocore=peer[:3] if peer else None, floor=floor[0]))
    print(f"target: M = 2 {LARGE_TARGET_S[2] * 1e3:.0f} ms, M = 3 {LARGE_TARGET_S[3] * 1e3:.0f} ms at N = 1e6 "
          f"(issue #23, a Zen 5 core), at most {LARGE_TARGET_BYTES:.0f} extra bytes a point; '-': moocore skipped "
          f"(estimated above {LARGE_PEER_LIMIT_S:.0f} s a call)")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e2, 1e3 only, fewer repeats")
    parser.add_argument("--threads", action="store_true", help="pareto_mask at 1 and 2 threads instead")
    parser.add_argument("--large", action="store_true", help="all fronts at large N: time and peak extra memory")
    parser.add_argument("--inputs", type=int, default=None,
                        help="point sets the main table's repeats cycle through (default: one a repeat where they "
                             "fit in 32 MiB; 1: one set repeated)")
    parser.add_argument("--n", type=float, nargs="+",
                        help="numbers of points for --threads (default 1e5, 1e6) or --large (default 1e5, 1e6, 1e7)")
    args = parser.parse_args()
    ns = [int(x) for x in args.n] if args.n else None
    if args.large:
        main_large(ns)
    elif args.threads:
        main_threads(ns)
    else:
        main(args.quick, args.inputs)
