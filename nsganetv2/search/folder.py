"""The run folder of a search: where each file lives and how it is read and written.

- ``search.json``: settings, problem description, seeds and the fixed HV reference point (atomic writes);
- ``archive.jsonl``: one record per evaluated genome, appended and fsync'd as each is measured (``Archive``);
- ``iter_{k}/candidates.json``: the genomes chosen in iteration k, written *before* they are evaluated, so a
  resumed run finishes the same iteration with the same candidates;
- ``iter_{k}.stats``: the original's ``archive``, ``candidates``, ``hv``, ``surrogate`` plus our bookkeeping; it is
  written last, so its presence marks iteration k complete;
- ``iter_{k}/net_{i}.subnet`` / ``.stats`` (problems that write candidate files), ``failed/it_{k}_net_{i}``.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from nsganetv2.atomic import atomic_write, dumps_fields, remove_stale_temp_files, write_json_atomic
from nsganetv2.search.archive import Archive

__all__ = ["ARCHIVE_FILE", "STATE_FILE", "RunFolder", "read_state"]

log = logging.getLogger(__name__)

STATE_FILE = "search.json"
ARCHIVE_FILE = "archive.jsonl"


def read_state(save_dir: str | os.PathLike) -> dict:
    """The ``search.json`` of a search folder; a ``ValueError`` names the folder or file when it is not one."""
    path = Path(save_dir) / STATE_FILE
    if not path.exists():
        raise ValueError(f"{save_dir} holds no {STATE_FILE}: it is not a search folder")
    try:
        state = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(state, dict) or "problem" not in state:
        raise ValueError(f"{path} is not a search state file (no 'problem' entry)")
    return state


class RunFolder:
    """Paths and file formats of one search folder."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    def exists(self) -> bool:
        return self.state_path.exists()

    def read_state(self) -> dict:
        return read_state(self.path)

    def write_state(self, state: dict) -> None:
        write_json_atomic(self.state_path, state, indent=2)

    def open_archive(self, repair: bool = False) -> Archive:
        return Archive(self.path / ARCHIVE_FILE, repair=repair)

    def clean(self) -> None:
        """Remove temp files left by interrupted atomic writes (the search owns the folder while it runs)."""
        removed = remove_stale_temp_files(self.path)
        if removed:
            log.info("%s: removed %d temp file(s) of interrupted writes", self.path, len(removed))

    # ------------------------------------------------------------------ iterations
    def stats_path(self, k: int) -> Path:
        return self.path / f"iter_{k}.stats"

    def is_done(self, k: int) -> bool:
        return self.stats_path(k).exists()

    def write_stats(self, k: int, stats: dict) -> None:
        """``iter_{k}.stats``; values may be ``RawJSON`` (the archive's rows, encoded once per record)."""
        atomic_write(self.stats_path(k), dumps_fields(stats))

    def read_stats(self, k: int) -> dict:
        return json.loads(self.stats_path(k).read_text())

    def candidates_path(self, k: int) -> Path:
        return self.path / f"iter_{k}" / "candidates.json"

    def load_candidates(self, k: int, n_var: int, integer: bool
                        ) -> tuple[np.ndarray, list | None, dict | None, dict | None] | None:
        """``(genomes, predicted, surrogate, archive_fit)`` recorded for iteration ``k``, or ``None`` when none are."""
        path = self.candidates_path(k)
        if not path.exists():
            return None
        try:
            d = json.loads(path.read_text())
            X = np.asarray(d["genomes"], dtype=np.int64 if integer else float)
            if X.size == 0:
                X = X.reshape(0, n_var)
            if X.ndim != 2 or X.shape[1] != n_var:
                raise ValueError(f"genomes of shape {X.shape}, expected (n, {n_var})")
        except (ValueError, KeyError, TypeError) as exc:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            log.warning("%s is unreadable (%s); moved to %s, iteration %d is proposed again from its seed", path,
                        str(exc).splitlines()[0][:200], aside.name, k)
            return None
        return X, d.get("predicted"), d.get("surrogate"), d.get("archive_fit")

    def save_candidates(self, k: int, X: np.ndarray, predicted: list | None, seeds: dict, surrogate: dict | None,
                        archive_fit: dict | None = None) -> None:
        write_json_atomic(self.candidates_path(k), {"genomes": X, "predicted": predicted, "seeds": seeds,
                                                    "surrogate": surrogate, "archive_fit": archive_fit})

    # ------------------------------------------------------------------ per-candidate files
    def failed_path(self, k: int, i: int) -> Path:
        return self.path / "failed" / f"it_{k}_net_{i}"

    def read_candidate_stats(self, k: int, i: int) -> dict:
        """``iter_{k}/net_{i}.stats`` when it exists and is readable, else ``{}``."""
        path = self.path / f"iter_{k}" / f"net_{i}.stats"
        try:
            stats = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return stats if isinstance(stats, dict) else {}

    def write_candidate_files(self, k: int, i: int, files: dict[str, Any], failed_config: Any = None,
                              only_missing: bool = False) -> None:
        """``iter_{k}/net_{i}<suffix>`` for each file, and ``failed/it_{k}_net_{i}`` for a failure (these can be
        rebuilt from the archive, so they are not fsync'd)."""
        targets = {self.path / f"iter_{k}" / f"net_{i}{suffix}": obj for suffix, obj in files.items()}
        if failed_config is not None:
            targets[self.path / "failed" / f"it_{k}_net_{i}"] = failed_config
        for path, obj in targets.items():
            if not (only_missing and path.exists()):
                write_json_atomic(path, obj, fsync=False)
