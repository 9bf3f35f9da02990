"""Files from elsewhere are data, never code: every torch file and data pickle is read with a loader that builds
tensors, arrays and plain values only. A crafted file that would create a marker file if unpickled is refused with
one line naming it, through each command that reads such a file; a truncated or foreign file is a clear ValueError."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from nsganetv2.atomic import torch_load_safe
from nsganetv2.cli import main


class _Payload:
    """Unpickling this creates ``marker`` (what an attacker's file would do with worse code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil(path: Path, marker: Path, wrap: str | None = "state_dict") -> Path:
    """A torch file that looks like weights (or a checkpoint) and carries the payload."""
    tensors = {"first_conv.conv.weight": torch.zeros(16, 3, 3, 3)}
    obj = {wrap: tensors, "extra": _Payload(marker)} if wrap else {**tensors, "x": _Payload(marker)}
    torch.save(obj, path)
    return path


@pytest.fixture(scope="module")
def net_files(tmp_path_factory):
    """net.config (+ honest net.inherited) of a small 10-class subnet at 32 px."""
    from nsganetv2.supernet import OFAMobileNetV3Supernet, save_net_config

    d = tmp_path_factory.mktemp("untrusted")
    torch.manual_seed(0)
    sup = OFAMobileNetV3Supernet(n_classes=10)
    net = sup.extract(sup.min_config(), resolution=32)
    save_net_config(net, d / "net.config", resolution=32)
    torch.save(net.state_dict(), d / "net.inherited")
    return d


def test_the_payload_is_live_when_loaded_unsafely(tmp_path):
    marker = tmp_path / "ran"
    torch.load(_evil(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()  # so the tests below would see it, had the library unpickled the file


def _refused(capsys, argv: list[str], evil: Path, marker: Path) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert str(evil) in errors[0] and "refused" in errors[0], errors[0]
    assert not marker.exists(), "the payload ran"
    return errors[0]


@pytest.mark.parametrize("command", ["validate", "latency measure", "train"])
def test_pretrained_weights_with_a_payload_are_refused(net_files, tmp_path, capsys, command):
    marker = tmp_path / "ran"
    evil = _evil(tmp_path / "net.inherited", marker)
    argv = {"validate": ["validate", "--dataset", "mnist5k", "-m", str(net_files / "net.config"),
                         "--pretrained", str(evil)],
            "latency measure": ["latency", "measure", "-m", str(net_files / "net.config"), "--pretrained", str(evil),
                                "--runs", "1"],
            "train": ["train", "--dataset", "mnist5k", "-m", str(net_files / "net.config"), "--pretrained", str(evil),
                      "--epochs", "1", "--save", str(tmp_path / "ft")],
            }[command]
    _refused(capsys, argv, evil, marker)


def test_train_resume_checkpoint_and_best_weights_with_a_payload_are_refused(net_files, tmp_path, capsys):
    from nsganetv2.train import TrainConfig, train

    marker = tmp_path / "ran"
    evil = _evil(tmp_path / "last.pth", marker, wrap="model")
    _refused(capsys, ["train", "--dataset", "mnist5k", "-m", str(net_files / "net.config"), "--resume", str(evil)],
             evil, marker)
    # net.best is read back when a finished run is resumed for its test accuracy
    base = dict(model_config=str(net_files / "net.config"), initial_checkpoint=str(net_files / "net.inherited"),
                dataset="mnist5k", progress=False, threads=1, epochs=1, max_steps=1, batch_size=16, vld_size=50)
    train(TrainConfig(**base, eval_test=False, save=str(tmp_path / "run")))
    best = _evil(tmp_path / "run" / "net.best", marker, wrap=None)
    with pytest.raises(ValueError, match=f"best weights {best} holds pickled Python objects") as info:
        train(TrainConfig(**base, eval_test=True, resume=str(tmp_path / "run")))
    assert "\n" not in str(info.value) and not marker.exists()


def test_supernet_checkpoints_with_a_payload_are_refused(tmp_path, capsys):
    from nsganetv2.supernet import load_supernet

    marker = tmp_path / "ran"
    save = tmp_path / "sn"
    save.mkdir()
    evil = _evil(save / "checkpoint.pt", marker)
    common = ["--resolutions", "32", "--epochs", "1", "--max_steps", "1", "--batch_size", "16", "--vld_size", "50",
              "--n_calib", "16", "--quiet"]
    _refused(capsys, ["supernet", "train", "--save", str(save), "--resume", *common], evil, marker)
    init = _evil(tmp_path / "ofa_mbv3_d234_e346_k357_w1.0", marker)
    _refused(capsys, ["supernet", "train", "--save", str(tmp_path / "sn2"), "--init", str(init), *common], init,
             marker)
    with pytest.raises(ValueError, match="supernet checkpoint .* holds pickled Python objects"):
        load_supernet(init)
    assert not marker.exists()


def test_truncated_empty_and_foreign_files_are_clear_value_errors(net_files, tmp_path):
    from nsganetv2.evaluation.validate import load_network

    good = (net_files / "net.inherited").read_bytes()
    files = {"truncated.pt": good[: len(good) // 2], "empty.pt": b"", "text.pt": b"not a torch file\n",
             "plain.pkl": pickle.dumps({"a": [1, 2]})}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError) as info:
            load_network(net_files / "net.config", tmp_path / name)
        msg = str(info.value)
        assert str(tmp_path / name) in msg and "\n" not in msg, msg
        assert "weights file" in msg
    with pytest.raises(ValueError, match="does not exist"):
        torch_load_safe(tmp_path / "missing.pt")
    # a state dict whose values are not tensors is not weights
    torch.save({"state_dict": {"a": 1}}, tmp_path / "numbers.pt")
    with pytest.raises(ValueError, match="neither a state dict of tensors"):
        load_network(net_files / "net.config", tmp_path / "numbers.pt")
    # honest files still load
    assert load_network(net_files / "net.config", net_files / "net.inherited").resolution == 32


def test_cifar_pickles_are_read_as_data_only(tmp_path):
    import numpy as np

    from nsganetv2.data import get_dataset

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), "labels": [1, 2]}
        (base / name).write_bytes(pickle.dumps(batch, protocol=2))
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    assert len(get_dataset("cifar10", tmp_path, "train")) == 10
    marker = tmp_path / "ran"
    (base / "data_batch_2").write_bytes(pickle.dumps({"data": _Payload(marker), "labels": []}))
    with pytest.raises(ValueError, match=r"data_batch_2 is not a plain data pickle \(it names \w+\.open"):
        get_dataset("cifar10", tmp_path, "train")
    assert not marker.exists()
    assert os.listdir(tmp_path) == ["cifar-10-batches-py"]
