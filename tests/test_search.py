"""The MSuNAS loop on test problems: HV improvement, resume after SIGKILL, failures, many objectives, subset GA."""
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from nsganetv2.search import (EvalResult, MSuNAS, OFANASProblem, SearchProblem, SetupError, read_records, subset_selection,
                              test_problem)
from nsganetv2.search.subset import gap_std

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- subset selection
def test_subset_selection_finds_the_exhaustive_optimum():
    rng = np.random.default_rng(0)
    for trial in range(3):
        c, front = rng.random(11) * 10, rng.random(6) * 10
        best = min(itertools.combinations(range(11), 3),
                   key=lambda s: np.std(np.diff(np.sort(np.r_[front, c[list(s)]]))))
        got = subset_selection(c, front, 3, np.random.default_rng(trial))
        assert sorted(got) == sorted(best)
    # fewer candidates than k: all of them (the caller tops up)
    assert subset_selection(np.arange(3.0), np.zeros(2), 5, rng).tolist() == [0, 1, 2]


def test_gap_std_matches_definition():
    vals, front = np.array([1.0, 4.0, 6.0, 9.0]), np.array([0.0, 10.0])
    mask = np.array([[True, False, True, False]])
    assert gap_std(vals, front, mask)[0] == pytest.approx(np.std(np.diff([0, 1, 6, 10])))


# ---------------------------------------------------------------------------------------------- the loop
def test_zdt1_loop_improves_hv_and_writes_files(tmp_path):
    p = test_problem("zdt1", n_var=10, expensive=(0, 1))
    s = MSuNAS(p, tmp_path / "s", n_doe=20, iterations=5, n_iter=5, seed=0, progress=False)
    res = s.run()
    assert len(res.records) == 20 + 5 * 5
    assert len({r["key"] for r in res.records}) == len(res.records)
    hv = [h for _, h in res.hv]
    assert [n for n, _ in res.hv] == [20, 25, 30, 35, 40, 45]
    assert hv[-1] > hv[0] + 0.05
    assert all(b >= a - 1e-12 for a, b in zip(hv, hv[1:]))  # archive only grows, ref point fixed
    state = json.loads((tmp_path / "s" / "search.json").read_text())
    F0 = np.array([[r["objectives"]["f1"], r["objectives"]["f2"]] for r in res.records if r["iteration"] == 0])
    assert np.allclose(state["ref_point"], 1.01 * F0.max(axis=0))
    st = json.loads((tmp_path / "s" / "iter_3.stats").read_text())
    assert {"archive", "candidates", "hv", "surrogate"} <= set(st)
    assert len(st["archive"]) == 35 and len(st["candidates"]) == 5 and len(st["archive"][0]) == 3
    assert {"model", "name", "winner", "rmse", "rho", "tau"} <= set(st["surrogate"])
    assert st["surrogate"]["rmse"] >= 0 and -1 <= st["surrogate"]["tau"] <= 1
    assert set(st["surrogate"]["per_objective"]) == {"f1", "f2"}
    # the front reported is non-dominated within the archive
    F = res.F
    for f in F[res.front]:
        assert not np.any(np.all(F <= f, axis=1) & np.any(F < f, axis=1))


def test_same_seed_same_search_and_refuses_existing_dir(tmp_path):
    kw = dict(n_doe=10, iterations=2, n_iter=3, seed=5, progress=False)
    a = MSuNAS(test_problem("zdt2", n_var=5), tmp_path / "a", **kw).run()
    b = MSuNAS(test_problem("zdt2", n_var=5), tmp_path / "b", **kw).run()
    assert [r["key"] for r in a.records] == [r["key"] for r in b.records]
    with pytest.raises(ValueError, match="resume"):
        MSuNAS(test_problem("zdt2", n_var=5), tmp_path / "a", **kw).run()
    with pytest.raises(ValueError, match="problem"):
        MSuNAS.resume(tmp_path / "a", test_problem("zdt3", n_var=5))
    # resuming a finished search evaluates nothing; extending it adds iterations
    calls = []
    p = test_problem("zdt2", n_var=5, on_evaluate=lambda x: calls.append(1))
    again = MSuNAS.resume(tmp_path / "a", p)
    assert calls == [] and len(again.records) == len(a.records)
    longer = MSuNAS.resume(tmp_path / "a", p, iterations=3)
    assert len(calls) == 3 and len(longer.records) == len(a.records) + 3


def test_three_objective_dtlz2(tmp_path):
    p = test_problem("dtlz2", n_obj=3, n_var=7, expensive=(0,))
    res = MSuNAS(p, tmp_path / "m", n_doe=20, iterations=3, n_iter=6, seed=1, progress=False).run()
    assert res.F.shape == (38, 3)
    st = json.loads((tmp_path / "m" / "iter_3.stats").read_text())
    assert len(st["archive"][0]) == 4 and len(st["ref_point"]) == 3
    assert st["hv"] > json.loads((tmp_path / "m" / "iter_0.stats").read_text())["hv"]
    # cheap objectives are exact: f2, f3 in the archive equal the true values
    true = p.pymoo.evaluate(res.X)
    assert np.allclose(res.F, true)


class _TinyInt(SearchProblem):
    """16 genomes only: the loop must top up, then run out gracefully, never evaluating one twice."""

    name, n_var, vtype = "tiny", 2, "int"
    objective_names, expensive = ("a", "b"), (0,)

    def __init__(self):
        self.xl, self.xu = np.zeros(2), np.full(2, 3.0)
        self.calls = []

    def cheap_objectives(self, X):
        return (X[:, :1] + X[:, 1:]).astype(float)

    def _evaluate_expensive(self, X):
        self.calls += [self.key(x) for x in X]
        return [EvalResult([float(6 - x.sum() + 0.1 * x[0])]) for x in X]


def test_small_space_tops_up_and_never_repeats(tmp_path):
    p = _TinyInt()
    res = MSuNAS(p, tmp_path / "t", n_doe=4, iterations=4, n_iter=5, seed=0, progress=False, pop_size=8,
                 n_gen=3).run()
    assert len(p.calls) == len(set(p.calls)) == 16  # 4 + 5 + 5 + 2 (space exhausted), no repeats
    assert len(res.records) == 16


# ---------------------------------------------------------------------------------------------- NAS adapter, failures
class _FakeSpace:
    """A 6-gene stand-in for the OFA space (genes 0..2; gene 5 inactive when gene 4 == 0)."""

    n_var = 6
    xl, xu = np.zeros(6), np.full(6, 2.0)

    def sample(self, n, rng):
        return self.canonical(rng.integers(0, 3, size=(n, 6)))

    def initial_design(self, n, rng):
        return np.concatenate([np.zeros((1, 6), int), np.full((1, 6), 2), self.sample(n - 2, rng)])

    def canonical(self, X):
        X = np.array(X, dtype=np.int64)
        X[X[:, 4] == 0, 5] = 0
        return X

    def key(self, x):
        return "".join(map(str, x))

    def features(self, X):
        return np.asarray(X, float)

    def decode(self, x):
        return {"ks": [int(v) for v in x[:4]], "d": [int(x[4])], "r": 192 + 4 * int(x[5])}


def test_nas_problem_files_failures_and_resume_lists(tmp_path):
    seen = []

    def evaluate(configs):
        seen.extend(json.dumps(c, sort_keys=True) for c in configs)
        out = []
        for c in configs:
            if c["ks"][0] == 1:
                out.append(RuntimeError("CUDA out of memory"))
            else:
                out.append({"top1": 50 + sum(c["ks"]) + c["r"] / 100, "top5": 90.0, "loss": 1.0})
        return out

    p = OFANASProblem(evaluate, objectives=("top1", "flops", "params"), space=_FakeSpace(),
                      objective_fns={"flops": lambda c: 100.0 - 5 * sum(c["ks"]) + c["r"],
                                     "params": lambda c: 1.0 + c["d"][0]})
    save = tmp_path / "nas"
    res = MSuNAS(p, save, n_doe=30, iterations=2, n_iter=4, seed=2, progress=False, eval_batch_size=7).run()
    assert len(seen) == len(set(seen)) == len(res.records)
    failed = [r for r in res.records if r["status"] == "failed"]
    assert failed and all("out of memory" in r["error"] and r["objectives"] is None for r in failed)
    for r in failed:
        f = save / "failed" / f"it_{r['iteration']}_net_{r['index']}"
        assert json.loads(f.read_text()) == r["config"]
    ok = [r for r in res.records if r["status"] == "ok"]
    r = ok[-1]
    sub = json.loads((save / f"iter_{r['iteration']}" / f"net_{r['index']}.subnet").read_text())
    st = json.loads((save / f"iter_{r['iteration']}" / f"net_{r['index']}.stats").read_text())
    assert sub == r["config"] and st["top1"] == pytest.approx(100 - r["objectives"]["top1"])
    assert st["flops"] == pytest.approx(r["objectives"]["flops"]) and st["params"] == r["objectives"]["params"]
    # the reference point ignores failures (spec bug 10)
    state = json.loads((save / "search.json").read_text())
    F0 = np.array([[r["objectives"][n] for n in ("top1", "flops", "params")] for r in ok if r["iteration"] == 0])
    assert np.allclose(state["ref_point"], 1.01 * F0.max(axis=0))
    stats = json.loads((save / "iter_2.stats").read_text())
    assert len(stats["archive"]) == len(ok) and len(stats["archive"][0]) == 4
    with pytest.raises(ValueError, match="cpu_fn"):
        OFANASProblem(evaluate, objectives=("top1", "cpu"), space=_FakeSpace(),
                      objective_fns={"flops": len, "params": len})
    with pytest.raises(ValueError, match="top1"):
        OFANASProblem(evaluate, objectives=("flops", "top1"), space=_FakeSpace())
    with pytest.raises(ValueError, match="top1 followed by one or more of"):
        OFANASProblem(evaluate, objectives=("top1", "energy"), space=_FakeSpace())
    with pytest.raises(ValueError, match="pass --lut"):
        OFANASProblem(evaluate, objectives=("top1", "latency"), space=_FakeSpace())


# ---------------------------------------------------------------------------------------------- SIGKILL + resume
SCRIPT = textwrap.dedent("""
    import os, sys
    from nsganetv2.search import MSuNAS, test_problem
    save, calls, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    def on_eval(x):
        with open(calls, "a") as f:
            f.write(p.key(x) + "\\n"); f.flush(); os.fsync(f.fileno())
    p = test_problem("zdt1", n_var=6, delay=delay, on_evaluate=on_eval)
    kw = dict(n_doe=12, iterations=4, n_iter=4, seed=3, progress=False, eval_batch_size=1)
    if os.path.exists(os.path.join(save, "search.json")):
        MSuNAS.resume(save, p)
    else:
        MSuNAS(p, save, **kw).run()
""")


def _start(script, save, calls, delay):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, str(script), str(save), str(calls), str(delay)], env=env)


def _kill_after(proc, archive, n_lines, timeout=60.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if archive.exists() and archive.read_bytes().count(b"\n") >= n_lines:
            break
        assert proc.poll() is None, "the search ended before it could be killed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_resume_after_sigkill(tmp_path):
    script = tmp_path / "run_search.py"
    script.write_text(SCRIPT)
    save, calls = tmp_path / "run", tmp_path / "calls.txt"
    archive = save / "archive.jsonl"
    # kill 1: in the middle of the DOE; kill 2: in the middle of iteration 3 (12 + 4 + 4 < 22 < 24)
    snapshots, offsets = [], []
    for n_lines in (5, 22):
        _kill_after(_start(script, save, calls, 0.05), archive, n_lines)
        snapshots.append({r["key"] for r in read_records(archive)})
        offsets.append(len(calls.read_text().splitlines()))
    assert len(snapshots[0]) >= 5 and len(snapshots[1]) >= 22
    ref_before = json.loads((save / "search.json").read_text())["ref_point"]
    # resume in a subprocess without the delay, to the end
    p2 = _start(script, save, calls, 0.0)
    assert p2.wait(timeout=120) == 0
    called = calls.read_text().splitlines()
    # nothing recorded at a kill was evaluated again afterwards
    assert not snapshots[0] & set(called[offsets[0]:])
    assert not snapshots[1] & set(called[offsets[1]:])
    # a genome evaluated twice was one in flight at a kill (batch size 1: at most one per kill)
    repeats = {k for k in called if called.count(k) > 1}
    assert len(repeats) <= 2 and all(called.count(k) == 2 for k in repeats)
    final = read_records(archive)
    assert len(final) == 12 + 4 * 4 and {r["key"] for r in final} == set(called)
    assert json.loads((save / "search.json").read_text())["ref_point"] == ref_before
    assert json.loads((save / "search.json").read_text())["status"] == "done"
    # the resumed search is the search that would have run uninterrupted (same seeds, same candidates)
    p = test_problem("zdt1", n_var=6)
    ref = MSuNAS(p, tmp_path / "ref", n_doe=12, iterations=4, n_iter=4, seed=3, progress=False).run()
    assert [r["key"] for r in ref.records] == [r["key"] for r in final]
    assert all((save / f"iter_{k}.stats").exists() for k in range(5))


def test_ofa_nas_problem_with_the_real_space(tmp_path):
    from nsganetv2.evaluation.complexity import count_flops
    from nsganetv2.space import OFAMobileNetV3Space

    space = OFAMobileNetV3Space()

    def evaluate(configs):  # a synthetic accuracy: deterministic, grows with capacity
        return [{"top1": 60 + sum(c["d"]) * 0.5 + np.mean(c["e"]) + c["r"] / 64} for c in configs]

    p = OFANASProblem(evaluate, objectives=("top1", "flops"), space=space)
    res = MSuNAS(p, tmp_path / "ofa", n_doe=50, iterations=1, n_iter=4, seed=0, progress=False, n_gen=5).run()
    assert len(res.records) == 54
    first = res.records[0]
    assert first["config"] == space.smallest() and res.records[1]["config"] == space.largest()
    for r in res.records:
        assert r["key"] == space.key(r["config"])
        assert r["objectives"]["flops"] == pytest.approx(count_flops(r["config"]) / 1e6)
    sub = json.loads((tmp_path / "ofa" / "iter_1" / "net_0.subnet").read_text())
    assert set(sub) == {"ks", "e", "d", "r"} and len(sub["ks"]) == sum(sub["d"])


class _Broken(_TinyInt):
    name = "broken"

    def _evaluate_expensive(self, X):
        if len(X) > 1:
            raise RuntimeError("worker died")
        return [EvalResult([float("nan")])]


def test_failures_are_recorded_not_raised(tmp_path):
    from nsganetv2.search import objectives_from_flags

    p = _Broken()
    res = p.evaluate_expensive(np.array([[1, 2], [0, 1]]))  # the batch raises: each genome is tried alone
    assert [r.error for r in res] == ["non-finite objective value [nan]"] * 2
    with pytest.raises(SetupError, match="the first evaluation failed before anything was recorded"):
        MSuNAS(p, tmp_path / "b", n_doe=4, iterations=1, n_iter=2, progress=False).run()
    assert read_records(tmp_path / "b" / "archive.jsonl") == []  # a setting error poisons nothing
    assert objectives_from_flags("params") == ("top1", "params")
    assert objectives_from_flags("flops", "flops,cpu") == ("top1", "flops", "cpu")


def test_too_small_doe_for_a_linear_surrogate_is_refused_before_any_evaluation(tmp_path):
    from nsganetv2.search import MSuNAS, test_problem

    calls = []
    problem = test_problem("zdt1", on_evaluate=lambda X: calls.append(len(X)))
    with pytest.raises(ValueError, match="raise --n_doe above 30 or use --predictor carts"):
        MSuNAS(problem, tmp_path / "s", n_doe=10, iterations=2, predictor="rbf", progress=False).run()
    assert calls == [] and not (tmp_path / "s" / "archive.jsonl").exists()


@pytest.mark.parametrize("selection", ["gaps", "hv"])
def test_a_whole_search_through_ask_and_tell_with_an_outside_evaluation(tmp_path, selection):
    """The caller evaluates (its own training code, cluster or scheduler); files, resume and results are the same,
    with either batch selection (the one recorded is the one a restart uses)."""
    from nsganetv2.search import MSuNAS, test_problem

    def outside(x):  # the caller's own evaluation: ZDT1's first objective
        return float(x[0])

    settings = dict(n_doe=12, iterations=3, n_iter=3, predictor="carts", seed=5, progress=False, selection=selection)
    ref = MSuNAS(test_problem("zdt1", n_var=5), tmp_path / "run", **settings).run()

    search = MSuNAS(test_problem("zdt1", n_var=5), tmp_path / "asktell", **settings)
    told, batches = 0, []
    while (asked := search.ask()) is not None:
        assert search.ask().X.tolist() == asked.X.tolist()  # asking again before telling: the same genomes
        batches.append(asked.iteration)
        half = len(asked) // 2 or 1  # tell in two parts, second part first
        search.tell(asked.X[half:], [outside(x) for x in asked.X[half:]])
        search.tell(asked.X[:half], [outside(x) for x in asked.X[:half]])
        told += len(asked)
        if asked.iteration == 1:  # a restart in the middle: a new object on the same folder goes on
            search.close()
            search = MSuNAS.load(tmp_path / "asktell", test_problem("zdt1", n_var=5))
    res = search.result()
    assert batches == [0, 1, 2, 3] and told == len(res.records) == 12 + 3 * 3
    def by_place(records):
        return [(r["iteration"], r["index"], r["key"]) for r in sorted(records, key=lambda r: (r["iteration"], r["index"]))]

    assert by_place(res.records) == by_place(ref.records)  # the same genomes as run(), whatever the telling order
    assert sorted(map(tuple, res.F)) == sorted(map(tuple, ref.F))
    state = json.loads((tmp_path / "asktell" / "search.json").read_text())
    assert state["status"] == "done" and state["settings"]["selection"] == selection
    assert [h for _, h in res.hv] == pytest.approx([h for _, h in ref.hv])
    with pytest.raises(ValueError, match="not asked"):
        search.tell(np.zeros((1, 5)), [0.0])
    # a search recorded before the selection was a setting (it used gaps) resumes with gaps
    state = json.loads((tmp_path / "run" / "search.json").read_text())
    del state["settings"]["selection"]
    (tmp_path / "run" / "search.json").write_text(json.dumps(state))
    assert MSuNAS.load(tmp_path / "run", test_problem("zdt1", n_var=5)).selection == "gaps"


class _OneBad(_TinyInt):
    """Evaluates batches, but raises for the whole batch when it holds one bad genome."""

    name = "one_bad"

    def _evaluate_expensive(self, X):
        if any(int(x[0]) == 0 and int(x[1]) == 0 for x in X):
            raise RuntimeError("genome (0, 0) cannot be evaluated")
        return [EvalResult([float(x[0] + x[1])]) for x in X]


def test_one_bad_genome_is_one_failure(tmp_path):
    res = _OneBad().evaluate_expensive(np.array([[1, 2], [0, 0], [2, 1]]))
    assert [r.ok for r in res] == [True, False, True] and "cannot be evaluated" in res[1].error


class _NaNCheap(_TinyInt):
    name = "nan_cheap"
    expensive = (0,)

    def cheap_objectives(self, X):
        return np.array([[np.nan if int(x[0]) == 1 else float(x[1])] for x in np.atleast_2d(X)])


def test_a_non_finite_cheap_objective_fails_its_record_and_the_archive_stays_readable(tmp_path):
    p = _NaNCheap()
    search = MSuNAS(p, tmp_path / "n", n_doe=6, iterations=0, predictor="carts", progress=False)
    result = search.run()
    bad = [r for r in result.records if r["status"] == "failed"]
    assert bad and all("non-finite cheap objective" in r["error"] for r in bad)
    assert np.all(np.isfinite(MSuNAS.load(tmp_path / "n", _NaNCheap()).result().F))


def test_a_doe_poisoned_by_a_wrong_setting_is_evaluated_again_with_retry_failed(tmp_path):
    from nsganetv2.search import test_problem

    save = tmp_path / "p"
    search = MSuNAS(test_problem("zdt1", n_var=5), save, n_doe=8, iterations=1, n_iter=2, predictor="carts",
                    predictor_kwargs={"n_trees": 50}, progress=False)
    asked = search.ask()
    with pytest.raises(RuntimeError, match="resume with --retry_failed"):
        search.tell(asked.X, [FileNotFoundError("no dataset at /data") for _ in asked.X])  # what a bad path did
    search.close()
    calls = []
    plain = MSuNAS.load(save, test_problem("zdt1", n_var=5, on_evaluate=calls.append))
    with pytest.raises(RuntimeError, match="every DOE evaluation failed"):
        plain.run()  # recorded failures are not evaluated again by themselves
    assert calls == []
    result = MSuNAS.load(save, test_problem("zdt1", n_var=5, on_evaluate=calls.append), retry_failed=True).run()
    assert len(calls) == 8 + 2 and len(result.records) == 10 and all(r["status"] == "ok" for r in result.records)
    assert len(read_records(save / "archive.jsonl")) == 10  # the successes superseded the failures


def test_surrogate_quality_under_both_names(tmp_path):
    """candidates_rmse/rho/tau: this iteration's candidates; rmse/rho/tau: the original's quantity, the surrogate's
    in-sample predictions of the archive it was fitted on stacked with the candidates'."""
    from nsganetv2.surrogate import make_surrogate
    from nsganetv2.surrogate.metrics import correlation

    p = test_problem("zdt1", n_var=5)
    res = MSuNAS(p, tmp_path / "s", n_doe=12, iterations=2, n_iter=4, seed=1, predictor="rbf", progress=False).run()
    for k in (1, 2):
        st = json.loads((tmp_path / "s" / f"iter_{k}.stats").read_text())["surrogate"]
        cand = json.loads((tmp_path / "s" / f"iter_{k}" / "candidates.json").read_text())
        before = sorted((r for r in res.records if r["iteration"] < k), key=lambda r: (r["iteration"], r["index"]))
        X = np.array([r["genome"] for r in before])
        y = np.array([r["objectives"]["f1"] for r in before])
        refit = make_surrogate("rbf").fit(p.features(X), y).predict(p.features(X))
        np.testing.assert_allclose(np.ravel(cand["archive_fit"]["true"]), y)
        np.testing.assert_allclose(np.ravel(cand["archive_fit"]["pred"]), np.ravel(refit), atol=1e-8)
        now = [r for r in res.records if r["iteration"] == k]
        t = np.array([r["objectives"]["f1"] for r in now])
        q = np.array([r["predicted"]["f1"] for r in now])
        ours = correlation(t, q)
        original = correlation(np.r_[y, t], np.r_[np.ravel(refit), q])
        for name in ("rmse", "rho", "tau"):
            assert st[f"candidates_{name}"] == pytest.approx(ours[name], abs=1e-9)
            assert st[name] == pytest.approx(original[name], abs=1e-6)
        assert "in-sample" in st["metrics"]


def test_recording_an_iteration_streamed_one_result_at_a_time_is_linear_in_its_size(tmp_path):
    """Each streamed result is matched to its candidate and the iteration's completion checked without scanning the
    whole iteration again: the genome keys computed grow linearly with the DOE size (quadratically before)."""
    calls = []

    def key_calls(n_doe: int) -> int:
        p = test_problem("zdt1")
        key = p.key
        p.key = lambda x: calls.append(1) or key(x)  # count every key computed
        calls.clear()
        MSuNAS(p, tmp_path / f"doe{n_doe}", n_doe=n_doe, iterations=0, seed=0, progress=False).run()
        return len(calls)

    small, large = key_calls(150), key_calls(600)
    assert large < 6 * small, (small, large)  # 4x the DOE: about 4x the keys, not 16x


def test_a_batch_told_at_once_is_synced_once_and_retried_failures_in_it_are_replaced(tmp_path, monkeypatch):
    from nsganetv2.search import archive as archive_module, test_problem

    save = tmp_path / "b"
    search = MSuNAS(test_problem("zdt1", n_var=5), save, n_doe=10, iterations=0, predictor="carts", progress=False)
    asked = search.ask()
    search.tell(asked.X[:3], [RuntimeError("flaky node")] * 3)
    search.close()
    search = MSuNAS.load(save, test_problem("zdt1", n_var=5), retry_failed=True)
    asked = search.ask()
    assert len(asked) == 10  # the three failures again, and the seven never told
    syncs, real_fsync = [], os.fsync

    def counting_fsync(fd):
        syncs.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(archive_module.os, "fsync", counting_fsync)
    search.tell(asked.X, [float(x[0]) for x in asked.X])
    search.close()
    archive_syncs = [ino for ino in syncs if ino == (save / "archive.jsonl").stat().st_ino]
    assert len(archive_syncs) == 2  # the new records, then the replaced failures: not one sync per record
    records = read_records(save / "archive.jsonl")
    assert len(records) == 10 and all(r["status"] == "ok" for r in records)
    assert sorted(r["key"] for r in records) == sorted(search.problem.key(x) for x in asked.X)
