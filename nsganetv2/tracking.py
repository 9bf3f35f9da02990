"""Experiment tracking: search callbacks that send each iteration's numbers to MLflow or TensorBoard.

Both are callables taking an :class:`~nsganetv2.search.IterationInfo` (pass them as ``callbacks=`` to the search,
or ``nsganetv2 search --tracking mlflow|tensorboard``). They log ``info.metrics()`` (hypervolume, archive size,
failures, front size, timing, the surrogate's rmse / rho / tau) with the iteration as the step, and the search's
settings once. ``close()`` ends the run (``api.search`` calls it); a later call starts a new one. They need the
optional extra: ``pip install nsganetv2[tracking]``.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nsganetv2.search import IterationInfo

log = logging.getLogger(__name__)

__all__ = ["MLflowTracker", "TensorBoardTracker", "TRACKERS", "make_tracker"]

TRACKERS = ("mlflow", "tensorboard")


def _missing(what: str, exc: ImportError) -> RuntimeError:
    return RuntimeError(f"{what} is not installed ({exc}): pip install 'nsganetv2[tracking]'")


def _param_text(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    return text[:500]


class MLflowTracker:
    """Log each iteration to an MLflow run (experiment ``experiment``, run ``run_name``) at ``tracking_uri``
    (e.g. ``http://host:5000``, ``sqlite:///mlflow.db``, or ``file:/path/mlruns`` with ``MLFLOW_ALLOW_FILE_STORE=true``
    for MLflow 3.x; default: MLflow's own, ``MLFLOW_TRACKING_URI``).

    Uses an ``MlflowClient`` of its own, so an active MLflow run of the caller is left alone.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "nsganetv2",
                 run_name: str | None = None) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise _missing("mlflow", exc) from None
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.run_id: str | None = None
        try:  # reach the store now: a wrong URI is an error before the search starts, not after an iteration
            self.client = MlflowClient(tracking_uri=tracking_uri)
            self.client.get_experiment_by_name(experiment)
        except Exception as exc:  # noqa: BLE001 - MlflowException, connection errors, ...
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"MLflow tracking URI {tracking_uri or '(default)'}: {text}") from exc

    def _start(self, info: IterationInfo) -> str:
        exp = self.client.get_experiment_by_name(self.experiment)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(self.experiment)
        run = self.client.create_run(exp_id, run_name=self.run_name or info.save_dir.name,
                                     tags={"nsganetv2.save_dir": str(info.save_dir)})
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, _param_text(v)) for k, v in sorted(info.settings.items())])
        return self.run_id

    def __call__(self, info: IterationInfo) -> None:
        from mlflow.entities import Metric

        run_id = self.run_id or self._start(info)
        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, v, now, info.iteration) for k, v in info.metrics().items()])

    def close(self) -> None:
        """End the run (FINISHED)."""
        if self.run_id is not None:
            self.client.set_terminated(self.run_id, "FINISHED")
            self.run_id = None


class TensorBoardTracker:
    """Write each iteration's numbers as scalars ``search/<name>`` (step = iteration) and the settings as text into
    the TensorBoard log folder ``log_dir``; the file is flushed after every iteration."""

    def __init__(self, log_dir: str | os.PathLike) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise _missing("tensorboard", exc) from None
        self._writer_cls = SummaryWriter
        self.log_dir = Path(log_dir)
        self.writer = None

    def __call__(self, info: IterationInfo) -> None:
        if self.writer is None:
            self.writer = self._writer_cls(log_dir=str(self.log_dir))
            self.writer.add_text("settings", "\n".join(f"    {k}: {_param_text(v)}"
                                                       for k, v in sorted(info.settings.items())), 0)
        for name, value in info.metrics().items():
            self.writer.add_scalar(f"search/{name}", value, info.iteration)
        self.writer.flush()

    def close(self) -> None:
        """Close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def make_tracker(kind: str, uri: str | os.PathLike | None = None, save: str | os.PathLike | None = None,
                 experiment: str = "nsganetv2") -> MLflowTracker | TensorBoardTracker:
    """The tracker ``kind`` (mlflow or tensorboard) at ``uri``: MLflow's tracking URI (default: MLflow's own), or
    TensorBoard's log folder (default: ``save/tensorboard``). The run is named after the search folder ``save``."""
    if kind == "mlflow":
        return MLflowTracker(None if uri is None else str(uri), experiment=experiment,
                             run_name=Path(save).name if save else None)
    if kind == "tensorboard":
        if uri is None and save is None:
            raise ValueError("--tracking tensorboard needs a log folder: pass --tracking_uri DIR")
        return TensorBoardTracker(uri if uri is not None else Path(save) / "tensorboard")
    raise ValueError(f"unknown tracker {kind!r}; choose one of {TRACKERS}")
