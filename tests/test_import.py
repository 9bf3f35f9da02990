"""`nsganetv2 import`: a search folder of the original NSGANetV2, written here in its exact layout, becomes a search
folder of ours whose report, selection and resumed search work, with the original's hypervolume per iteration."""
import json
import shutil

import numpy as np
import pytest
from pymoo.indicators.hv import HV

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.evaluation.complexity import count_flops, count_params
from nsganetv2.search import read_records
from nsganetv2.space import OFAMobileNetV3Space

RES = [32, 40, 48]
SPACE = OFAMobileNetV3Space(resolutions=RES)


def _stats(cfg, rng):
    return {"params": round(count_params(cfg, n_classes=10) / 1e6, 2),
            "flops": round(count_flops(cfg, n_classes=10, counter="original") / 1e6, 2),
            "score": float(rng.uniform(2e9, 9e9)), "gpu": None, "cpu": None,
            "loss": float(rng.uniform(0.1, 2)), "top1": float(np.round(rng.uniform(60, 95), 2)),
            "top5": 99.0}


def _original_hv(F, ref):
    """The original's hv: pymoo's hypervolume of the non-dominated rows, divided by the product of ref."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, float)
    nd = F[NonDominatedSorting().do(F, only_non_dominated_front=True)]
    return float(HV(ref_point=ref).do(nd)) / float(np.prod(ref))


def write_original_run(root, sec="params", seed=0, doe_failure=False, repeat=3):
    """A run as msunas.py writes it: iter_k/net_i.subnet|stats (a failure has no .stats and a failed/ copy),
    iter_k.stats for k >= 1 with [config, top1 error, sec] rows (failures [100, 1000]) and the normalised hv."""
    rng = np.random.default_rng(seed)
    doe = [{"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 32},
           {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": 48}] + SPACE.sample(4, rng)
    it1 = SPACE.sample(2, rng) + [dict(doe[repeat])]  # the third repeats a DOE architecture (the original allows it)
    it2 = SPACE.sample(3, rng)
    failures = {(1, 1)} | ({(0, 4)} if doe_failure else set())
    rows = []  # (k, i, config, stats or None) in evaluation order
    for k, configs in enumerate((doe, it1, it2)):
        for i, cfg in enumerate(configs):
            stats = None if (k, i) in failures else _stats(cfg, rng)
            rows.append((k, i, cfg, stats))
            d = root / f"iter_{k}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"net_{i}.subnet").write_text(json.dumps(cfg))
            if stats is None:
                (root / "failed").mkdir(exist_ok=True)
                (root / "failed" / f"it_{k}_net_{i}").write_text(json.dumps(cfg))
            else:
                (d / f"net_{i}.stats").write_text(json.dumps(stats))

    def entry(row):
        _, _, cfg, st = row
        return [cfg, 100, 1000] if st is None else [cfg, 100 - st["top1"], st[sec]]

    doe_F = np.array([entry(r)[1:] for r in rows if r[0] == 0], float)
    ref = 1.01 * doe_F.max(axis=0)
    hvs = {}
    for k in (1, 2):
        block = [r for r in rows if r[0] <= k]
        if k == 1:  # a fork may list an iteration's evaluations in another order than their numbers
            block = block[:6] + block[6:][::-1]
        archive = [entry(r) for r in block]
        hvs[k] = _original_hv([a[1:] for a in archive], ref)
        (root / f"iter_{k}.stats").write_text(json.dumps({
            "archive": archive, "candidates": archive[-3:], "hv": hvs[k],
            "surrogate": {"model": "carts", "name": "carts", "winner": "carts", "rmse": 1.5, "rho": 0.9,
                          "tau": 0.8}}))
    return rows, hvs


def test_import_reproduces_the_original_hv_and_keeps_every_row(tmp_path, capsys):
    rows, hvs = write_original_run(tmp_path / "orig")
    assert main(["import", str(tmp_path / "orig"), "--save", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "imported 12 evaluations" in out and "11 architectures (1 failed, 1 evaluated twice)" in out
    assert "objectives top1, params" in out and "resolutions 32-48 (3)" in out
    save = tmp_path / "new"
    state = json.loads((save / "search.json").read_text())
    assert state["problem"]["resolutions"] == RES and state["problem"]["flops_counter"] == "original"
    assert state["problem"]["n_classes"] == 10 and state["problem"]["width_mult"] == 1.0
    assert state["settings"]["n_doe"] == 6 and state["settings"]["n_iter"] == 3
    assert state["settings"]["predictor"] == "carts" and state["status"] == "done"
    for k in (1, 2):
        st = json.loads((save / f"iter_{k}.stats").read_text())
        assert st["hv"] == pytest.approx(hvs[k], abs=1e-15) and st["original"]["hv"] == hvs[k]
        assert st["surrogate"]["rho"] == 0.9  # the original's numbers under the original's names
    # every row: 11 records, the repeated architecture's second evaluation kept under its record
    records = read_records(save / "archive.jsonl")
    assert len(records) == 11 and sum(len(r.get("duplicates", [])) for r in records) == 1
    seen = {(r["iteration"], r["index"]) for r in records} | \
        {(d["iteration"], d["index"]) for r in records for d in r.get("duplicates", [])}
    assert seen == {(k, i) for k, i, _, _ in rows}
    failed = [r for r in records if r["status"] == "failed"]
    assert [(r["iteration"], r["index"]) for r in failed] == [(1, 1)] and failed[0]["objectives"] is None
    ok = {(r["iteration"], r["index"]): r for r in records if r["status"] == "ok"}
    for k, i, cfg, st in rows:
        if (k, i) in ok:
            assert ok[(k, i)]["objectives"] == {"top1": 100 - st["top1"], "params": st["params"]}
            assert SPACE.decode(ok[(k, i)]["genome"]) == SPACE.validate_config(cfg)
    # report and select work on it
    assert any(p.name == "summary.md" for p in api.report(save))
    folders = api.select(api.SelectSettings(expr=str(save / "iter_2.stats"), n=2), tmp_path / "final")
    assert folders and all((f / "net.subnet").is_file() for f in folders)


def test_import_then_resume_with_our_loop(tmp_path):
    write_original_run(tmp_path / "orig")
    api.import_run(tmp_path / "orig", tmp_path / "new")
    save = tmp_path / "new"
    # no --resolutions, --sec_obj or --flops_counter: the imported search's own; mnist5k has the same 10 classes
    settings = api.SearchSettings(objectives=api.recorded_objectives(save), dataset="mnist5k", pop_size=10, n_gen=2,
                                  progress=False)
    search = api.open_search(settings, save, resume=True, iterations=3)
    asked = search.ask()
    assert asked.iteration == 3 and len(asked) == 3
    assert all(c["r"] in RES for c in asked.configs)
    search.tell(asked.X, [{"top1": 99.0} for _ in asked.configs])
    assert search.ask() is None
    st = json.loads((save / "iter_3.stats").read_text())
    before = json.loads((save / "iter_2.stats").read_text())
    assert st["hv"] >= before["hv"] and len(st["archive"]) == len(before["archive"]) + 3
    new = [r for r in read_records(save / "archive.jsonl") if r["iteration"] == 3]
    # new candidates count FLOPs as the imported ones do (the original's torchprofile definition)
    for r in new:
        assert r["stats"]["flops"] == round(count_flops(r["config"], n_classes=10, counter="original") / 1e6, 2)
    with pytest.raises(ValueError, match="searched with flops_counter=.original. but this run has flops_counter=.ofa."):
        api.open_search(api.SearchSettings(objectives=("top1", "params"), flops_counter="ofa", dataset="mnist5k"),
                        save, resume=True)


def test_a_forks_score_a_failure_in_the_doe_and_the_flags(tmp_path, capsys):
    """A second column above 1000 (a fork's score): a failure (100, 1000) is then not dominated and counts in the
    original's hv, as here. Such a column cannot be computed for new candidates: resuming says so."""
    rows, hvs = write_original_run(tmp_path / "orig", sec="score", doe_failure=True, repeat=4)
    rep = api.import_run(tmp_path / "orig", tmp_path / "new")
    assert rep.objectives == ("top1", "score") and rep.failed == 2 and rep.duplicates == 1
    # DOE net_4 failed and iteration 1 evaluated the same architecture again, successfully: that is the record
    again = [r for r in read_records(tmp_path / "new" / "archive.jsonl") if r.get("duplicates")]
    assert len(again) == 1 and again[0]["status"] == "ok" and (again[0]["iteration"], again[0]["index"]) == (1, 2)
    assert [(d["iteration"], d["index"], d["status"]) for d in again[0]["duplicates"]] == [(0, 4, "failed")]
    assert rep.hv_max_abs_diff < 1e-15 and [h for _, _, h in rep.hv] == [None, hvs[1], hvs[2]]
    assert api.report(tmp_path / "new")
    with pytest.raises(ValueError, match="objective 'score', which this version cannot compute.*--sec_obj flops"):
        api.recorded_objectives(tmp_path / "new")
    assert main(["search", "--resume", str(tmp_path / "new"), "--supernet_path", "x.pth"]) == 2
    assert "--sec_obj flops" in capsys.readouterr().err
    # importing the FLOPs of net_i.stats instead: the hv is then ours on that column, and said so
    rep = api.import_run(tmp_path / "orig", tmp_path / "flops", sec_obj="flops", resolutions=list(range(32, 49, 4)))
    assert rep.objectives == ("top1", "flops") and rep.resolutions == [32, 36, 40, 44, 48]
    assert any("differs from the original's hv" in n for n in rep.notes)
    with pytest.raises(ValueError, match=r"resolutions \[32, 40, 48\] that --resolutions \[192"):
        api.import_run(tmp_path / "orig", tmp_path / "x", resolutions=[192, 224])
    with pytest.raises(ValueError, match="already holds a search"):
        api.import_run(tmp_path / "orig", tmp_path / "new")
    shutil.rmtree(tmp_path / "orig" / "iter_2")
    with pytest.raises(ValueError, match="iter_2.stats exists but .* holds no net_"):
        api.import_run(tmp_path / "orig", tmp_path / "y")
    with pytest.raises(ValueError, match="not a search folder of the original"):
        api.import_run(tmp_path / "new" / "report", tmp_path / "z")
