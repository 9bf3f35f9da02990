"""The search archive: append-only JSON lines, one record per unique canonical genome, fsync'd per write.

A record is ``{"key", "genome", "config", "objectives", "stats", "iteration", "status", "error", ...}`` with
``status`` ``"ok"`` or ``"failed"`` (``objectives`` is ``null`` for failures). Loading skips a corrupt or
truncated line (as a SIGKILL mid-write leaves) with a warning naming its line number and keeps every valid record.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np

from nsganetv2.atomic import atomic_write, dumps, fsync_dir

log = logging.getLogger(__name__)

__all__ = ["Archive", "ArchiveColumns", "read_records"]

REQUIRED_KEYS = ("key", "genome", "status")


def read_records(path: str | os.PathLike, repair: bool = False) -> list[dict]:
    """All valid records of an archive file, in order; corrupt lines are logged (with line number) and skipped.

    With ``repair`` (the search that owns the file, on resume) the corrupt lines are cut out once: they are appended
    to ``<archive>.cut`` and the file is rewritten without them, so they are not warned about at every start.
    A repeated key keeps its first record, except that a successful record replaces a failed one (a failure
    re-evaluated with ``--retry_failed``).
    """
    path = Path(path)
    if not path.exists():
        return []
    records, seen, good, bad = [], {}, [], []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or any(k not in rec for k in REQUIRED_KEYS):
                    raise ValueError(f"not a record with keys {REQUIRED_KEYS}")
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                log.warning("%s: line %d is corrupt or truncated and was skipped (%s)", path, lineno, exc)
                bad.append(raw if raw.endswith(b"\n") else raw + b"\n")
                continue
            good.append(raw if raw.endswith(b"\n") else raw + b"\n")
            if rec["key"] in seen:
                j = seen[rec["key"]]
                if records[j]["status"] != "ok" and rec["status"] == "ok":
                    records[j] = rec  # a retried failure
                else:
                    log.warning("%s: line %d repeats key %s; keeping the first record", path, lineno, rec["key"])
                continue
            seen[rec["key"]] = len(records)
            records.append(rec)
    if repair and bad:
        cut = path.with_name(path.name + ".cut")
        with open(cut, "ab") as f:
            f.write(b"".join(bad))
            f.flush()
            os.fsync(f.fileno())
        atomic_write(path, b"".join(good))
        log.warning("%s: %d corrupt line(s) cut out and kept in %s", path, len(bad), cut.name)
    return records


@dataclass(frozen=True)
class ArchiveColumns:
    """The archive as arrays, one row per record in archive order: genomes, objectives in the order asked for (NaN
    rows for failures), iteration and index (0 where a record has none) and the success mask."""

    genomes: np.ndarray
    F: np.ndarray
    iteration: np.ndarray
    index: np.ndarray
    ok: np.ndarray

    def __len__(self) -> int:
        return len(self.ok)

    def select(self, upto: int | None = None) -> np.ndarray:
        """Rows of the successful records (of iterations up to ``upto``) in (iteration, index) order: the order
        results were told in does not matter."""
        rows = np.flatnonzero(self.ok if upto is None else self.ok & (self.iteration <= upto))
        return rows[np.lexsort((self.index[rows], self.iteration[rows]))]


def _columns_of(records: list[dict], names: tuple[str, ...]) -> ArchiveColumns:
    ok = np.array([r["status"] == "ok" for r in records], dtype=bool)
    F = np.array([[r["objectives"][n] for n in names] if r["status"] == "ok" else [np.nan] * len(names)
                  for r in records], dtype=float).reshape(-1, len(names))
    return ArchiveColumns(np.array([r["genome"] for r in records]),
                          F, np.array([r.get("iteration", 0) for r in records], dtype=np.int64),
                          np.array([r.get("index", 0) for r in records], dtype=np.int64), ok)


def _concat(a: ArchiveColumns, b: ArchiveColumns) -> ArchiveColumns:
    if not len(a):
        return b
    return ArchiveColumns(*(np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(ArchiveColumns)))


class Archive:
    """Evaluated genomes, keyed by canonical genome, backed by an append-only JSONL file (or memory only)."""

    def __init__(self, path: str | os.PathLike | None = None, repair: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.records: list[dict] = read_records(self.path, repair) if self.path is not None else []
        self._index = {r["key"]: i for i, r in enumerate(self.records)}
        self._columns: dict[tuple[str, ...], ArchiveColumns] = {}
        self._fh = None

    # ---------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[dict]:
        return iter(self.records)

    def keys(self) -> set[str]:
        return set(self._index)

    def get(self, key: str) -> dict | None:
        i = self._index.get(key)
        return None if i is None else self.records[i]

    def ok(self) -> list[dict]:
        return [r for r in self.records if r["status"] == "ok"]

    def columns(self, objective_names: tuple[str, ...] | list[str]) -> ArchiveColumns:
        """Every record as arrays (:class:`ArchiveColumns`), kept up to date as records are added: a large archive
        is not converted again at each iteration."""
        names = tuple(objective_names)
        have = self._columns.get(names)
        n = 0 if have is None else len(have)
        if have is None or n < len(self.records):
            more = _columns_of(self.records[n:], names)
            have = more if have is None else _concat(have, more)
            self._columns[names] = have
        return have

    def arrays(self, objective_names: tuple[str, ...] | list[str], iterations: tuple[int, ...] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(genomes, objectives) of the successful records, objectives as an (N, M) array in the given order."""
        c = self.columns(objective_names)
        rows = c.ok if iterations is None else c.ok & np.isin(c.iteration, iterations)
        if not rows.any():
            return np.zeros((0, 0)), np.zeros((0, c.F.shape[1]))
        return c.genomes[rows], c.F[rows]

    # ---------------------------------------------------------------- writing
    def _open(self):
        if self._fh is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self._fh = open(self.path, "ab")
            if not new and self.path.stat().st_size > 0:
                with open(self.path, "rb") as f:  # a truncated last line must not swallow the next record
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        self._fh.write(b"\n")
            if new:
                fsync_dir(self.path.parent)
        return self._fh

    def append(self, record: dict, replace_failed: bool = False) -> bool:
        """Add a record (durably, when file-backed). Returns False, writing nothing, if its key is present, unless
        ``replace_failed`` and the present record is a failure: then the new one supersedes it."""
        return self.extend([record], replace_failed) == 1

    def extend(self, records: list[dict], replace_failed: bool = False) -> int:
        """Add records whose keys are new (or replace failures, see ``append``) with one fsync for all; returns how
        many were added."""
        return len(self.add(records, replace_failed))

    def add(self, records: list[dict], replace_failed: bool = False) -> list[dict]:
        """``extend``, returning the records it added (in the order given)."""
        new, keys = [], set()
        for record in records:
            missing = [k for k in REQUIRED_KEYS if k not in record]
            if missing:
                raise ValueError(f"archive record lacks {missing}; give at least {REQUIRED_KEYS}")
            key = record["key"]
            old = self.get(key)
            if key in keys or (old is not None and not (replace_failed and old["status"] != "ok")):
                continue
            keys.add(key)
            new.append(record)
        if not new:
            return []
        if self.path is not None:
            fh = self._open()
            fh.write(b"".join(dumps(r).encode() + b"\n" for r in new))
            fh.flush()
            os.fsync(fh.fileno())
        for record in new:
            i = self._index.get(record["key"])
            if i is None:
                self._index[record["key"]] = len(self.records)
                self.records.append(record)
            else:
                self.records[i] = record
                self._columns = {}  # a replaced failure: convert again
        return new

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
