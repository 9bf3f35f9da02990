import subprocess
import sys

import numpy as np
import pytest
import torch

from nsganetv2.data import build_loaders
from nsganetv2.evaluation.accuracy import evaluate, recalibrate_bn
from nsganetv2.space import OFAMobileNetV3Space
from nsganetv2.supernet import OFAMobileNetV3Supernet, load_supernet
from nsganetv2.supernet.training import SupernetTrainConfig, sample_config, train_supernet


@pytest.fixture(scope="module", autouse=True)
def _threads(one_thread):
    yield


@pytest.mark.parametrize("phase", ["full", "kernel", "depth", "expand", "all"])
def test_phase_sampling_stays_in_the_phase_space(phase):
    net = OFAMobileNetV3Supernet(n_classes=10)
    space = OFAMobileNetV3Space(resolutions=[32])
    rng = np.random.default_rng(0)
    seen_k, seen_d, seen_e = set(), set(), set()
    for _ in range(40):
        cfg = sample_config(net, phase, rng)
        space.validate_config(cfg, require_r=False)
        seen_k |= set(cfg["ks"])
        seen_d |= set(cfg["d"])
        seen_e |= set(cfg["e"])
    assert (seen_k == {7}) == (phase == "full")
    assert (seen_d == {4}) == (phase in ("full", "kernel"))
    assert (seen_e == {6}) == (phase not in ("expand", "all"))


def test_training_improves_accuracy_checkpoints_and_resumes(tmp_path):
    torch.manual_seed(0)
    loaders = build_loaders("mnist5k", resolution=32, vld_size=300, batch_size=64, eval_batch_size=300, n_calib=200)
    net = OFAMobileNetV3Supernet(n_classes=10, dropout_rate=0.0)
    cfg = SupernetTrainConfig(epochs=2, resolutions=(32,), max_steps_per_epoch=10, n_random=0)

    def top1(model, config):
        sub = model.extract(config)
        recalibrate_bn(sub, loaders.calib)
        return evaluate(sub, loaders.valid).top1

    before = top1(net, net.max_config())
    first = train_supernet(net, loaders.train, SupernetTrainConfig(**{**cfg.__dict__, "epochs": 1}), tmp_path,
                           progress=False)
    assert len(first["epochs"]) == 1 and np.isfinite(first["epochs"][0]["loss"])
    # a second call with more epochs resumes after epoch 1 from the checkpoint instead of starting again
    history = train_supernet(net, loaders.train, cfg, tmp_path, progress=False)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert history["epochs"][0] == first["epochs"][0]
    after_max, after_min = top1(net, net.max_config()), top1(net, net.min_config())
    assert after_max > before + 20, (before, after_max)
    assert after_min > 30, after_min
    # the saved supernet is in OFA's layout and reloads to the same weights
    again = load_supernet(tmp_path / "supernet.pth")
    for (k, a), b in zip(net.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_bad_phase_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown training phase 'width'"):
        SupernetTrainConfig(schedule=[("width", 1)]).phases()


def test_two_torchrun_processes_train_identical_replicas(tmp_path):
    """``--processes 2`` relaunches under torchrun (gloo): the ranks split each batch and stay identical."""
    save = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "nsganetv2", "supernet", "train", "--save", str(save), "--resolutions", "32",
           "--epochs", "1", "--max_steps", "2", "--batch_size", "32", "--vld_size", "200", "--n_calib", "64",
           "--processes", "2", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("largest subnet @ 32px") == 1  # only rank 0 reports
    saved = torch.load(save / "supernet.pth", weights_only=True)
    digests = saved["history"]["rank_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert [e["epoch"] for e in saved["history"]["epochs"]] == [1]
    assert np.isfinite(saved["history"]["epochs"][0]["loss"])
    assert load_supernet(save / "supernet.pth").n_classes == 10
