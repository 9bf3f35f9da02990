"""Deterministic, seeded index splits: the search's held-out split and the BN-calibration subset.

The held-out ("valid") split is drawn from the *training* images only; the search never sees the
test split. ``heldout_split`` reproduces OFA's recipe: the first ``vld_size`` indices of
``torch.randperm(n_train)`` under a generator seeded with ``VALID_SEED``.

The calibration subset follows OFA's ``build_sub_train_loader`` (first ``n_images`` of a randperm seeded
with ``SUB_SEED``) but is drawn from the search-train part only, so BN statistics never see the
held-out images (OFA drew from the whole training set).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

__all__ = ["SUB_SEED", "VALID_SEED", "calibration_subset", "heldout_split"]

log = logging.getLogger(__name__)

VALID_SEED = 2147483647
SUB_SEED = 937162211


def _randperm(n: int, seed: int) -> np.ndarray:
    g = torch.Generator()
    g.manual_seed(int(seed))
    return torch.randperm(n, generator=g).numpy().astype(np.int64)


def heldout_split(n_train: int, vld_size: int, seed: int = VALID_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n_train)`` into (search-train indices, held-out indices), deterministic in ``seed``.

    Both arrays are int64 in permutation order; they are disjoint and cover ``range(n_train)``.
    """
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or n_train < 2:
        raise ValueError(f"n_train must be an int >= 2, got {n_train!r}")
    if isinstance(vld_size, bool) or not isinstance(vld_size, (int, np.integer)):
        raise ValueError(f"vld_size must be an int, got {vld_size!r}")
    if not 0 < vld_size < n_train:
        raise ValueError(
            f"vld_size must be in [1, {n_train - 1}] for {n_train} training images, got {vld_size}; "
            "the search needs a held-out split of the training set (it never uses the test split)"
        )
    perm = _randperm(int(n_train), seed)
    return perm[vld_size:], perm[:vld_size]


def calibration_subset(train_indices: np.ndarray, n_images: int = 2000, seed: int = SUB_SEED) -> np.ndarray:
    """A fixed subset of ``n_images`` of ``train_indices`` (seeded) for BatchNorm recalibration."""
    idx = np.asarray(train_indices, dtype=np.int64).ravel()
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images must be a positive int, got {n_images!r}")
    if idx.size == 0:
        raise ValueError("train_indices is empty: no images to calibrate BatchNorm on")
    if n_images > idx.size:
        log.warning("calibration wants %d images but only %d training images: using all", n_images, idx.size)
        n_images = idx.size
    return idx[_randperm(idx.size, seed)[:n_images]]
