"""Input checks shared by the surrogate estimators: every problem is a ``ValueError`` that names the fix."""
from __future__ import annotations

import numpy as np


def check_features(X, name: str = "X") -> np.ndarray:
    """Return ``X`` as a C-contiguous float64 (n, d) array of finite numbers, or raise ``ValueError``."""
    try:
        A = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a 2-D numeric array (n samples x d features): {exc}") from exc
    if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == np.bool_):
        raise ValueError(f"{name} must hold numbers, got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n samples x d features), got shape {A.shape}; "
            "reshape a single genome with x.reshape(1, -1)"
        )
    if A.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {A.shape})")
    A = np.ascontiguousarray(A, dtype=np.float64)
    finite = np.isfinite(A)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise ValueError(f"{name} has a NaN or infinite value in row {row}; remove or repair that sample")
    return A


def check_training_data(X, y, min_samples: int, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a training set: finite 2-D ``X``, finite 1-D ``y`` of the same length, enough samples."""
    A = check_features(X)
    t = np.asarray(y, dtype=np.float64) if not isinstance(y, np.ndarray) or y.dtype != object else None
    if t is None:
        raise ValueError("y must hold numbers")
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ValueError(f"y must be 1-D (one target per sample), got shape {t.shape}")
    if t.shape[0] != A.shape[0]:
        raise ValueError(
            f"X has {A.shape[0]} samples but y has {t.shape[0]} targets; pass one target per row of X"
        )
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValueError(
            f"y has {int(bad.sum())} NaN or infinite target(s), first at index {int(np.flatnonzero(bad)[0])}; "
            "drop failed evaluations before fitting"
        )
    if A.shape[0] < min_samples:
        raise ValueError(
            f"{model} needs at least {min_samples} samples for {A.shape[1]} features, got {A.shape[0]}; "
            "evaluate more architectures or use a model that needs fewer samples"
        )
    return A, np.ascontiguousarray(t)


def check_query(X, n_features: int) -> np.ndarray:
    """Validate prediction inputs against the number of features seen in ``fit``."""
    A = check_features(X)
    if A.shape[1] != n_features:
        raise ValueError(f"X has {A.shape[1]} features but the model was fitted on {n_features}")
    return A


def resolve_n_jobs(n_jobs: int | None) -> int:
    """``None`` -> 1, negative -> cpu_count + 1 + n_jobs (scikit-learn convention)."""
    import os

    n_cpu = os.cpu_count() or 1
    if n_jobs is None:
        return 1
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not valid; use a positive count, -1 for all cores or None for one")
    return max(1, n_jobs if n_jobs > 0 else n_cpu + 1 + n_jobs)


def blas_threads(n: int, threshold: int = 2000):
    """Context that holds BLAS to one thread for problems below ``threshold`` rows.

    Small factorisations gain nothing from threads, and on a busy machine OpenBLAS's spinning threads can make
    a 200 x 200 Cholesky take 100x longer than on one thread.
    """
    import contextlib

    from ._radial import blas_single_thread

    return blas_single_thread() if n < threshold else contextlib.nullcontext()
