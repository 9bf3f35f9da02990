"""Atomic file writes: a temp file in the same folder, flushed (and fsync'd), then ``os.replace``.

Readers see the old content or the new one, never a part; a killed process leaves no half-written file. The one
place in the library that writes result files; it imports nothing of ours.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: str | os.PathLike, data: bytes | str, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (mode 0644); ``fsync=False`` skips the flush to disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(path.parent)
    return path


def _json_default(o: Any) -> Any:
    """numpy scalars and arrays and paths, as JSON values (numpy is imported only when one is met)."""
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):  # numpy arrays and scalars
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that also writes numpy scalars and arrays."""
    return json.dumps(obj, default=_json_default, **kw)


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None, fsync: bool = True) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically.

    ``fsync=False`` skips the flushes to disk (still atomic against a killed process, not against power loss): for
    files that can be rebuilt from the archive.
    """
    return atomic_write(path, dumps(obj, indent=indent), fsync=fsync)


def torch_save_atomic(obj: Any, path: str | os.PathLike, fsync: bool = True) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write(path, buf.getvalue(), fsync=fsync)


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temp files that interrupted atomic writes left under ``folder`` (call only while no other process
    writes there, e.g. when a run resumes); returns what was removed."""
    removed = []
    for tmp in Path(folder).rglob(".*.tmp"):
        if tmp.is_file():
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def fsync_dir(path: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse to open folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
