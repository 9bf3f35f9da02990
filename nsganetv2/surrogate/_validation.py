"""Input checks shared by the surrogates, over ``sklearn.utils.validation.validate_data``.

scikit-learn does the conversion (dense float64, C order; sparse, complex and non-numeric input refused) and
records ``n_features_in_`` / ``feature_names_in_``; the checks here add errors that name the offending row and
the fix. Every problem is a ``ValueError``.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import column_or_1d, validate_data

_NUMERIC_KINDS = frozenset("biuf")


def _refuse_1d(X: Any, name: str = "X") -> None:
    """A clearer error than scikit-learn's for the common slip of passing one genome as a 1-D array."""
    if getattr(X, "ndim", None) == 1:
        raise ValueError(
            f"{name} must be 2-D (n samples x d features), got shape {X.shape}. "
            "Reshape your data: a single sample with x.reshape(1, -1)"
        )


def _check_finite_rows(A: np.ndarray, name: str = "X") -> None:
    finite = np.isfinite(A)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise ValueError(f"{name} has a NaN or infinite value in row {row}; remove or repair that sample")


def validate_training_data(est: Any, X: ArrayLike, y: ArrayLike, min_samples: int | None = None,
                           model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(X, y)`` for ``est.fit`` and record ``n_features_in_`` (and ``feature_names_in_``).

    Returns C-contiguous float64 ``X`` (n, d) and ``y`` (n,); ``min_samples`` defaults to
    ``est.min_samples(d)``, ``model`` (used in the messages) to ``est._describe_model()``.
    """
    _refuse_1d(X)
    x_params = {"dtype": np.float64, "order": "C", "ensure_all_finite": False}
    y_params = {"dtype": np.float64, "ensure_2d": False, "ensure_all_finite": False}
    X, t = validate_data(est, X, y, validate_separately=(x_params, y_params))
    if t.ndim == 2 and t.shape[1] != 1 or t.ndim > 2:
        raise ValueError(f"y must be 1-D (one target per sample), got shape {t.shape}")
    t = column_or_1d(t, warn=True)  # an (n, 1) column: DataConversionWarning, then used as (n,)
    if t.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {t.shape[0]} targets; pass one target per row of X")
    _check_finite_rows(X)
    bad = ~np.isfinite(t)
    if bad.any():
        raise ValueError(
            f"y has {int(bad.sum())} NaN or infinite target(s), first at index {int(np.flatnonzero(bad)[0])}; "
            "drop failed evaluations before fitting"
        )
    n, d = X.shape
    need = est.min_samples(d) if min_samples is None else int(min_samples)
    if n < need:
        what = est._describe_model() if model is None else model
        raise ValueError(
            f"{what} needs at least {need} samples for {d} features, got n_samples = {n}; "
            "evaluate more architectures or use a model that needs fewer samples"
        )
    return X, np.ascontiguousarray(t)


def validate_query(est: Any, X: ArrayLike) -> np.ndarray:
    """Validate prediction inputs against what ``est`` saw in ``fit``; C-contiguous float64 (m, d).

    A plain numeric 2-D ndarray of the fitted width (the search loop's case) skips ``validate_data``, whose
    checks it would pass unchanged; anything else goes through it.
    """
    n_features = est.n_features_in_
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] != n_features:
        raise ValueError(
            f"X has {shape[1]} features, but {type(est).__name__} is expecting {n_features} features as input "
            f"(it was fitted on {n_features}); pass the same feature columns as in fit"
        )
    if (type(X) is np.ndarray and X.ndim == 2 and X.dtype.kind in _NUMERIC_KINDS and X.shape[0] > 0
            and not hasattr(est, "feature_names_in_")):
        A = np.ascontiguousarray(X, dtype=np.float64)
    else:
        _refuse_1d(X)
        A = validate_data(est, X, reset=False, dtype=np.float64, order="C", ensure_all_finite=False)
    _check_finite_rows(A)
    return A


def resolve_n_jobs(n_jobs: int | None) -> int:
    """``None`` -> 1, negative -> cpu_count + 1 + n_jobs (scikit-learn convention)."""
    n_cpu = os.cpu_count() or 1
    if n_jobs is None:
        return 1
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is not valid; use a positive count, -1 for all cores or None for one")
    return max(1, n_jobs if n_jobs > 0 else n_cpu + 1 + n_jobs)


def blas_threads(n: int, threshold: int = 2000) -> contextlib.AbstractContextManager[Any]:
    """Context that holds BLAS to one thread for problems below ``threshold`` rows.

    Small factorisations gain nothing from threads, and on a busy machine OpenBLAS's spinning threads can make
    them far slower than on one thread.
    """
    from ._radial import blas_single_thread

    return blas_single_thread() if n < threshold else contextlib.nullcontext()
