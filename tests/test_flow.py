"""The NAS flow through the Python API on mnist5k: search, select + export, validate, resume, precision records."""
import json

import numpy as np
import pytest
import torch

from nsganetv2 import api
from nsganetv2.data import build_loaders
from nsganetv2.evaluation.accuracy import NATIVE_BF16_ENV, cpu_has_native_bf16, evaluate, resolve_amp
from nsganetv2.evaluation.validate import load_network
from nsganetv2.select import choose, load_front
from nsganetv2.supernet import OFAMobileNetV3Supernet, save_supernet

pytestmark = pytest.mark.precision  # also run under NSGANETV2_NATIVE_BF16=0 and =1 (see the Makefile)

SEARCH = dict(dataset="mnist5k", resolutions=[32, 40], vld_size=100, n_calib=100, vld_batch_size=100, n_doe=4,
              iterations=1, n_iter=2, pop_size=10, n_gen=3, predictor="carts", progress=False)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow")
    torch.manual_seed(0)
    net = OFAMobileNetV3Supernet(n_classes=10)
    supernet = root / "supernet.pth"
    save_supernet(net, supernet)
    save = root / "search"
    settings = api.SearchSettings(supernet_path=str(supernet), **SEARCH)
    result = api.search(settings, save)
    assert result.n_evaluations == 6
    return root, supernet, save, settings


def test_search_writes_the_original_files(searched):
    _, _, save, _ = searched
    stats = json.loads((save / "iter_1.stats").read_text())
    assert {"archive", "candidates", "hv", "surrogate"} <= set(stats)
    assert len(stats["archive"]) == 6  # 4 DOE + 2 candidates, none failed
    config, err, flops = stats["archive"][0]
    assert set(config) == {"ks", "e", "d", "r"} and 0 <= err <= 100 and flops > 0
    subnet = json.loads((save / "iter_1" / "net_0.subnet").read_text())
    assert subnet["r"] in (32, 40)
    assert list((save / "report").glob("*.png"))


def test_the_archive_as_arrays_and_as_a_table(searched):
    _, _, save, _ = searched
    result = api.load_result(save)
    assert result.objective_names == ("top1", "flops") and result.F.shape == (6, 2) and result.front.any()
    df = result.to_dataframe()
    assert list(df.columns[:5]) == ["iteration", "index", "status", "top1_err", "flops"] and len(df) == 6
    np.testing.assert_allclose(df[["top1_err", "flops"]].to_numpy(), result.F)


def test_select_export_and_validate_reproduce_the_search_record(searched, tmp_path):
    _, supernet, save, _ = searched
    out = tmp_path / "sel"
    folders = api.select(api.SelectSettings(expr=str(save / "iter_1.stats"), n=2, supernet_path=str(supernet),
                                            dataset="mnist5k", vld_size=100, n_calib=100), out)
    assert folders and sorted(folders) == sorted(out.glob("net-flops@*"))
    front = load_front(save / "iter_1.stats")
    for folder in folders:
        assert {p.name for p in folder.iterdir()} >= {"net.subnet", "net.config", "net.inherited", "net.stats",
                                                      "net.onnx"}
    # the exported weights (BN recalibrated the same way), evaluated in the precision the search recorded, give
    # exactly the search's held-out top-1; select's own check says the same
    recorded = json.loads((save / "search.json").read_text())["problem"]["amp"]
    assert front.precision["amp"] == recorded and front.precision["device"] == "cpu"
    best = folders[[json.loads((f / "net.subnet").read_text()) for f in folders].index(front.configs[0])]
    stats = json.loads((best / "net.stats").read_text())
    assert stats["precision"]["amp"] == recorded
    assert stats["check"]["amp"] == recorded and stats["check"]["top1"] == pytest.approx(stats["top1"], abs=1e-9)
    net = load_network(best / "net.config", best / "net.inherited")
    assert net.resolution == front.configs[0]["r"]
    loaders = build_loaders("mnist5k", resolution=net.resolution, vld_size=100, n_calib=100, eval_batch_size=100)
    acc = evaluate(net, loaders.valid, amp_dtype=resolve_amp(recorded, torch.device("cpu")))
    assert acc.top1 == pytest.approx(100.0 - front.F[0, 0], abs=1e-9)
    test = api.validate(best / "net.config", best / "net.inherited", "mnist5k")  # in the recorded precision
    assert 0 <= test.top1 <= 100 and test.n == 1000


def test_search_records_its_precision_in_the_state_and_every_record(searched):
    _, _, save, _ = searched
    problem = json.loads((save / "search.json").read_text())["problem"]
    assert problem["amp"] == ("bf16" if cpu_has_native_bf16() else "off")
    assert problem["environment"] == {"device": "cpu", "torch": torch.__version__}
    records = [json.loads(line) for line in (save / "archive.jsonl").read_text().splitlines()]
    assert records and all(r["stats"]["precision"] == {"amp": problem["amp"], **problem["environment"]}
                           for r in records)


def test_resume_keeps_the_recorded_precision_where_auto_differs(searched, monkeypatch, caplog):
    _, _, save, settings = searched
    recorded = json.loads((save / "search.json").read_text())["problem"]["amp"]
    other = "off" if recorded == "bf16" else "bf16"
    monkeypatch.setenv(NATIVE_BF16_ENV, "0" if recorded == "bf16" else "1")  # auto now resolves to `other`
    before = (save / "archive.jsonl").read_text()
    with caplog.at_level("INFO"):
        api.resume(save, settings)
    assert f"measured with --amp {recorded}; keeping it" in caplog.text
    assert (save / "archive.jsonl").read_text() == before
    with pytest.raises(ValueError, match=f"--amp {other} would mix precisions"):
        api.resume(save, api.SearchSettings(**{**vars(settings), "amp": other}))
    assert (save / "archive.jsonl").read_text() == before


def test_select_by_preference_and_bad_preference(searched):
    _, _, save, _ = searched
    front = load_front(save / "iter_1.stats")
    picked = choose(front, n=1, prefer="top1#0+flops#1")  # error counts /100, flops /1
    assert 0 in picked  # the most accurate is always included
    assert int(np.argmin(front.F[:, 1])) in picked
    with pytest.raises(ValueError, match="unknown objective 'latency'"):
        choose(front, prefer="latency#3")


def test_resume_of_a_finished_search_evaluates_nothing(searched):
    _, _, save, settings = searched
    before = (save / "archive.jsonl").read_text()
    api.resume(save, settings)
    assert (save / "archive.jsonl").read_text() == before


def test_nas_search_by_ask_and_tell_without_a_supernet(tmp_path):
    """The caller trains and tests each architecture with its own code; the library proposes and records."""
    settings = api.SearchSettings(resolutions=[192, 224], n_doe=6, iterations=2, n_iter=2, predictor="carts",
                                  pop_size=10, n_gen=3, progress=False)
    search = api.open_search(settings, tmp_path / "mine")
    seen = 0
    while (asked := search.ask()) is not None:
        assert all(set(c) == {"ks", "e", "d", "r"} for c in asked.configs)
        search.tell(asked.X, [{"top1": 70.0 + sum(c["d"]) + c["r"] / 100} for c in asked.configs])
        seen += len(asked)
    result = api.load_result(tmp_path / "mine")
    assert seen == result.n_evaluations == 10 and (tmp_path / "mine" / "iter_2.stats").exists()
    with pytest.raises(ValueError, match="evaluates nothing itself"):
        api.open_search(api.SearchSettings(supernet_path="x.pth"), tmp_path / "other")
