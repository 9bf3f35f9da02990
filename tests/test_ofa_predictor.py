"""OFA's ImageNet accuracy predictor as a search's expensive objective, and the latency objective."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.evaluation.ofa_predictor import OFAAccuracyPredictor, predictor_features
from nsganetv2.space import OFAMobileNetV3Space
from tests.ofa_oracle import complete_ofa_specs, ofa_accuracy_module, ofa_latency_table, ofa_specs, write_ofa_tables

RESOLUTIONS = (160, 176, 192, 208, 224)


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(128, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 400),
                         nn.ReLU(), nn.Linear(400, 1))


@pytest.fixture(scope="module")
def predictor_file(tmp_path_factory):
    """A randomly initialised MLP of the shape of OFA's predictor, saved as OFA saves it (a state dict)."""
    torch.manual_seed(0)
    net = _mlp()
    with torch.no_grad():
        net[-1].bias.fill_(0.75)  # top-1 around 75 %, as OFA's
    path = tmp_path_factory.mktemp("pred") / "acc_predictor.pth"
    torch.save(net.state_dict(), path)
    return path, net


@pytest.fixture(scope="module")
def note10_tables(tmp_path_factory):
    """OFA-format tables holding every key of the w1.2 space at OFA's five resolutions (keys from OFA's code)."""
    folder = tmp_path_factory.mktemp("note10")
    luts = write_ofa_tables(folder, list(complete_ofa_specs(RESOLUTIONS)), RESOLUTIONS)
    return folder, ofa_latency_table(luts)


def test_features_are_ofas_encoding_and_predictions_its_mlp(predictor_file):
    path, net = predictor_file
    m = ofa_accuracy_module()
    specs = list(ofa_specs(40, RESOLUTIONS, seed=3))
    ours = predictor_features(specs)
    theirs = np.stack([m.AccuracyPredictor.spec2feats(list(s["ks"]), list(s["e"]), list(s["d"]), s["r"][0]).numpy()
                       for s in specs])
    assert ours.shape == (40, 128) and np.array_equal(ours, theirs)
    predictor = OFAAccuracyPredictor.load(path)
    with torch.no_grad():
        expected = net(torch.from_numpy(theirs)).numpy().ravel() * 100
    got = predictor.predict(specs)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert [r["top1"] for r in predictor(specs[:3])] == pytest.approx(got[:3].tolist())
    # an unpadded config and its padded spec are the same network
    space = OFAMobileNetV3Space(resolutions=list(RESOLUTIONS))
    config = space.decode(space.encode({"ks": specs[0]["ks"], "e": specs[0]["e"], "d": specs[0]["d"],
                                        "r": specs[0]["r"][0]}))
    assert predictor.predict([config])[0] == pytest.approx(got[0], rel=1e-6)


def test_bad_predictor_files_and_resolutions_are_one_clear_error(tmp_path, predictor_file):
    wrong = nn.Sequential(nn.Linear(128, 10), nn.ReLU(), nn.Linear(10, 1))
    torch.save(wrong.state_dict(), tmp_path / "small.pth")
    with pytest.raises(ValueError, match="not OFA's accuracy predictor"):
        OFAAccuracyPredictor.load(tmp_path / "small.pth")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OFAAccuracyPredictor.load(tmp_path / "missing.pth")
    torch.save(nn.Linear(2, 2), tmp_path / "module.pth")  # a pickled module, not a state dict: refused unread
    with pytest.raises(ValueError, match="accuracy predictor"):
        OFAAccuracyPredictor.load(tmp_path / "module.pth")
    predictor = OFAAccuracyPredictor.load(predictor_file[0])
    with pytest.raises(ValueError, match="covers resolutions .*not 100"):
        predictor([{"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 100}])


def test_a_search_on_the_predictor_and_note10_tables_records_both(tmp_path, predictor_file, note10_tables):
    folder, ofa = note10_tables
    settings = api.SearchSettings(acc_predictor=str(predictor_file[0]), objectives=("top1", "latency"),
                                  lut=str(folder), n_doe=12, iterations=2, n_iter=4, predictor="carts",
                                  progress=False)
    result = api.search(settings, tmp_path / "run", write_report=False)
    assert result.n_evaluations == 20 and result.F.shape == (20, 2)
    predictor = OFAAccuracyPredictor.load(predictor_file[0])
    for record in result.records[:5] + result.records[-3:]:
        spec = {**record["config"], "r": [record["config"]["r"]]}
        assert record["objectives"]["top1"] == pytest.approx(100 - predictor.predict([record["config"]])[0])
        assert record["config"]["r"] in RESOLUTIONS
        ks, e = _padded(record["config"])  # OFA's own LatencyTable on the same files, OFA's padded layout
        assert record["objectives"]["latency"] == pytest.approx(
            ofa.predict_efficiency({"ks": ks, "e": e, "d": record["config"]["d"], "r": spec["r"]}), rel=1e-12)
    state = json.loads((tmp_path / "run" / "search.json").read_text())
    assert state["problem"]["evaluation"]["acc_predictor_sha256"] == api.file_sha256(predictor_file[0])
    assert state["problem"]["resolutions"] == list(RESOLUTIONS) and state["problem"]["width_mult"] == 1.2
    # another predictor file is another landscape: a resume with it is refused, naming the setting
    other = tmp_path / "other.pth"
    torch.save({k: v + 1 for k, v in torch.load(predictor_file[0], weights_only=True).items()}, other)
    with pytest.raises(ValueError, match="acc_predictor_sha256"):
        api.resume(tmp_path / "run", api.SearchSettings(acc_predictor=str(other), objectives=("top1", "latency"),
                                                        lut=str(folder), progress=False), iterations=3)


def _padded(config):
    ks, e, i = [], [], 0
    for d in config["d"]:
        ks += config["ks"][i:i + d] + [3] * (4 - d)
        e += config["e"][i:i + d] + [3] * (4 - d)
        i += d
    return ks, e


def test_cli_search_on_the_predictor(tmp_path, predictor_file, note10_tables, capsys):
    folder, _ = note10_tables
    args = ["search", "--acc_predictor", str(predictor_file[0]), "--lut", str(folder), "--objectives",
            "top1,latency", "--n_doe", "10", "--iterations", "1", "--n_iter", "3", "--predictor", "carts",
            "--selection", "hv", "--max_train", "8", "--save", str(tmp_path / "cli"), "-q"]
    assert main(args) == 0
    assert "13 evaluations" in capsys.readouterr().out
    state = json.loads((tmp_path / "cli" / "search.json").read_text())
    assert state["settings"]["selection"] == "hv" and state["settings"]["max_train"] == 8
    stats = json.loads((tmp_path / "cli" / "iter_1.stats").read_text())
    assert stats["surrogate"]["n_train"] == 8  # the cap reached the surrogate's fit (10 records in the archive)
    with pytest.raises(ValueError, match="max_train"):
        api.SearchSettings(max_train=1)
    # the latency objective without a table, and a predictor with a supernet, are refused before any work
    assert main(args[:3] + ["--objectives", "top1,latency", "--save", str(tmp_path / "x"), "-q"]) == 2
    assert "pass --lut" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="give one"):
        api.SearchSettings(acc_predictor="a.pth", supernet_path="b.pth")
