"""Input validation shared by the Python faces of the multi-objective kernels.

Kernels take ``float64`` C-contiguous 2-D arrays and never check anything inside their loops; every check
happens here, once, with an error that names the problem and the fix.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_objectives(F: ArrayLike, name: str = "F", allow_empty: bool = False) -> np.ndarray:
    """Return ``F`` as a C-contiguous float64 (N, M) array, or raise ``ValueError``.

    Integer and float32 inputs are accepted. NaN or infinite values are rejected, naming the first offending row.
    """
    try:
        A = np.asarray(F)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a 2-D array of objective values (N points x M objectives): {exc}") from exc
    if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == np.bool_):
        raise ValueError(f"{name} must hold numbers, got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (N points x M objectives), got {A.ndim}-D with shape {A.shape}; "
            "reshape a single point with F.reshape(1, -1)"
        )
    if A.shape[1] == 0:
        raise ValueError(f"{name} has no objectives (shape {A.shape}); it needs at least one column")
    if A.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {A.shape}); pass at least one point")
    A = np.ascontiguousarray(A, dtype=np.float64)
    finite = np.isfinite(A)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise ValueError(
            f"{name} has a NaN or infinite value in row {row} ({A[row].tolist()}); "
            "remove or repair that point before sorting"
        )
    return A


def as_reference(ref: ArrayLike, n_obj: int) -> np.ndarray:
    """Return the reference point as a float64 vector of length ``n_obj``, or raise ``ValueError``."""
    r = np.asarray(ref, dtype=np.float64).reshape(-1) if np.ndim(ref) <= 1 else None
    if r is None:
        raise ValueError(f"ref must be a 1-D vector of {n_obj} values, got shape {np.shape(ref)}")
    if r.shape[0] != n_obj:
        raise ValueError(f"ref has {r.shape[0]} values but the points have {n_obj} objectives; give one per objective")
    if not np.isfinite(r).all():
        raise ValueError(f"ref must be finite, got {r.tolist()}")
    return np.ascontiguousarray(r)
