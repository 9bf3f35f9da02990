"""The Ray runner on a local Ray instance of 2 CPU workers: same results as in process, fn's own exceptions are
failures, a worker killed with SIGKILL mid-batch has its item queued again (never recorded as failed), the device
plan and the API's search run on it, and a missing Ray is one clear line."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from nsganetv2 import api
from nsganetv2.cli import main
from nsganetv2.distributed import DevicePlan, plan_devices
from nsganetv2.evaluation.runners import InProcessRunner, RayRunner, make_runner
from nsganetv2.supernet import OFAMobileNetV3Supernet, save_supernet

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module (its start-up costs seconds); workers import this checkout and this
    test module."""
    import ray

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024**2)
    yield ray
    ray.shutdown()


def work(item: int, device: torch.device) -> tuple[int, float]:
    """Deterministic, uses torch, fails on item 3."""
    if item == 3:
        raise ValueError(f"bad config {item}")
    g = torch.Generator().manual_seed(item)
    return item * item, float(torch.randn(16, generator=g).sum())


def whoami(item: int, device: torch.device) -> tuple:
    import nsganetv2

    return item, os.getpid(), str(device), torch.get_num_threads(), nsganetv2.__file__


def victim_or_square(item: tuple[str, int], device: torch.device) -> tuple[int, int]:
    """Item 2 waits to be killed the first time (its pid in victim.pid); every item returns (i * i, pid)."""
    folder, i = Path(item[0]), item[1]
    if i == 2 and not (folder / "killed").exists():
        tmp = folder / "victim.pid.tmp"
        tmp.write_text(str(os.getpid()))
        tmp.replace(folder / "victim.pid")
        time.sleep(120)  # the test SIGKILLs this worker process long before
    time.sleep(0.3)
    return i * i, os.getpid()


def test_same_results_as_in_process_and_fn_exceptions_are_failures(ray_local):
    runner = RayRunner("local")
    seen = []
    res = runner.run(work, list(range(7)), on_result=lambda i, r: seen.append(i))
    assert res == InProcessRunner().run(work, list(range(7)))
    assert not res[3].ok and res[3].error == "ValueError: bad config 3" and "Traceback" in res[3].traceback
    assert sorted(seen) == list(range(7)) and runner.requeued == 0
    where = runner.run(whoami, [0, 1, 2])
    assert {r.value[2] for r in where} == {"cpu"} and {r.value[3] for r in where} == {1}
    assert os.getpid() not in {r.value[1] for r in where}
    assert {r.value[4] for r in where} == {str(ROOT / "nsganetv2" / "__init__.py")}  # this checkout's code
    runner.close()
    assert ray_local.is_initialized()  # a Ray session the runner did not start is left running


def test_a_worker_killed_mid_batch_has_its_item_queued_again(ray_local, tmp_path, caplog):
    killed = {}

    def killer():
        deadline = time.monotonic() + 240
        while not (tmp_path / "victim.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int((tmp_path / "victim.pid").read_text())
        (tmp_path / "killed").touch()
        os.kill(pid, signal.SIGKILL)  # a real SIGKILL of the Ray worker process evaluating item 2
        killed["pid"] = pid

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    runner = RayRunner("local")
    told = []
    res = runner.run(victim_or_square, [(str(tmp_path), i) for i in range(6)], on_result=lambda i, r: told.append((i, r)))
    thread.join(timeout=10)
    assert killed, "the victim never started"
    assert all(r.ok for r in res), [r.error for r in res]
    assert [r.value[0] for r in res] == [i * i for i in range(6)]
    assert res[2].value[1] != killed["pid"]  # item 2 finished on another (restarted) worker
    assert sorted(i for i, _ in told) == list(range(6)) and all(r.ok for _, r in told)  # each told once, none failed
    assert runner.requeued == 1
    assert "item 2: its Ray worker was lost" in caplog.text


def test_plan_devices_and_make_runner_with_ray(ray_local):
    plan = plan_devices(ray_address="local")
    assert plan == DevicePlan(torch.device("cpu"), ray_address="local") and plan.amp_device.type == "cpu"
    assert plan_devices("cuda", ray_address="auto").device.type == "cuda"  # the cluster's GPUs, not this host's
    assert isinstance(make_runner(plan), RayRunner)
    with pytest.raises(ValueError, match="--ray and --eval_workers"):
        plan_devices(n_workers=2, ray_address="local")
    with pytest.raises(ValueError, match="--ray and torchrun"):
        plan_devices(distributed=True, ray_address="local")
    with pytest.raises(ValueError, match="--ray needs an address"):
        plan_devices(ray_address=" ")


def test_a_nas_search_evaluates_on_ray_like_in_process(ray_local, tmp_path):
    supernet = tmp_path / "supernet.pth"
    torch.manual_seed(0)
    save_supernet(OFAMobileNetV3Supernet(n_classes=10), supernet)
    small = dict(supernet_path=str(supernet), dataset="mnist5k", resolutions=[32], vld_size=100, n_calib=100,
                 vld_batch_size=100, n_doe=3, iterations=1, n_iter=1, pop_size=6, n_gen=2, predictor="carts",
                 progress=False)
    here = api.search(api.SearchSettings(**small), tmp_path / "here", write_report=False)
    on_ray = api.search(api.SearchSettings(**small, ray_address="local"), tmp_path / "ray", write_report=False)
    assert on_ray.n_evaluations == here.n_evaluations == 4
    assert [r["status"] for r in on_ray.records] == ["ok"] * 4
    assert on_ray.X.tolist() == here.X.tolist()
    assert abs(on_ray.F - here.F).max() <= 1.0  # top1 of 100 images: one image at most
    assert ray_local.is_initialized()


def test_missing_ray_is_one_line_naming_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RuntimeError, match=r"pip install 'nsganetv2\[ray\]'"):
        RayRunner("local")
    supernet = tmp_path / "supernet.pth"
    save_supernet(OFAMobileNetV3Supernet(n_classes=10), supernet)
    assert main(["search", "--supernet_path", str(supernet), "--save", str(tmp_path / "s"), "--ray", "local"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --ray needs Ray") and "nsganetv2[ray]" in err and "\n" not in err
    assert not (tmp_path / "s").exists()
