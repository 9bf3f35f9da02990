"""Process-group plumbing for fine-tuning under ``torchrun`` (NCCL on GPUs, gloo on CPUs); a no-op otherwise."""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

log = logging.getLogger(__name__)

__all__ = ["DistEnv", "average_buffers", "init_distributed", "state_digest"]


@dataclass
class DistEnv:
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


def init_distributed(device: str | None = None) -> DistEnv:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1, and pick this process's device.

    Device: ``device`` if given, else ``cuda:<LOCAL_RANK>`` when CUDA is present, else CPU (gloo).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is not None:
        dev = torch.device(device)
    elif torch.cuda.is_available():
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        owns = True
    if world > 1:
        rank, world = dist.get_rank(), dist.get_world_size()
        log.info("process %d of %d on %s", rank, world, dev)
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
