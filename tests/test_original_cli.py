"""Command lines of the original (msunas.py, post_search.py, evaluator.py) parse and mean the same here."""
import json

import pytest
import torch

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.supernet import save_net_config

SUB = {"ks": [3, 5, 7, 3, 5, 7, 3, 5, 7, 3], "e": [3, 4, 6, 3, 4, 6, 3, 4, 6, 3], "d": [2] * 5, "r": 32}
DATA = ["--dataset", "mnist5k", "--vld_size", "100", "--n_calib", "100"]


@pytest.fixture(scope="module")
def supernet(supernet_file):
    return supernet_file


def test_msunas_gpu_and_n_classes_flags(supernet, tmp_path, capsys):
    base = ["search", "--save", str(tmp_path / "s"), "--supernet_path", str(supernet), *DATA]
    assert main([*base, "--gpu", "2"]) == 2
    assert "--gpu 2: every evaluation here runs on one GPU" in capsys.readouterr().err
    assert main([*base, "--n_classes", "1000"]) == 2  # the original's default, for a 10-class dataset
    assert "--n_classes 1000, but mnist5k has 10 classes" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_msunas_test_flag_and_evaluator_subnet_mode_agree(supernet, tmp_path, capsys):
    save = tmp_path / "t"
    assert main(["search", "--save", str(save), "--supernet_path", str(supernet), *DATA, "--resolutions", "32",
                 "--n_doe", "2", "--iterations", "0", "--gpu", "1", "--n_classes", "10", "--test", "--quiet",
                 "--vld_batch_size", "500"]) == 0
    problem = json.loads((save / "search.json").read_text())["problem"]
    assert problem["top1_split"] == "test"
    rec = json.loads((save / "archive.jsonl").read_text().splitlines()[0])
    sub = tmp_path / "net.subnet"
    sub.write_text(json.dumps(rec["config"]))
    capsys.readouterr()
    # evaluator.py --subnet ... --test: the same architecture, the same split, the same number
    assert main(["evaluate", "--subnet", str(sub), "--supernet_path", str(supernet), *DATA, "--test",
                 "--save", str(tmp_path / "net.stats"), "--vld_batch_size", "500"]) == 0
    stats = json.loads((tmp_path / "net.stats").read_text())
    assert stats["split"] == "test" and stats["top1"] == pytest.approx(rec["stats"]["top1"], abs=1e-9)
    assert stats["params"] == rec["stats"]["params"] and stats["flops"] == rec["stats"]["flops"]


def test_evaluator_config_mode_with_init(supernet, tmp_path):
    """evaluator.py --config net.config --init weights --reset_running_statistics: the subnet's weights from the
    supernet, BN recalibrated on the same images, give the subnet mode's top-1; the resolution is the config's."""
    from nsganetv2.supernet import load_supernet

    net = load_supernet(supernet).extract(SUB)
    save_net_config(net, tmp_path / "net.config", resolution=32)
    torch.save({"state_dict": net.state_dict()}, tmp_path / "net.inherited")
    (tmp_path / "net.subnet").write_text(json.dumps(SUB))
    common = dict(dataset="mnist5k", vld_size=100, n_calib=100, device="cpu", amp="off")
    by_config = api.evaluate_one(api.EvaluateSettings(config=str(tmp_path / "net.config"),
                                                      init=str(tmp_path / "net.inherited"),
                                                      reset_running_statistics=True, **common))
    by_subnet = api.evaluate_one(api.EvaluateSettings(subnet=str(tmp_path / "net.subnet"),
                                                      supernet_path=str(supernet), **common))
    assert by_config["resolution"] == by_subnet["resolution"] == 32 and by_config["split"] == "held-out"
    assert by_config["top1"] == pytest.approx(by_subnet["top1"], abs=1e-9)
    assert by_config["params"] == by_subnet["params"] and by_config["flops"] == by_subnet["flops"]
    original = api.evaluate_one(api.EvaluateSettings(config=str(tmp_path / "net.config"),
                                                     init=str(tmp_path / "net.inherited"), flops_counter="original",
                                                     **common))
    assert original["flops"] > by_config["flops"]
    with pytest.raises(ValueError, match="either --subnet .* or --config"):
        api.EvaluateSettings(**common)
    with pytest.raises(ValueError, match="--subnet needs --supernet_path"):
        api.EvaluateSettings(subnet="x", **common)


def test_sec_obj_gpu_is_refused_without_cuda(supernet, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["search", "--save", str(tmp_path / "g"), "--supernet_path", str(supernet), *DATA,
                 "--sec_obj", "gpu"]) == 2
    assert "--sec_obj gpu measures latency on a CUDA GPU: not supported on this machine" in capsys.readouterr().err


def test_post_search_prefer_none_means_no_preference(tmp_path, capsys):
    rows = [[dict(SUB, r=32), 30.0, 5.0], [dict(SUB, r=36), 20.0, 9.0], [dict(SUB, r=40), 10.0, 30.0],
            [dict(SUB, r=44), 9.0, 60.0]]
    expr = tmp_path / "iter_1.stats"
    expr.write_text(json.dumps({"archive": rows, "candidates": rows, "hv": 0.1, "surrogate": {}}))
    outs = []
    for extra in ([], ["--prefer", "None"]):
        assert main(["select", "--expr", str(expr), "-n", "2", "--save", str(tmp_path / f"o{len(extra)}"),
                     *extra]) == 0
        outs.append(sorted(p.name for p in (tmp_path / f"o{len(extra)}").iterdir()))
    assert outs[0] == outs[1] and len(outs[0]) >= 2
