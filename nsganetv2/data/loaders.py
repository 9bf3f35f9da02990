"""Loaders for search and evaluation: search-train, held-out ("valid") and BN-calibration batches.

``build_loaders`` splits the *training* images into a search-train part and a held-out part
(``heldout_split``), picks a fixed calibration subset of the search-train part (``calibration_subset``)
and returns three loaders that yield ``(images float [B, 3, r, r], labels int64 [B])``:

- ``train``: search-train part, train transform, reshuffled per epoch (``set_epoch``), seeded;
- ``valid``: held-out part, eval transform, fixed order;
- ``calib``: calibration subset, train transform with *fixed* random crops (the same batches on every
  pass), as OFA's BN recalibration uses the training transform.

All randomness derives from seeds: the same seeds give the same batches in any process, with or without
DataLoader workers. Two implementations share one interface (``Loader``):

- ``ImageLoader``: a torch DataLoader over PIL images; each item's random transform runs under a torch /
  random / numpy seed derived from (seed, epoch, image index).
- ``TensorLoader``: the in-memory fast path (mnist5k by default; cifar10/100 and stl10 with
  ``in_memory=True``): uint8 images stay in one tensor and each batch is resized with
  ``torch.nn.functional.interpolate`` (eval) or cropped with one ``grid_sample`` (train), see
  ``transforms.batch_eval`` / ``batch_train``. Colour jitter and RandAugment are not applied there.

The test split is only reachable through ``build_test_loader`` (validation after the search).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .registry import DatasetSpec, get_dataset, get_spec
from .splits import SUB_SEED, VALID_SEED, calibration_subset, heldout_split
from .transforms import TrainAugment, batch_eval, batch_train, eval_resize, eval_transform, train_transform

__all__ = ["ImageLoader", "Loaders", "TensorLoader", "build_loaders", "build_test_loader", "tensor_view"]

log = logging.getLogger(__name__)


def _item_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) % (2**63) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class _Resolution:
    """``resolution`` attribute validated on assignment."""

    _resolution: int

    @property
    def resolution(self) -> int:
        return self._resolution

    @resolution.setter
    def resolution(self, value: int) -> None:
        eval_resize(value)  # raises ValueError on a bad resolution
        self._resolution = int(value)


def _check_batch(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class TensorLoader(_Resolution):
    """Batches of in-memory uint8 images [N, C, H, W], transformed batch-wise at ``resolution``.

    ``resolution`` is read for every batch, so it may be changed between batches (e.g. OFA-style
    random resolution per step); ``ImageLoader`` fixes it when iteration starts.
    """

    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        indices: np.ndarray,
        *,
        resolution: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        batch_size: int,
        train: bool,
        shuffle: bool,
        seed: int = 0,
        augment: TrainAugment | None = None,
        drop_last: bool = False,
    ) -> None:
        self.images, self.targets = images, targets.long()
        self.indices = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        self.resolution = resolution
        self.mean, self.std = tuple(mean), tuple(std)
        self.batch_size = _check_batch("batch_size", batch_size)
        self.train, self.shuffle, self.seed = train, shuffle, int(seed)
        self.augment = augment
        self.drop_last = drop_last
        self.epoch = 0

    @property
    def n_images(self) -> int:
        return int(self.indices.numel())

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n, b = self.n_images, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator()
        g.manual_seed(_item_seed(self.seed, self.epoch))
        order = self.indices[torch.randperm(self.n_images, generator=g)] if self.shuffle else self.indices
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            x = self.images[idx]
            if self.train:
                x = batch_train(x, self.resolution, self.mean, self.std, g, self.augment)
            else:
                x = batch_eval(x, self.resolution, self.mean, self.std)
            yield x, self.targets[idx]


class _SeededSubset(Dataset):
    """``base[indices[k]]`` through ``transform``; random transforms seeded per (seed, epoch, index).

    torchvision's transforms draw from torch's default generator, which is re-seeded per item and
    restored afterwards; ``seed_python`` also seeds ``random`` / ``numpy.random`` (timm RandAugment).
    """

    def __init__(self, base: Dataset, indices: np.ndarray, transform, randomised: bool, seed: int,
                 seed_python: bool = False) -> None:
        self.base, self.indices, self.transform = base, np.asarray(indices, dtype=np.int64), transform
        self.randomised, self.seed, self.epoch, self.seed_python = randomised, seed, 0, seed_python

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, k: int):
        i = int(self.indices[k])
        img, target = self.base[i]
        if not self.randomised:
            return self.transform(img), target
        s = _item_seed(self.seed, self.epoch, i)
        gen = torch.default_generator
        state = gen.get_state()
        if self.seed_python:
            py_state, np_state = random.getstate(), np.random.get_state()
            random.seed(s)
            np.random.seed(s % (2**32))
        try:
            gen.manual_seed(s)
            return self.transform(img), target
        finally:
            gen.set_state(state)
            if self.seed_python:
                random.setstate(py_state)
                np.random.set_state(np_state)


class ImageLoader(_Resolution):
    """A DataLoader over ``indices`` of a PIL-image dataset, with seeded per-item transforms."""

    def __init__(
        self,
        dataset: Dataset,
        indices: np.ndarray,
        *,
        resolution: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        batch_size: int,
        train: bool,
        shuffle: bool,
        seed: int = 0,
        augment: TrainAugment | None = None,
        n_workers: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        self.mean, self.std = tuple(mean), tuple(std)
        self.batch_size = _check_batch("batch_size", batch_size)
        self.train, self.shuffle, self.seed = train, shuffle, int(seed)
        self.augment = augment
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 0:
            raise ValueError(f"n_workers must be an int >= 0, got {n_workers!r}")
        self.n_workers = n_workers
        self.drop_last = drop_last
        self.epoch = 0
        self.resolution = resolution

    @property
    def n_images(self) -> int:
        return int(self.indices.size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n, b = self.n_images, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def _transform(self):
        if self.train:
            return train_transform(self.resolution, self.mean, self.std, self.augment)
        return eval_transform(self.resolution, self.mean, self.std)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches from batch ``start`` on, equal to those of a full iteration (each item's random
        transform is seeded by its index), without loading the skipped images (a resumed training run)."""
        seed_python = bool(self.augment is not None and self.augment.rand_augment)
        subset = _SeededSubset(self.dataset, self.indices, self._transform(), self.train, self.seed, seed_python)
        subset.epoch = self.epoch
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(_item_seed(self.seed, self.epoch))
            order = torch.randperm(len(subset), generator=g).tolist()
        else:
            order = list(range(len(subset)))
        order = order[int(start) * self.batch_size :]
        loader = DataLoader(
            subset,
            batch_size=self.batch_size,
            sampler=order,
            num_workers=self.n_workers,
            drop_last=self.drop_last,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=False,
        )
        for x, y in loader:
            yield x, torch.as_tensor(y, dtype=torch.long)


Loader = TensorLoader | ImageLoader


def tensor_view(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(uint8 images [N, C, H, W], int64 labels) of an in-memory dataset, or None if it has no such view."""
    from ._tv import CIFAR10Files, STL10Files
    from .mnist5k import MNIST5k

    if isinstance(dataset, MNIST5k):
        return dataset.images, dataset.targets
    if isinstance(dataset, CIFAR10Files):  # HWC uint8
        return torch.from_numpy(np.ascontiguousarray(dataset.data)).permute(0, 3, 1, 2), torch.as_tensor(
            dataset.targets, dtype=torch.long
        )
    if isinstance(dataset, STL10Files):  # CHW uint8, stored transposed
        x = torch.from_numpy(np.ascontiguousarray(dataset.data.transpose(0, 1, 3, 2)))
        return x, torch.as_tensor(dataset.labels, dtype=torch.long)
    return None


@dataclass
class Loaders:
    """The three loaders of a search, and the index sets behind them (indices into the training split)."""

    train: Loader
    valid: Loader
    calib: Loader
    n_classes: int
    train_indices: np.ndarray
    vld_indices: np.ndarray
    calib_indices: np.ndarray
    spec: DatasetSpec = field(repr=False)

    def set_resolution(self, resolution: int) -> None:
        """Switch all three loaders to another input resolution."""
        for ld in (self.train, self.valid, self.calib):
            ld.resolution = resolution


def _make(dataset, indices, in_memory, **kw) -> Loader:
    n_workers = kw.pop("n_workers")
    if in_memory:
        view = tensor_view(dataset)
        if view is None:
            raise ValueError(f"in_memory=True is not available for {type(dataset).__name__}; use in_memory=False")
        return TensorLoader(view[0], view[1], indices, **kw)
    return ImageLoader(dataset, indices, n_workers=n_workers, **kw)


def build_loaders(
    name: str,
    root: str | os.PathLike | None = None,
    resolution: int = 224,
    *,
    vld_size: int | None = None,
    batch_size: int = 128,
    eval_batch_size: int | None = None,
    n_calib: int = 2000,
    calib_batch_size: int = 100,
    n_workers: int = 0,
    seed: int = 0,
    valid_seed: int = VALID_SEED,
    calib_seed: int = SUB_SEED,
    augment: TrainAugment | None = None,
    in_memory: bool | None = None,
    calib_train_transform: bool = True,
) -> Loaders:
    """Search-train / held-out / BN-calibration loaders over the training split of ``name``.

    vld_size: held-out images (default: the data set's, e.g. 10000 for ImageNet, 5000 for CIFAR, 1000 for
    mnist5k, 10% for a folder); never 0: the search does not evaluate on the test split.
    seed: train shuffling and augmentation; valid_seed / calib_seed: the fixed splits.
    in_memory: the tensor fast path (default: only mnist5k).
    calib_train_transform: calibrate BN on training-transform crops (OFA; default) or, if False, on the
    eval transform.
    """
    spec = get_spec(name)
    eval_resize(resolution)  # validate before touching the disk
    in_memory = spec.in_memory if in_memory is None else bool(in_memory)
    dataset = get_dataset(spec.name, root, "train")
    n = len(dataset)
    if vld_size is None:
        vld_size = spec.default_vld_size if spec.default_vld_size is not None else max(1, n // 10)
        if vld_size >= n:
            vld_size = max(1, n // 10)
            log.warning("dataset %s has only %d training images: held-out split of %d", spec.name, n, vld_size)
    train_idx, vld_idx = heldout_split(n, vld_size, valid_seed)
    calib_idx = calibration_subset(train_idx, n_calib, calib_seed)
    eval_bs = _check_batch("eval_batch_size", eval_batch_size or batch_size)
    aug = augment or spec.augment
    common = dict(resolution=resolution, mean=spec.mean, std=spec.std, augment=aug, n_workers=n_workers)
    train = _make(dataset, train_idx, in_memory, batch_size=batch_size, train=True, shuffle=True, seed=seed,
                  **common)
    valid = _make(dataset, vld_idx, in_memory, batch_size=eval_bs, train=False, shuffle=False, **common)
    calib = _make(dataset, calib_idx, in_memory, batch_size=calib_batch_size, train=calib_train_transform,
                  shuffle=False, seed=calib_seed, **common)
    classes = getattr(dataset, "classes", None)
    n_classes = spec.n_classes if spec.n_classes is not None else len(classes)  # type: ignore[arg-type]
    return Loaders(train, valid, calib, n_classes, train_idx, vld_idx, calib_idx, spec)


def build_test_loader(
    name: str,
    root: str | os.PathLike | None = None,
    resolution: int = 224,
    *,
    batch_size: int = 128,
    n_workers: int = 0,
    in_memory: bool | None = None,
) -> Loader:
    """The official test split with the eval transform (post-search validation only)."""
    spec = get_spec(name)
    in_memory = spec.in_memory if in_memory is None else bool(in_memory)
    dataset = get_dataset(spec.name, root, "test")
    return _make(dataset, np.arange(len(dataset)), in_memory, resolution=resolution, mean=spec.mean,
                 std=spec.std, batch_size=batch_size, train=False, shuffle=False, n_workers=n_workers)
