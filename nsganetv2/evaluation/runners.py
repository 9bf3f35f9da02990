"""Runners: map a pure, picklable ``fn(item, device) -> value`` over a batch, capturing failures per item.

Every runner's ``run(fn, items, on_result=None)`` returns one ``Result`` per item, in order: ``ok``, ``value``
and, on failure, ``error`` ("ExceptionType: message") and ``traceback``. An exception in one item never stops the
batch. ``on_result(index, result)`` is called as each item finishes (in finishing order), so a caller can record
it at once: a kill then loses only the items in flight. Results are equal (``==``) across runners for the same deterministic ``fn``. Each runner hands ``fn`` the
device its process was given (chosen once, by :func:`nsganetv2.distributed.plan_devices`).

- ``InProcessRunner(device)``: a plain loop in this process.
- ``MultiProcessRunner(n_workers, devices)``: one spawned worker process per device, fed from a dynamic
  queue (a free worker takes the next item). CPU workers call ``torch.set_num_threads(1)``; a GPU
  worker sees only its own device (``CUDA_VISIBLE_DEVICES``, ``torch.cuda.set_device(0)``) and hands ``fn``
  ``cuda``. A worker that dies (segfault, killed for memory) fails its item with the exit code and is
  replaced; the batch goes on.
- ``DistributedRunner``: under ``torch.distributed`` (e.g. ``torchrun``). Rank 0 drives: its ``fn`` and
  items are broadcast, every rank evaluates the strided shard ``items[rank::world_size]`` on its own device, one
  item a round, and each round's results are gathered with ``all_gather_object`` so every rank returns the full
  list in order. Either
  all ranks call ``run`` (SPMD), or ranks > 0 call ``serve()`` and wait for rank 0's batches until
  rank 0 calls ``close()``.
- ``RayRunner(address)``: one Ray task per item on a Ray cluster (``pip install nsganetv2[ray]``), so evaluation
  workers may join and leave during a search. An item whose worker or node is lost (killed, preempted, out of
  memory) is queued again and never recorded as failed; only an exception raised by ``fn`` is a failure.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
import traceback as tb
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from nsganetv2.distributed import DevicePlan, init_distributed, plan_devices

__all__ = [
    "DistributedRunner",
    "InProcessRunner",
    "MultiProcessRunner",
    "RayRunner",
    "Result",
    "Runner",
    "make_runner",
]

log = logging.getLogger(__name__)

OnResult = Callable[[int, "Result"], None]


@dataclass
class Result:
    """The outcome of ``fn(item)``: ``value`` when ``ok``, else ``error`` text (and the traceback)."""

    ok: bool
    value: Any = None
    error: str | None = None
    traceback: str | None = field(default=None, compare=False, repr=False)


def _check_picklable(fn: Callable[..., Any]) -> None:
    try:
        pickle.dumps(fn)
    except Exception as e:  # noqa: BLE001 - pickling raises many types
        raise ValueError(f"fn must be picklable to run in other processes (a module-level function or a "
                         f"functools.partial of one), got {fn!r}: {type(e).__name__}: {e}") from e


def _sendable(res: Result, idx: int) -> Result:
    """``res``, or a failure if its value cannot be pickled (so a gather never breaks on one item)."""
    if not res.ok:
        return res
    try:
        pickle.dumps(res.value)
    except Exception as e:  # noqa: BLE001
        return Result(False, None, f"{type(e).__name__}: result of item {idx} cannot be sent back: {e}",
                      tb.format_exc())
    return res


def _call(fn: Callable[[Any, torch.device], Any], item: Any, device: torch.device) -> Result:
    try:
        return Result(True, fn(item, device))
    except Exception as e:  # noqa: BLE001 - per-item failure capture is the point
        return Result(False, None, f"{type(e).__name__}: {e}", tb.format_exc())


class Runner:
    """Base class: ``run(fn, items) -> list[Result]`` calling ``fn(item, device)``; usable as a context manager."""

    def run(self, fn: Callable[[Any, torch.device], Any], items: Sequence[Any],
            on_result: OnResult | None = None) -> list[Result]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (no-op unless overridden)."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcessRunner(Runner):
    """Evaluate items one after the other in this process, on ``device``."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)

    def run(self, fn: Callable[[Any, torch.device], Any], items: Sequence[Any],
            on_result: OnResult | None = None) -> list[Result]:
        out = []
        for i, item in enumerate(items):
            out.append(_call(fn, item, self.device))
            if on_result is not None:
                on_result(i, out[-1])
        return out


# ----------------------------------------------------------------------------------------------------
# one worker process per device
# ----------------------------------------------------------------------------------------------------


def _visible_for(device: str) -> str | None:
    """The CUDA_VISIBLE_DEVICES value that exposes only ``device`` (relative to this process's list)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    index = dev.index or 0
    ids = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return ids[index] if index < len(ids) else str(index)


def _setup_device(device: str) -> torch.device:
    """This worker's device: its one visible GPU, or the CPU with one thread."""
    if torch.device(device).type == "cuda":
        torch.cuda.set_device(0)  # CUDA_VISIBLE_DEVICES was narrowed to this device before the spawn
        return torch.device("cuda", 0)
    torch.set_num_threads(1)
    return torch.device("cpu")


def _worker(device: str, conn) -> None:
    """Worker loop. Messages: ("fn", fn) sets the function; (idx, item) evaluates; None stops."""
    dev = _setup_device(device)
    fn = None
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        if msg[0] == "fn":
            fn = msg[1]
            continue
        idx, item = msg
        conn.send((idx, _sendable(_call(fn, item, dev), idx)))


class _Slot:
    def __init__(self, proc, conn, device: str) -> None:
        self.proc, self.conn, self.device = proc, conn, device
        self.idx: int | None = None  # item in flight


class MultiProcessRunner(Runner):
    """One spawned worker process per device; each free worker is handed the next item (dynamic queue).

    devices: e.g. ``["cuda:0", "cuda:1"]`` or ``["cpu", "cpu"]``; default: every visible GPU, else one CPU
    worker. ``n_workers`` alone (no devices) means that many CPU workers. Workers start on the first
    ``run`` and are reused by later ones (``fn`` is sent to each worker once per run); ``close()`` (or
    leaving a ``with`` block) stops them.
    """

    def __init__(self, n_workers: int | None = None, devices: Sequence[str] | None = None) -> None:
        if devices is None:
            if n_workers is None:
                n_gpu = torch.cuda.device_count()
                devices = [f"cuda:{i}" for i in range(n_gpu)] if n_gpu else ["cpu"]
            else:
                if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
                    raise ValueError(f"n_workers must be an int >= 1, got {n_workers!r}")
                devices = ["cpu"] * n_workers
        elif n_workers is not None and n_workers != len(devices):
            raise ValueError(f"n_workers={n_workers} but {len(devices)} devices given; pass one or make them agree")
        devices = [str(d) for d in devices]
        if not devices:
            raise ValueError("MultiProcessRunner needs at least one worker (n_workers >= 1 or a device list)")
        for d in devices:
            if torch.device(d).type not in ("cpu", "cuda"):
                raise ValueError(f"device {d!r}: only 'cpu' and 'cuda:N' workers are supported")
        self.devices = devices
        self._ctx = mp.get_context("spawn")
        self._slots: dict[int, _Slot] = {}

    @property
    def n_workers(self) -> int:
        return len(self.devices)

    def _start(self, slot: int) -> None:
        device = self.devices[slot]
        here, there = self._ctx.Pipe()
        p = self._ctx.Process(target=_worker, args=(device, there), daemon=True)
        visible, saved = _visible_for(device), os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:  # the child inherits the environment at spawn, before it touches CUDA
            os.environ["CUDA_VISIBLE_DEVICES"] = visible
        try:
            p.start()
        finally:
            if visible is not None:
                if saved is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = saved
        there.close()
        self._slots[slot] = _Slot(p, here, device)

    def run(self, fn: Callable[[Any, torch.device], Any], items: Sequence[Any],
            on_result: OnResult | None = None) -> list[Result]:
        from multiprocessing.connection import wait

        items = list(items)
        if not items:
            return []
        _check_picklable(fn)
        out: list[Result | None] = [None] * len(items)
        pending = list(range(len(items) - 1, -1, -1))  # a stack: pop() gives the next item
        slots = self._slots

        def feed(slot: int) -> None:
            s = slots[slot]
            s.idx = pending.pop() if pending else None
            if s.idx is not None:
                s.conn.send((s.idx, items[s.idx]))

        for slot in range(min(self.n_workers, len(items))):
            if slot in slots and not slots[slot].proc.is_alive():
                slots.pop(slot).conn.close()
            if slot not in slots:
                self._start(slot)
        for slot in list(slots):
            slots[slot].conn.send(("fn", fn))
        for slot in list(slots):
            feed(slot)
        done = False
        try:
            while any(s.idx is not None for s in slots.values()):
                busy = {s.conn: k for k, s in slots.items() if s.idx is not None}
                for conn in wait(list(busy), timeout=1.0):
                    slot = busy[conn]
                    s = slots[slot]
                    try:
                        got, res = conn.recv()
                    except (EOFError, OSError):
                        s.proc.join(timeout=5)
                        log.warning("worker on %s died (exit code %s) on item %d", s.device, s.proc.exitcode, s.idx)
                        out[s.idx] = Result(False, None, f"WorkerDied: the worker process on {s.device} exited "
                                                         f"with code {s.proc.exitcode} while evaluating item {s.idx}")
                        if on_result is not None:
                            on_result(s.idx, out[s.idx])
                        conn.close()
                        del slots[slot]
                        if pending:
                            self._start(slot)
                            slots[slot].conn.send(("fn", fn))
                            feed(slot)
                        continue
                    out[got] = res
                    if on_result is not None:
                        on_result(got, res)
                    feed(slot)
            done = True
        finally:
            if not done:  # interrupted: the workers' state is unknown
                self.close()
        return out  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the worker processes."""
        for s in self._slots.values():
            try:
                s.conn.send(None)
            except OSError:
                pass
        for s in self._slots.values():
            s.proc.join(timeout=10)
            if s.proc.is_alive():
                s.proc.kill()
                s.proc.join()
            s.conn.close()
        self._slots.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


# ----------------------------------------------------------------------------------------------------
# torch.distributed
# ----------------------------------------------------------------------------------------------------


class DistributedRunner(Runner):
    """Shard every batch over the ranks of a ``torch.distributed`` group; rank 0 drives.

    If the default process group is not initialised it is initialised from the environment that
    ``torchrun`` sets (``nccl`` when CUDA is present, else ``gloo``; ``backend`` overrides). Each rank
    binds to GPU ``LOCAL_RANK`` when that GPU exists, otherwise uses one CPU thread when several ranks
    share the machine.
    """

    def __init__(self, backend: str | None = None) -> None:
        import torch.distributed as dist

        self._dist = dist
        if not dist.is_available():
            raise ValueError("torch.distributed is not available in this torch build; use another runner")
        owned_before = dist.is_initialized()
        if not owned_before and ("RANK" not in os.environ or "WORLD_SIZE" not in os.environ):
            raise ValueError("DistributedRunner needs torchrun (RANK / WORLD_SIZE unset) or an initialised "
                             "process group; launch with `torchrun --nproc_per_node=N ...`")
        env = init_distributed(backend=backend)
        self._owns_group = env.owns_group
        self.rank, self.world_size, self.device = dist.get_rank(), dist.get_world_size(), env.device
        self._stopped = False

    def _bcast(self, obj: Any) -> Any:
        box = [obj if self.rank == 0 else None]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def _shard(self, fn: Callable[[Any, torch.device], Any], items: list,
               on_result: OnResult | None = None) -> list[Result]:
        """Rounds of one item per rank (item ``start + rank``), gathered after each round, so results can be
        recorded as rounds finish: a kill loses at most the round in flight."""
        out: list[Result | None] = [None] * len(items)
        for start in range(0, len(items), self.world_size):
            i = start + self.rank
            mine = [(i, _sendable(_call(fn, items[i], self.device), i))] if i < len(items) else []
            gathered: list[Any] = [None] * self.world_size
            self._dist.all_gather_object(gathered, mine)
            for part in gathered:
                for j, res in part:
                    out[j] = res
                    if on_result is not None:
                        on_result(j, res)
        return out  # type: ignore[return-value]

    def run(self, fn: Callable[[Any, torch.device], Any], items: Sequence[Any],
            on_result: OnResult | None = None) -> list[Result]:
        """Collective: rank 0's ``fn`` and ``items`` are used; every rank returns all results in order
        (``on_result`` is called on the rank that passed it)."""
        if self._stopped:
            raise ValueError("this DistributedRunner was closed; create a new one")
        if self.rank == 0:
            _check_picklable(fn)
        msg = self._bcast(("run", fn, list(items)) if self.rank == 0 else None)
        return self._shard(msg[1], msg[2], on_result)

    def serve(self) -> None:
        """On ranks > 0: evaluate rank 0's batches until rank 0 calls ``close()``."""
        while True:
            msg = self._bcast(None)
            if msg[0] == "stop":
                self._finish()
                return
            self._shard(msg[1], msg[2])

    def close(self) -> None:
        """Rank 0 (or every rank, in SPMD use): release the serving ranks; destroy a group we created."""
        if self._stopped:
            return
        self._bcast(("stop", None, None))
        self._finish()

    def _finish(self) -> None:
        self._stopped = True
        if self._owns_group:
            self._dist.barrier()
            self._dist.destroy_process_group()


# ----------------------------------------------------------------------------------------------------
# Ray: elastic workers
# ----------------------------------------------------------------------------------------------------

_RAY_FN: dict[str, Any] = {}  # in a Ray worker: the fn of the current run (token -> fn), deserialised once per run


def _ray_evaluate(token: str, box: list, item: Any, idx: int, use_gpu: bool, threads: int) -> Result:
    """One Ray task: ``fn(item, device)`` on this worker's GPU (Ray narrowed CUDA_VISIBLE_DEVICES to it) or CPU."""
    if token not in _RAY_FN:
        import ray

        _RAY_FN.clear()  # one run's fn at a time (it may hold a supernet)
        _RAY_FN[token] = ray.get(box[0])
    if use_gpu:
        torch.cuda.set_device(0)
        device = torch.device("cuda", 0)
    else:
        torch.set_num_threads(threads)
        device = torch.device("cpu")
    return _sendable(_call(_RAY_FN[token], item, device), idx)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(f"--ray needs Ray ({exc}): pip install 'nsganetv2[ray]'") from None
    return ray


class RayRunner(Runner):
    """Evaluate each item as a Ray task on the cluster at ``address``; workers (nodes) may join and leave.

    ``address``: ``local`` starts a Ray instance on this machine (``ray_init`` keyword arguments such as
    ``num_cpus`` size it); ``auto``, ``host:6379`` or ``ray://host:10001`` joins a running cluster. When Ray is already
    initialised in this process it is used as it is. Each task takes ``cpus`` CPUs (and that many torch threads) or,
    with ``gpus`` > 0, a GPU (``fn`` gets ``cuda``). Every node needs this package and the files ``fn`` reads (supernet,
    data) at the same paths, or a ``runtime_env``.

    A task whose worker process or node is lost is submitted again, as often as it happens (``max_requeues`` bounds
    it: beyond it the item fails with ``WorkerLost``), and ``on_result`` hears of each item once, when it is done.
    ``fn`` is shipped once per ``run`` through Ray's object store and deserialised once per worker and run.
    """

    def __init__(self, address: str | None = "local", cpus: float = 1, gpus: float = 0,
                 max_requeues: int | None = None, **ray_init: Any) -> None:
        ray = _import_ray()
        if cpus <= 0 or gpus < 0:
            raise ValueError(f"RayRunner needs cpus > 0 and gpus >= 0 per task, got cpus={cpus}, gpus={gpus}")
        if max_requeues is not None and max_requeues < 0:
            raise ValueError(f"max_requeues must be >= 0 or None (no bound), got {max_requeues}")
        self._ray = ray
        self.address, self.cpus, self.gpus, self.max_requeues = address, cpus, gpus, max_requeues
        self.requeued = 0  # items queued again after a lost worker, over this runner's life
        self._owns = not ray.is_initialized()
        if self._owns:
            kwargs = {"include_dashboard": False, "log_to_driver": False, **ray_init}
            try:
                ray.init(address=None if address in (None, "local") else address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise ValueError(f"--ray {address}: cannot reach the Ray cluster: {str(exc).splitlines()[0]}") from None
        self._remote = ray.remote(_ray_evaluate).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
        self._closed = False

    def _lost(self, exc: BaseException) -> bool:
        """A failure of the worker or node, not of ``fn``: the item goes back to the queue."""
        e = self._ray.exceptions
        return isinstance(exc, (e.WorkerCrashedError, e.NodeDiedError, e.ObjectLostError, e.OutOfMemoryError,
                                e.LocalRayletDiedError))

    def _warn_if_nothing_can_run(self) -> None:
        need = "GPU" if self.gpus else "CPU"
        have = self._ray.cluster_resources().get(need, 0)
        if have < (self.gpus or self.cpus):
            log.warning("the Ray cluster has %s %s now; the evaluations wait for workers with %s %s to join",
                        have, need, self.gpus or self.cpus, need)

    def run(self, fn: Callable[[Any, torch.device], Any], items: Sequence[Any],
            on_result: OnResult | None = None) -> list[Result]:
        if self._closed:
            raise ValueError("this RayRunner was closed; create a new one")
        items = list(items)
        if not items:
            return []
        _check_picklable(fn)
        ray = self._ray
        self._warn_if_nothing_can_run()
        token, box = uuid.uuid4().hex, [ray.put(fn)]
        threads = max(1, int(self.cpus))

        def submit(i: int):
            return self._remote.remote(token, box, items[i], i, self.gpus > 0, threads)

        out: list[Result | None] = [None] * len(items)
        lost = [0] * len(items)
        pending = {submit(i): i for i in range(len(items))}
        done = False
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                i = pending.pop(ready[0])
                try:
                    res = ray.get(ready[0])
                except Exception as exc:  # noqa: BLE001 - Ray's errors: lost workers, or fn failing to load
                    if self._lost(exc) and (self.max_requeues is None or lost[i] < self.max_requeues):
                        lost[i] += 1
                        self.requeued += 1
                        log.warning("item %d: its Ray worker was lost (%s); queued again (%d time(s))", i,
                                    type(exc).__name__, lost[i])
                        pending[submit(i)] = i
                        continue
                    kind = "WorkerLost" if self._lost(exc) else type(exc).__name__
                    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    res = Result(False, None, f"{kind}: {text} (item {i}, lost {lost[i]} time(s))",
                                 "".join(tb.format_exception(exc)))
                out[i] = res
                if on_result is not None:
                    on_result(i, res)
            done = True
        finally:
            if not done:  # interrupted: stop what is still queued or running
                for ref in pending:
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:  # noqa: BLE001 - finished or already gone
                        pass
        return out  # type: ignore[return-value]

    def close(self) -> None:
        """Shut Ray down if this runner started or joined it (a Ray session of the caller is left alone)."""
        if not self._closed:
            self._closed = True
            if self._owns and self._ray.is_initialized():
                self._ray.shutdown()


def make_runner(plan: DevicePlan | None = None) -> Runner:
    """The runner for a device plan (default: :func:`plan_devices` with its defaults): distributed under torchrun,
    Ray tasks with ``plan.ray_address``, one worker process per entry of ``plan.workers``, or in this process on
    ``plan.device``."""
    plan = plan or plan_devices()
    if plan.ray_address:
        return RayRunner(plan.ray_address, gpus=1 if plan.device.type == "cuda" else 0)
    if plan.distributed:
        return DistributedRunner()
    if plan.workers:
        return MultiProcessRunner(devices=list(plan.workers))
    return InProcessRunner(plan.device)
