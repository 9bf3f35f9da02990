"""Input validation shared by the Python faces of the multi-objective kernels.

Kernels take ``float64`` C-contiguous 2-D arrays and never check anything inside their loops; every check
happens here, once, with an error that names the problem and the fix.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_objectives(F: ArrayLike, name: str = "F", allow_empty: bool = False) -> np.ndarray:
    """Return ``F`` as a C-contiguous float64 (N, M) array, or raise ``ValueError``.

    Integer and float32 inputs are accepted. Complex values are rejected (not silently cut to their real part), and
    NaN or infinite values too, naming the first offending row.
    """
    try:
        A = np.asarray(F)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a 2-D array of objective values (N points x M objectives): {exc}") from exc
    _check_real(A, name)
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


def _check_real(A: np.ndarray, name: str) -> None:
    """``ValueError`` unless ``A`` holds real numbers (bool, int, float): complex, object, strings are refused."""
    if A.dtype.kind == "c":
        raise ValueError(f"{name} holds complex numbers (dtype {A.dtype}); the kernels take real values: "
                         f"pass {name}.real if the imaginary parts are meant to be 0")
    if A.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {A.dtype}")


def as_real_vector(x: ArrayLike, name: str, size: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float64 vector (of ``size`` values when given), or ``ValueError`` naming ``name``."""
    try:
        a = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a 1-D vector of numbers: {exc}") from exc
    _check_real(a, name)
    if a.ndim > 1:
        raise ValueError(f"{name} must be a 1-D vector of {size or 'real'} values, got shape {a.shape}")
    a = np.ascontiguousarray(a.reshape(-1), dtype=np.float64)
    if size is not None and a.shape[0] != size:
        raise ValueError(f"{name} has {a.shape[0]} values but the points have {size} objectives; give one per objective")
    return a


def thread_count(n_threads: object) -> int:
    """``n_threads`` as an int, or ``ValueError``: a positive integer (numpy integers too, bool not)."""
    if not isinstance(n_threads, (int, np.integer)) or isinstance(n_threads, bool) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")
    return int(n_threads)


def as_reference(ref: ArrayLike, n_obj: int) -> np.ndarray:
    """Return the reference point as a float64 vector of length ``n_obj``, or raise ``ValueError``."""
    if np.ndim(ref) > 1:
        raise ValueError(f"ref must be a 1-D vector of {n_obj} values, got shape {np.shape(ref)}")
    r = as_real_vector(ref, "ref")
    if r.shape[0] != n_obj:
        raise ValueError(f"ref has {r.shape[0]} values but the points have {n_obj} objectives; give one per objective")
    if not np.isfinite(r).all():
        raise ValueError(f"ref must be finite, got {r.tolist()}")
    return np.ascontiguousarray(r)
