"""Devices and the process group: chosen once, at the top (the API), and handed down to whoever computes.

- :func:`plan_devices` turns the user's ``device`` / ``n_gpus`` / ``n_workers`` / ``ray_address`` into a
  :class:`DevicePlan`: the driver's device and one device per evaluation worker process, or a Ray cluster; a
  contradictory combination is refused.
- :class:`DistEnv` / :func:`init_distributed`: the ``torchrun`` process group (NCCL on GPUs, gloo on CPUs) and this
  rank's device, for training and for evaluation shards; a no-op outside torchrun.
- :func:`average_buffers`, :func:`state_digest`: keeping replicas identical and checking that they are.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

log = logging.getLogger(__name__)

__all__ = ["DevicePlan", "DistEnv", "average_buffers", "init_distributed", "plan_devices", "resolve_device",
           "state_digest", "torchrun_world_size"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` is the current CUDA device when there is one, else the CPU; a CUDA device must exist."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        have = torch.cuda.device_count()
        if have == 0:
            raise ValueError(f"--device {device}: no CUDA device is visible here; use --device cpu (or auto)")
        if (dev.index or 0) >= have:
            raise ValueError(f"--device {device}: only {have} CUDA device(s) visible")
    elif dev.type != "cpu":
        raise ValueError(f"--device {device}: only cpu and cuda devices are supported")
    return dev


def torchrun_world_size() -> int:
    """The number of ranks when launched by ``torchrun`` (1 otherwise)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclass(frozen=True)
class DevicePlan:
    """Where evaluations run: ``device`` in this process, one worker process per entry of ``workers``, or Ray tasks
    on the cluster at ``ray_address`` (each on a ``device``-type device of the cluster)."""

    device: torch.device
    workers: tuple[str, ...] = ()
    distributed: bool = False
    ray_address: str | None = None

    @property
    def amp_device(self) -> torch.device:
        """The device whose type decides the autocast precision (the workers' when there are workers)."""
        return torch.device(self.workers[0]) if self.workers else self.device


def plan_devices(device: str = "auto", n_gpus: int = 0, n_workers: int | None = None,
                 distributed: bool | None = None, ray_address: str | None = None) -> DevicePlan:
    """The device plan for ``device`` (auto, cpu, cuda, cuda:N), ``n_gpus``, CPU ``n_workers`` and ``ray_address``.

    ``n_gpus`` > 1 gives one worker process per GPU, ``n_gpus`` == 1 evaluates in this process on the GPU,
    ``n_workers`` > 1 gives CPU worker processes; under torchrun (``distributed``, default: detected) every rank
    evaluates on its own device. ``ray_address`` (``local``, ``auto``, ``host:6379``, ``ray://host:10001``) evaluates on
    a Ray cluster: one GPU per evaluation with ``device`` cuda, else one CPU (the cluster's devices are not this
    process's, so ``auto`` means CPU there). ``--device cpu`` with ``--n_gpus``, GPUs together with CPU workers, and Ray
    together with another way of placing workers are refused.
    """
    for name, v in (("n_gpus", n_gpus), ("n_workers", n_workers)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValueError(f"--{name} must be an integer >= 0, got {v!r}")
    if distributed is None:
        distributed = torchrun_world_size() > 1
    if ray_address is not None:
        if not isinstance(ray_address, str) or not ray_address.strip():
            raise ValueError(f"--ray needs an address (local, auto, host:6379 or ray://host:10001), got {ray_address!r}")
        other = [f for f, v in (("--n_gpus", n_gpus), ("--eval_workers", n_workers and n_workers > 1),
                                ("torchrun", distributed)) if v]
        if other:
            raise ValueError(f"--ray and {other[0]} both place evaluation workers: drop {other[0]} (with --ray, "
                             "--device cuda gives each evaluation one GPU of the cluster)")
        if str(device) not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda"):
            raise ValueError(f"--device {device} with --ray: use cpu or cuda (a GPU of the cluster per evaluation)")
        dev = torch.device("cuda") if str(device).startswith("cuda") else torch.device("cpu")
        return DevicePlan(dev, ray_address=ray_address.strip())
    if n_gpus and str(device) not in ("auto", "cuda") and not str(device).startswith("cuda"):
        raise ValueError(f"--device {device} contradicts --n_gpus {n_gpus}: drop --n_gpus to evaluate on the CPU "
                         "(--eval_workers N for CPU worker processes), or drop --device")
    if n_gpus and n_workers and n_workers > 1:
        raise ValueError(f"--n_gpus {n_gpus} and --eval_workers {n_workers} both set: GPU workers are one per GPU; "
                         "drop --eval_workers")
    if distributed:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available() and local_rank < torch.cuda.device_count() and str(device) != "cpu":
            return DevicePlan(torch.device("cuda", local_rank), distributed=True)
        return DevicePlan(torch.device("cpu"), distributed=True)
    if n_gpus:
        have = torch.cuda.device_count()
        if n_gpus > have:
            raise ValueError(f"--n_gpus {n_gpus} but only {have} CUDA device(s) visible; lower --n_gpus")
        if n_gpus == 1:
            return DevicePlan(resolve_device("cuda" if str(device) == "auto" else device))
        return DevicePlan(torch.device("cuda", 0), tuple(f"cuda:{i}" for i in range(n_gpus)))
    dev = resolve_device(device)
    if n_workers and n_workers > 1:
        if dev.type == "cuda":
            raise ValueError(f"--eval_workers {n_workers} starts CPU workers but --device is {device}; use --n_gpus "
                             "for one worker per GPU")
        return DevicePlan(dev, ("cpu",) * n_workers)
    return DevicePlan(dev)


@dataclass
class DistEnv:
    """This process's place in a torchrun group (rank 0 of 1 outside torchrun) and its device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # we created the process group (and destroy it at the end)

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64)."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj):
        if not self.distributed:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device: str | None = None, backend: str | None = None) -> DistEnv:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1, and pick this process's device.

    Device: ``device`` if given, else ``cuda:<LOCAL_RANK>`` when CUDA is present, else CPU (gloo). Several CPU
    ranks on one machine split its cores between them.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is not None:
        dev = torch.device(device)
    elif torch.cuda.is_available() and local_rank < torch.cuda.device_count():
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend or ("nccl" if dev.type == "cuda" else "gloo"))
        owns = True
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        log.info("process %d of %d on %s", rank, world, dev)
    if world > 1 and dev.type == "cpu":
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local_world)))
    return DistEnv(rank, world, local_rank, dev, owns)


@torch.no_grad()
def average_buffers(model: nn.Module, env: DistEnv) -> None:
    """Average the floating buffers (BN running statistics) over ranks, so that every rank holds the same model."""
    if not env.distributed:
        return
    for buf in model.buffers():
        if buf.is_floating_point():
            t = buf if env.device.type == "cuda" else buf.cpu()
            dist.all_reduce(t)
            t /= env.world
            if t is not buf:
                buf.copy_(t)


def state_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter and buffer (name, dtype, bytes): equal digests mean identical weights."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
