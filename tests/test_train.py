"""Fine-tuning (nsganetv2.train) on mnist5k at resolution 32 with the supernet's smallest subnet."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nsganetv2.data import build_test_loader
from nsganetv2.evaluation.accuracy import evaluate
from nsganetv2.evaluation.validate import load_network, validate
from nsganetv2.train import (RECIPES, TrainConfig, add_train_args, build_student, config_from_args,
                             distillation_loss, find_checkpoint, load_teacher, mixed_loss, train)
from nsganetv2.train.augment import cifar_batch, cutout_batch
from nsganetv2.train.data import build_finetune_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """net.config + net.inherited of the smallest subnet of a random 10-class supernet, and that supernet."""
    from nsganetv2.supernet import OFAMobileNetV3Supernet, save_net_config, save_supernet

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("ft")
    torch.manual_seed(0)
    sup = OFAMobileNetV3Supernet(n_classes=10)
    net = sup.extract(sup.min_config(), resolution=32)
    save_net_config(net, d / "net.config", resolution=32)
    torch.save(net.state_dict(), d / "net.inherited")
    save_supernet(sup, d / "sup.pth")
    yield d
    torch.set_num_threads(threads)  # train(threads=1) and this fixture changed the process-wide setting


def _base(files: Path, **kw) -> dict:
    cfg = dict(model_config=str(files / "net.config"), initial_checkpoint=str(files / "net.inherited"),
               dataset="mnist5k", progress=False, threads=1)
    cfg.update(kw)
    return cfg


def test_finetune_one_epoch_raises_test_accuracy(files, tmp_path):
    before = load_network(files / "net.config", files / "net.inherited")
    test_loader = build_test_loader("mnist5k", None, 32, batch_size=500)
    acc0 = evaluate(before, test_loader).top1
    res = train(TrainConfig(**_base(files, epochs=1, max_steps=30, batch_size=64, lr=0.1, drop=0.0, drop_path=0.0,
                                    save=str(tmp_path / "run"))))
    assert res["test"]["top1"] > acc0 + 5.0
    save = Path(res["save"])
    rows = (save / "log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,lr,train_loss,train_top1,valid_top1") and len(rows) == 2
    log = json.loads((save / "log.json").read_text())
    assert log["epochs"][0]["valid_top1"] == res["history"][0]["valid_top1"]
    assert (save / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the exported best weights validate to the same test top-1
    assert validate(save / "net.config", save / "net.best", "mnist5k").top1 == pytest.approx(res["test"]["top1"])


def test_resume_continues_with_identical_state(files, tmp_path):
    base = _base(files, batch_size=32, lr=0.05, max_steps=2, vld_size=200, eval_test=False, cutout=True,
                 autoaugment=True)
    straight = train(TrainConfig(**base, epochs=2, save=str(tmp_path / "a")))
    first = train(TrainConfig(**base, epochs=1, save=str(tmp_path / "b")))
    assert [r["epoch"] for r in first["history"]] == [1]
    resumed = train(TrainConfig(**base, epochs=2, resume=str(tmp_path / "b")))
    assert [r["epoch"] for r in resumed["history"]] == [1, 2]
    a = torch.load(tmp_path / "a" / "last.pth", weights_only=True)
    b = torch.load(find_checkpoint(tmp_path / "b"), weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for k, v in a["optimizer"]["state"].items():
        assert torch.equal(v["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
    strip = [{k: v for k, v in r.items() if k != "time_s"} for r in straight["history"]]
    assert strip == [{k: v for k, v in r.items() if k != "time_s"} for r in resumed["history"]]
    with pytest.raises(ValueError, match="no checkpoint"):
        find_checkpoint(tmp_path)


def test_head_reset_only_when_class_count_differs(files):
    ref = torch.load(files / "net.inherited")
    same = build_student(files / "net.config", files / "net.inherited", 10, drop=0.3)
    assert torch.equal(same.classifier.linear.weight, ref["classifier.linear.weight"])
    assert same.classifier.dropout_rate == 0.3 and same.training
    forced = build_student(files / "net.config", files / "net.inherited", 10, reset_classifier=True)
    assert not torch.equal(forced.classifier.linear.weight, ref["classifier.linear.weight"])
    other = build_student(files / "net.config", files / "net.inherited", 7, drop=0.2, drop_path=0.1)
    assert other.n_classes == 7 and other.classifier.dropout_rate == 0.2
    assert torch.equal(other.first_conv.conv.weight, ref["first_conv.conv.weight"])
    assert max(b.drop_path_rate for b in other.blocks) > 0


def test_distillation_ema_mixup_path(files, tmp_path):
    res = train(TrainConfig(**_base(files, recipe="imagenet", epochs=1, max_steps=2, batch_size=16, vld_size=100,
                                    teacher=str(files / "sup.pth"), mixup=0.2, cutmix=1.0, warmup_epochs=0,
                                    eval_test=False, save=str(tmp_path / "kd"))))
    row = res["history"][0]
    assert row["train_kd"] >= 0 and torch.isfinite(torch.tensor(row["train_loss"]))
    assert {"ema_valid_top1", "valid_top1"} <= set(row) and res["best"]["ema"] is True
    ckpt = torch.load(tmp_path / "kd" / "last.pth", weights_only=True)
    assert ckpt["ema"] is not None and not all(
        torch.equal(ckpt["ema"][k], ckpt["model"][k]) for k in ckpt["model"] if k.endswith("weight"))


def test_teacher_and_losses(files):
    t = load_teacher(files / "sup.pth", 10)
    assert not t.training and not any(p.requires_grad for p in t.parameters())
    assert len(t.blocks) == 1 + 20  # first block + 5 stages of depth 4
    assert load_teacher(files / "sup.pth", 10, mode="train").training
    with pytest.raises(ValueError, match="10-class head"):
        load_teacher(files / "sup.pth", 7)
    g = torch.Generator().manual_seed(0)
    s, q = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    assert distillation_loss(s, s).abs() < 1e-6 and distillation_loss(s, q) > 0.01
    kd, ce = torch.tensor(0.4), torch.tensor(1.0)
    assert mixed_loss(ce, kd, 1.0) == pytest.approx(1.4) and mixed_loss(ce, None, 1.0) == ce
    assert mixed_loss(ce, kd, 3.0) == pytest.approx((1.0 + 1.2) * 2 / 4)


def test_ddp_two_processes_gloo_identical_weights(files, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "nsganetv2.train", "--model-config", str(files / "net.config"), "--pretrained",
           str(files / "net.inherited"), "--dataset", "mnist5k", "--epochs", "1", "--max-steps", "3", "-b", "16",
           "--vld_size", "200", "--no-eval-test", "--quiet", "--save", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = json.loads((tmp_path / "ddp" / "log.json").read_text())
    digests = log["rank_digests"]
    assert len(digests) == 2 and digests[0] == digests[1]
    trained = torch.load(tmp_path / "ddp" / "last.pth", weights_only=True)["model"]
    start = torch.load(files / "net.inherited")
    assert not torch.equal(trained["first_conv.conv.weight"], start["first_conv.conv.weight"])


def test_flags_and_recipe_defaults():
    p = add_train_args(argparse.ArgumentParser())
    ns = p.parse_args(["--model-config", "n.config", "--cutout", "--autoaugment", "--weight_decay", "1e-4",
                       "-b", "8", "--drop-path", "0.1", "--img-size", "40", "--grad_clip", "3", "--seed", "5"])
    cfg = config_from_args(ns)
    assert (cfg.cutout, cfg.autoaugment, cfg.weight_decay, cfg.batch_size, cfg.drop_path, cfg.img_size,
            cfg.grad_clip, cfg.seed) == (True, True, 1e-4, 8, 0.1, 40, 3.0, 5)
    r = cfg.resolved()
    assert (r.lr, r.opt, r.sched, r.epochs, r.smoothing, r.model_ema) == (0.01, "momentum", "cosine", 150, 0.0, False)
    im = TrainConfig(model_config="n.config", recipe="imagenet").resolved(world_size=8)
    assert im.lr == pytest.approx(0.024) and im.aa == RECIPES["imagenet"]["aa"] and im.model_ema
    ns = p.parse_args(["-m", "n.config", "--recipe", "imagenet", "--no-model-ema", "--teacher", "s.pth"])
    assert config_from_args(ns).model_ema is False and config_from_args(ns).teacher == "s.pth"
    with pytest.raises(ValueError, match="unknown recipe"):
        TrainConfig(model_config="n.config", recipe="tpu").resolved()
    with pytest.raises(ValueError, match="drop_path"):
        TrainConfig(model_config="n.config", drop_path=1.5).resolved()


def test_augmentations_and_pil_path():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(6, 3, 32, 32)
    y = cutout_batch(x, 16, g)
    holes = (y == 0).all(dim=1).sum(dim=(1, 2))
    assert (holes > 0).all() and (holes <= 256).all() and torch.equal(x, torch.ones_like(x))
    imgs = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    a = cifar_batch(imgs, (0.5,) * 3, (0.25,) * 3, torch.Generator().manual_seed(1), cutout=8)
    b = cifar_batch(imgs, (0.5,) * 3, (0.25,) * 3, torch.Generator().manual_seed(1), cutout=8)
    assert a.shape == (4, 3, 28, 28) and torch.equal(a, b)
    for recipe in ("cifar", "imagenet"):
        d = build_finetune_data(recipe, "mnist5k", None, 32, batch_size=4, vld_size=100, in_memory=False,
                                autoaugment=True, cutout=8, rand_augment="rand-m9-mstd0.5")
        xb, yb = next(iter(d.train))
        side = 28 if recipe == "cifar" else 32  # the CIFAR recipe upsamples on the device
        assert xb.shape == (4, 3, side, side) and yb.dtype == torch.int64
        assert len(d.train) == (4000 - 100) // 4


# the original README's fine-tune lines, as written (with `nsganetv2 train` in place of the script)
IMAGENET_LINE = ("/data/imagenet --model nsganetv2_s --model-config n.config --initial-checkpoint n.inherited "
                 "--img-size 224 -b 128 --sched step --epochs 450 --decay-epochs 2.4 --decay-rate .97 --opt rmsproptf "
                 "--opt-eps .001 -j 6 --warmup-lr 1e-6 --weight-decay 1e-5 --drop 0.2 --drop-path 0.2 --model-ema "
                 "--model-ema-decay 0.9999 --aa rand-m9-mstd0.5 --remode pixel --reprob 0.2 --amp --lr .024 "
                 "--teacher sup.pth").split()
CIFAR_LINE = ("--data /data/cifar10 --model nsganetv2_s --model-config n.config --img-size 224 --drop 0.2 "
              "--drop-path 0.2 --cutout --autoaugment --save").split()


def test_the_original_readme_lines_parse_and_mean_the_same():
    from nsganetv2.cli import build_parser

    args = build_parser().parse_args(["train", *IMAGENET_LINE])
    cfg = config_from_args(args)
    assert (cfg.data, cfg.dataset, cfg.model, cfg.model_config, cfg.amp) == (
        "/data/imagenet", "imagenet", "nsganetv2_s", "n.config", "auto")
    r = cfg.resolved(world_size=8)
    assert r.recipe == "imagenet"  # the ImageNet recipe's defaults, not the CIFAR ones
    assert (r.smoothing, r.warmup_epochs, r.min_lr, r.grad_clip) == (0.1, 3.0, 1e-5, None)
    assert (r.lr, r.opt, r.opt_eps, r.sched, r.decay_epochs, r.decay_rate, r.batch_size, r.workers) == (
        0.024, "rmsproptf", 0.001, "step", 2.4, 0.97, 128, 6)
    assert (r.model_ema, r.model_ema_decay, r.aa, r.reprob, r.teacher, r.img_size) == (
        True, 0.9999, "rand-m9-mstd0.5", 0.2, "sup.pth", 224)
    cfg = config_from_args(build_parser().parse_args(["train", *CIFAR_LINE]))
    r = cfg.resolved()
    assert (r.data, r.dataset, r.model, r.save, r.recipe, r.cutout, r.autoaugment) == (
        "/data/cifar10", "cifar10", "nsganetv2_s", None, "cifar", True, True)
    assert (r.smoothing, r.grad_clip, r.epochs, r.lr) == (0.0, 5.0, 150, 0.01)
    args = build_parser().parse_args(["train", "-m", "n.config", "--report_freq", "10", "--topk", "3",
                                      "--evaluate", "--n_gpus", "1"])
    cfg = config_from_args(args)
    assert (cfg.report_freq, cfg.topk, cfg.evaluate) == (10, 3, True)
    with pytest.raises(ValueError, match="two data roots"):
        config_from_args(build_parser().parse_args(["train", "/a", "--data", "/b", "-m", "n.config"]))


def test_n_gpus_beyond_the_machine_is_refused(capsys, monkeypatch):
    from nsganetv2.cli import main

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # one GPU at most, whatever this machine has
    assert main(["train", "-m", "n.config", "--n_gpus", "2"]) == 2
    assert "--n_gpus 2, but this machine has" in capsys.readouterr().err


def test_evaluate_topk_and_report_freq(files, tmp_path, caplog):
    res = train(TrainConfig(**_base(files, evaluate=True, save=str(tmp_path / "ev"), model="mine")))
    expected = validate(files / "net.config", files / "net.inherited", "mnist5k")
    assert res["history"] == [] and res["test"]["top1"] == pytest.approx(expected.top1)
    assert json.loads((tmp_path / "ev" / "net.stats").read_text())["test"]["top1"] == res["test"]["top1"]
    with caplog.at_level("INFO"):
        res = train(TrainConfig(**_base(files, epochs=3, max_steps=2, batch_size=16, lr=0.05, vld_size=100,
                                        eval_test=False, topk=2, report_freq=1, save=str(tmp_path / "k"))))
    kept = sorted(p.name for p in (tmp_path / "k" / "top").iterdir())
    best = sorted(res["history"], key=lambda h: (-h.get("ema_valid_top1", h["valid_top1"]), h["epoch"]))[:2]
    assert len(kept) == 2 and {int(n.split("_")[1]) for n in kept} == {h["epoch"] for h in best}  # ties: earlier
    assert "epoch 1 step 2/2: loss" in caplog.text
