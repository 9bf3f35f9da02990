import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nsganetv2.data import build_loaders
from nsganetv2.evaluation.accuracy import evaluate, recalibrate_bn
from nsganetv2.space import OFAMobileNetV3Space
from nsganetv2.supernet import OFAMobileNetV3Supernet, load_supernet
from nsganetv2.supernet.training import SupernetTrainConfig, sample_config, train_supernet

ROOT = Path(__file__).resolve().parents[1]


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


# the same supernet, loader and recipe in this process and in the child that is killed: two resolutions and a random
# subnet per step, so a resumed run must restore where the random streams stood, not only the weights
_SETUP = """
import torch
from nsganetv2.data import build_loaders
from nsganetv2.supernet import OFAMobileNetV3Supernet
from nsganetv2.supernet.training import SupernetTrainConfig, train_supernet
torch.set_num_threads(1)
torch.manual_seed(0)
loader = build_loaders("mnist5k", resolution=32, vld_size=100, batch_size=16, n_calib=16).train
net = OFAMobileNetV3Supernet(n_classes=10, dropout_rate=0.0)
cfg = SupernetTrainConfig(epochs=2, resolutions=(28, 32), max_steps_per_epoch=4, n_random=1,
                          checkpoint_every_steps=2, checkpoint_every_s=3600)
"""

_KILLED = _SETUP + """
import os, signal, sys

class KillAt:
    # the loader's batches; SIGKILL when batch number kill_at (counted over epochs) is asked for
    def __init__(self, loader, kill_at):
        self.loader, self.kill_at, self.n = loader, kill_at, 0
    def __len__(self):
        return len(self.loader)
    def set_epoch(self, epoch):
        self.loader.set_epoch(epoch)
    def __iter__(self):
        for batch in self.loader:
            if self.n == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            self.n += 1
            yield batch

train_supernet(net, KillAt(loader, int(sys.argv[2])), cfg, sys.argv[1], resume=False, progress=False)
"""


def _setup() -> dict:
    scope: dict = {}
    exec(_SETUP, scope)
    return scope


def test_a_kill_mid_epoch_resumes_to_the_same_weights_as_an_uninterrupted_run(tmp_path):
    ref = _setup()
    straight = train_supernet(ref["net"], ref["loader"], ref["cfg"], tmp_path / "straight", resume=False,
                              progress=False)
    killed = tmp_path / "killed"
    # killed when the 3rd batch of epoch 2 is asked for: 4 + 2 steps done, the last checkpoint after step 2 of epoch 2
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(killed), "6"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert not (killed / "supernet.pth").exists()
    ckpt = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == (1, 2)  # mid-epoch: the kill lost no finished step
    assert [e["epoch"] for e in ckpt["history"]["epochs"]] == [1]

    run = _setup()
    resumed = train_supernet(run["net"], run["loader"], run["cfg"], killed, resume=True, progress=False)
    assert resumed["epochs"] == straight["epochs"]  # the same losses, epoch by epoch
    a, b = ref["net"].state_dict(), run["net"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    again = load_supernet(killed / "supernet.pth")
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in a.items())


def test_checkpoints_are_written_by_time_within_an_epoch(tmp_path, monkeypatch):
    import nsganetv2.supernet.training as training

    written = []
    real = training.torch_save_atomic
    monkeypatch.setattr(training, "torch_save_atomic",
                        lambda obj, path: written.append((obj["epoch"], obj["step"])) or real(obj, path))
    run = _setup()
    cfg = SupernetTrainConfig(**{**run["cfg"].__dict__, "epochs": 1, "max_steps_per_epoch": 3,
                                 "checkpoint_every_steps": None, "checkpoint_every_s": 0.0})
    train_supernet(run["net"], run["loader"], cfg, tmp_path / "t", resume=False, progress=False)
    assert written == [(0, 1), (0, 2), (1, 0)]  # every step's state once the interval is 0 s; the epoch's end


def test_a_folder_with_a_supernet_or_a_run_is_refused_unless_resume_or_overwrite(tmp_path):
    run = _setup()
    cfg = SupernetTrainConfig(**{**run["cfg"].__dict__, "epochs": 1, "max_steps_per_epoch": 1})
    folder = tmp_path / "s"
    train_supernet(run["net"], run["loader"], cfg, folder, resume=False, progress=False)
    before = (folder / "supernet.pth").read_bytes()
    with pytest.raises(ValueError, match=r"already holds a trained supernet \(supernet.pth\); pass --resume .*"
                                         r"--overwrite to replace it") as info:
        train_supernet(run["net"], run["loader"], cfg, folder, resume=False, progress=False)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)
    assert (folder / "supernet.pth").read_bytes() == before
    (folder / "supernet.pth").unlink()  # as a killed run leaves it: a checkpoint and no supernet
    with pytest.raises(ValueError, match="holds an unfinished supernet training run .*--overwrite to start again"):
        train_supernet(run["net"], run["loader"], cfg, folder, resume=False, progress=False)
    with pytest.raises(ValueError, match="contradict"):
        train_supernet(run["net"], run["loader"], cfg, folder, resume=True, overwrite=True, progress=False)
    history = train_supernet(run["net"], run["loader"], cfg, folder, resume=False, overwrite=True, progress=False)
    assert [e["epoch"] for e in history["epochs"]] == [1] and (folder / "supernet.pth").is_file()


@pytest.mark.parametrize("kw,message", [
    ({"epochs": 0}, "epochs 0 would write an untrained supernet; pass --epochs 1 or more"),
    ({"max_steps_per_epoch": -1}, "max_steps -1 would write an untrained supernet; pass --max_steps 1 or more"),
    ({"max_steps_per_epoch": 0}, "max_steps 0 would write an untrained supernet"),
    ({"schedule": [("full", 0), ("kernel", 0)]}, "add up to 0 epochs"),
    ({"checkpoint_every_s": -1.0}, "checkpoint_every_s must be >= 0"),
    ({"checkpoint_every_steps": 0}, "checkpoint_every_steps must be >= 1"),
])
def test_recipes_that_would_write_an_untrained_supernet_are_refused(kw, message):
    with pytest.raises(ValueError, match=message) as info:
        SupernetTrainConfig(**kw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("flags,message", [(["--epochs", "0"], "epochs 0 would write an untrained supernet"),
                                           (["--max_steps", "-1"], "max_steps -1 would write an untrained supernet")])
def test_the_cli_refuses_an_untrained_supernet_before_writing_anything(tmp_path, capsys, flags, message):
    from nsganetv2.cli import main

    save = tmp_path / "never"
    assert main(["supernet", "train", "--save", str(save), "--resolutions", "32", "--vld_size", "100",
                 "--n_calib", "16", "--quiet", *flags]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not save.exists()
