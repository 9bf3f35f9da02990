"""Atomic file writes: a temp file in the same folder, flushed (and fsync'd), then ``os.replace``; and the one safe
reader of torch files.

Readers see the old content or the new one, never a part; a killed process leaves no half-written file. The one
place in the library that writes result files, and the one that reads torch files (``torch_load_safe``: tensors and
plain values only, never pickled code); it imports nothing of ours.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import warnings
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


class RawJSON(str):
    """Text that is already JSON: :func:`dumps_fields` writes it as it is (a large part encoded once and reused)."""


def dumps_fields(obj: dict) -> str:
    """``dumps`` of a dict whose values may be :class:`RawJSON` (the same text ``dumps`` gives for the decoded
    values)."""
    return "{" + ", ".join(f"{json.dumps(str(k))}: {v if isinstance(v, RawJSON) else dumps(v)}"
                           for k, v in obj.items()) + "}"


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


def torch_load_safe(path: str | os.PathLike, what: str = "torch file", map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: tensors, numbers, strings, bytes, lists, tuples, sets and dicts only.

    A file that pickles anything else (a class, a function: what a crafted file uses to run code on load) is refused
    before any of it runs. Every failure is a one-line ``ValueError`` that names ``what`` and the file: missing,
    truncated or not a torch file, or holding Python objects.
    """
    import pickle

    import torch

    if not os.path.isfile(path):
        raise ValueError(f"{what} {path} does not exist (or is not a file)")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": harmless, says nothing to our users
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        glob = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if glob:
            raise ValueError(
                f"{what} {path} holds pickled Python objects, not only tensors (it names {glob.group(1)}): refused, "
                "since loading it could run code; if you trust it, re-save it as tensors "
                "(torch.save(model.state_dict(), f))"
            ) from None
        other = re.search(r"^\s*(Unsupported [^\n]*?)\s*$", str(exc), flags=re.M)
        raise ValueError(_unreadable(what, path, other.group(1) if other else exc)) from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, another format, empty file: all the same to the caller
        raise ValueError(_unreadable(what, path, exc)) from None


def _unreadable(what: str, path: str | os.PathLike, exc: BaseException | str) -> str:
    if isinstance(exc, str):
        reason = exc
    else:
        first = (str(exc).strip().splitlines() or [""])[0].split(". ")[0][:160]  # torch's first sentence
        reason = f"{type(exc).__name__}{': ' + first if first else ''}"
    return (f"{what} {path} is not a readable torch file (truncated, corrupt or another format: {reason}); "
            "write or download it again")


def fsync_dir(path: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse to open folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
