"""Selection and export from a stats file of the original's format: the weights it writes, the folders it names."""
import json

import pytest
import torch

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.select import Front, folder_name
from nsganetv2.supernet import OFAMobileNetV3Supernet, save_supernet

SMALL = {"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 32}
BIG = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": 40}
MID = {"ks": [5] * 15, "e": [4] * 15, "d": [3] * 5, "r": 36}


@pytest.fixture(scope="module")
def seven_class_supernet(tmp_path_factory):
    """A supernet with a 7-class head and non-trivial BN statistics, as an OFA checkpoint carries its own."""
    torch.manual_seed(0)
    net = OFAMobileNetV3Supernet(n_classes=7)
    for name, buf in net.named_buffers():
        if name.endswith("running_mean"):
            buf.normal_()
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("sel") / "supernet_w1.0.pth"
    save_supernet(net, path)
    return net, path


def _original_stats(path, rows):
    """An iter_k.stats as the original writes it: [config, top1 error, complexity] rows, no objective names."""
    path.write_text(json.dumps({"archive": rows, "candidates": rows[-1:], "hv": 0.5,
                                "surrogate": {"model": "rbf", "name": "rbf", "winner": "rbf", "rmse": 1.0,
                                              "rho": 0.9, "tau": 0.8}}))
    return path


def test_select_without_a_dataset_keeps_the_supernets_head_and_bn(seven_class_supernet, tmp_path, caplog):
    net, path = seven_class_supernet
    expr = _original_stats(tmp_path / "iter_3.stats", [[SMALL, 30.0, 5.0], [BIG, 10.0, 50.0], [MID, 20.0, 20.0]])
    with caplog.at_level("WARNING"):
        folders = api.select(api.SelectSettings(expr=str(expr), n=3, supernet_path=str(path), onnx=False),
                             tmp_path / "out")
    assert "no --dataset" in caplog.text and "keep the supernet's own head and BatchNorm statistics" in caplog.text
    assert len(folders) == 3
    for folder in folders:
        config = json.loads((folder / "net.subnet").read_text())
        sd = torch.load(folder / "net.inherited", weights_only=True)["state_dict"]
        expected = net.extract(config).state_dict()
        assert sd["classifier.linear.weight"].shape[0] == 7  # not a fresh head for some bundled dataset
        assert sd.keys() == expected.keys()
        for k in sd:
            torch.testing.assert_close(sd[k], expected[k], rtol=0, atol=0)  # BN statistics: the supernet's
        assert json.loads((folder / "net.stats").read_text())["weights"] == {"classes": 7, "bn": "supernet"}


def test_select_cli_without_a_dataset_loads_no_data(seven_class_supernet, tmp_path, capsys, monkeypatch):
    _, path = seven_class_supernet
    import nsganetv2.data as data

    def no_data(*a, **k):
        raise AssertionError("select without --dataset must not load any dataset")

    monkeypatch.setattr(data, "build_loaders", no_data)
    expr = _original_stats(tmp_path / "iter_1.stats", [[SMALL, 30.0, 5.0], [BIG, 10.0, 50.0]])
    assert main(["select", "--expr", str(expr), "--supernet_path", str(path), "-n", "2", "--no_onnx",
                 "--save", str(tmp_path / "o")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_folder_names_are_distinct_and_every_printed_folder_exists(tmp_path, capsys):
    import numpy as np

    # four front members whose params round to 3, 3, 3 and 4 (the original would write net-params@3 three times)
    configs = [dict(SMALL, r=r) for r in (32, 36, 40)] + [dict(MID)]
    F = np.array([[10.0, 4.40], [11.0, 3.44], [12.0, 3.19], [13.0, 3.09]])
    front = Front(configs, F, ["top1", "params"])
    assert folder_name(front, 0) == "net-params@4"
    from nsganetv2.select import folder_names

    assert folder_names(front, [0, 1, 2, 3]) == ["net-params@4.4", "net-params@3.4", "net-params@3.2",
                                                 "net-params@3.1"]
    same = Front(configs[:3], np.array([[10.0, 3.0], [11.0, 3.0], [12.0, 2.0]]), ["top1", "params"])
    assert folder_names(same, [0, 1, 2]) == ["net-params@3", "net-params@3-2", "net-params@2"]
    rows = [[c, float(f[0]), float(f[1])] for c, f in zip(configs, F)]
    expr = _original_stats(tmp_path / "iter_2.stats", rows)
    assert main(["select", "--expr", str(expr), "--sec_obj", "params", "-n", "4", "--save", str(tmp_path / "o")]) == 0
    printed = [line.split(":")[0] for line in capsys.readouterr().out.strip().splitlines()]
    written = sorted(str(p) for p in (tmp_path / "o").iterdir())
    assert len(printed) == 4 and sorted(printed) == written
