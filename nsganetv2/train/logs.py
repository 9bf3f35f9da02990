"""Curves of a fine-tuning run: ``log.csv``, ``log.json`` and ``curves.png``, all rewritten atomically per epoch."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from nsganetv2.atomic import atomic_write

__all__ = ["write_logs", "plot_curves"]


def write_logs(save_dir: str | os.PathLike, history: list[dict], extra: dict[str, Any] | None = None) -> None:
    """``log.csv`` (one row per epoch) and ``log.json`` (``{"epochs": history, **extra}``)."""
    save_dir = Path(save_dir)
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for row in history:
        w.writerow(row)
    atomic_write(save_dir / "log.csv", buf.getvalue().encode())
    obj = {"epochs": history, **(extra or {})}
    atomic_write(save_dir / "log.json", json.dumps(obj, indent=2, default=str).encode())


def plot_curves(save_dir: str | os.PathLike, history: list[dict]) -> Path | None:
    """Loss and top-1 per epoch (train, held-out, EMA) to ``curves.png`` (matplotlib Agg)."""
    if not history:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ep = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for key, label in (("train_loss", "train"), ("valid_loss", "held-out"), ("ema_valid_loss", "held-out (EMA)")):
        if key in history[0]:
            axes[0].plot(ep, [r[key] for r in history], marker="o", label=label)
    for key, label in (("train_top1", "train"), ("valid_top1", "held-out"), ("ema_valid_top1", "held-out (EMA)")):
        if key in history[0]:
            axes[1].plot(ep, [r[key] for r in history], marker="o", label=label)
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[1].set(xlabel="epoch", ylabel="top-1 (%)", title="accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    path = Path(save_dir) / "curves.png"
    atomic_write(path, buf.getvalue())
    return path
