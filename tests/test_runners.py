"""Runners: per-item failure capture, worker processes, and torch.distributed (2 CPU ranks, gloo).

Run as a script under torchrun, this file is also the distributed worker:
``python -m torch.distributed.run --standalone --nproc_per_node=2 tests/test_runners.py OUT.pkl``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nsganetv2.distributed import DevicePlan, plan_devices
from nsganetv2.evaluation.runners import (
    DistributedRunner,
    InProcessRunner,
    MultiProcessRunner,
    make_runner,
)

ITEMS = list(range(7))
ITEMS_B = [10, 3, 11]


def work(item: int, device: torch.device) -> tuple[int, float]:
    """Deterministic, uses torch, fails on item 3."""
    if item == 3:
        raise ValueError(f"bad config {item}")
    g = torch.Generator().manual_seed(item)
    return item * item, float(torch.randn(16, generator=g).sum())


def whoami(item: int, device: torch.device) -> tuple[int, int, str, int]:
    """Where an item ran: (item, pid, device handed to fn, torch threads, rank or -1)."""
    return item, os.getpid(), str(device), torch.get_num_threads(), int(os.environ.get("RANK", -1))


def unpicklable_value(item: int, device: torch.device):
    return (lambda: item) if item == 1 else item


def work_or_die(item: int, device: torch.device) -> int:
    if item == 2:
        os._exit(7)  # simulate a worker killed mid-evaluation
    return work(item, device)[0]


def test_in_process_captures_failures_and_goes_on() -> None:
    res = InProcessRunner().run(work, ITEMS)
    assert [r.ok for r in res] == [i != 3 for i in ITEMS]
    assert res[3].error == "ValueError: bad config 3"
    assert "Traceback" in res[3].traceback and res[3].value is None
    assert [r.value[0] for r in res if r.ok] == [i * i for i in ITEMS if i != 3]
    assert InProcessRunner().run(work, []) == []


def test_multiprocess_matches_in_process_and_survives_worker_death() -> None:
    with MultiProcessRunner(n_workers=2) as runner:
        _check_multiprocess(runner)
    assert runner._slots == {}  # close() stopped the workers


def _check_multiprocess(runner: MultiProcessRunner) -> None:
    assert runner.run(work, ITEMS) == InProcessRunner().run(work, ITEMS)

    where = [r.value for r in runner.run(whoami, range(6))]
    assert [w[0] for w in where] == list(range(6))
    pids = {w[1] for w in where}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {(w[2], w[3]) for w in where} == {("cpu", 1)}  # CPU workers use one thread each

    died = runner.run(work_or_die, [0, 1, 2, 4, 5])
    assert [r.ok for r in died] == [True, True, False, True, True]
    assert died[2].error.startswith("WorkerDied") and "code 7" in died[2].error
    assert [r.value for r in died if r.ok] == [0, 1, 16, 25]
    assert runner.run(work, [5]) == InProcessRunner().run(work, [5])  # the pool is usable afterwards

    res = runner.run(unpicklable_value, [0, 1, 2])
    assert [r.ok for r in res] == [True, False, True] and "cannot be sent back" in res[1].error
    with pytest.raises(ValueError, match="picklable"):
        runner.run(lambda x, device: x, [1])


def test_runner_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="n_workers"):
        MultiProcessRunner(n_workers=0)
    with pytest.raises(ValueError, match="devices"):
        MultiProcessRunner(n_workers=3, devices=["cpu", "cpu"])
    with pytest.raises(ValueError, match="n_gpus"):
        plan_devices(n_gpus=torch.cuda.device_count() + 1, distributed=False)
    with pytest.raises(ValueError, match="torchrun"):
        DistributedRunner()
    assert isinstance(make_runner(plan_devices(distributed=False)), InProcessRunner)
    assert isinstance(make_runner(plan_devices("cpu", n_workers=2, distributed=False)), MultiProcessRunner)
    assert InProcessRunner().run(whoami, [0])[0].value[2] == "cpu"


def test_device_plan_is_chosen_once_and_contradictions_are_refused() -> None:
    with pytest.raises(ValueError, match="--device cpu contradicts --n_gpus 2"):
        plan_devices("cpu", n_gpus=2, distributed=False)
    with pytest.raises(ValueError, match="drop --eval_workers"):
        plan_devices("auto", n_gpus=2, n_workers=2, distributed=False)
    with pytest.raises(ValueError, match="n_workers must be an integer"):
        plan_devices(n_workers=-3, distributed=False)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device is visible"):
            plan_devices("cuda", distributed=False)
    plan = plan_devices("cpu", n_workers=2, distributed=False)
    assert plan == DevicePlan(torch.device("cpu"), ("cpu", "cpu")) and plan.amp_device.type == "cpu"
    assert plan_devices("cpu", distributed=True) == DevicePlan(torch.device("cpu"), distributed=True)


def test_distributed_gloo_two_ranks_equal_in_process(tmp_path: Path) -> None:
    out = tmp_path / "dist.pkl"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), *sys.path]))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).resolve()), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = pickle.loads(out.read_bytes())
    assert got["world_size"] == 2
    ref = InProcessRunner().run(work, ITEMS)
    rank1_spmd = pickle.loads(Path(str(out) + ".rank1").read_bytes())
    assert got["spmd"] == ref and rank1_spmd == ref  # every rank gets all results, in order
    assert not ref[3].ok and got["spmd"][3].error == "ValueError: bad config 3"
    assert got["driven"] == InProcessRunner().run(work, ITEMS_B)
    # strided shards: item i ran on rank i % 2
    assert [(w[0], w[4]) for w in got["where"]] == [(i, i % 2) for i in range(5)]


def _distributed_main(out: str) -> None:
    runner = DistributedRunner(backend="gloo")
    # 1) SPMD: every rank calls run() (rank 0's items win); 2) rank 0 drives while rank 1 serves.
    spmd = runner.run(work, ITEMS if runner.rank == 0 else ["ignored"])
    if runner.rank == 0:
        driven = runner.run(work, ITEMS_B)
        where = [r.value for r in runner.run(whoami, range(5))]
        runner.close()
        payload = {"world_size": runner.world_size, "spmd": spmd, "driven": driven, "where": where}
        Path(out).write_bytes(pickle.dumps(payload))
    else:
        Path(out + ".rank1").write_bytes(pickle.dumps(spmd))
        runner.serve()
        runner.close()  # no-op after serve() returned


if __name__ == "__main__":
    _distributed_main(sys.argv[1])
