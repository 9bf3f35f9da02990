"""Data for fine-tuning, sharded over the processes of a (torchrun) run.

The training images are the search's *search-train* part of the training split (the held-out part, the same
deterministic ``heldout_split`` as the search, is used to pick the best epoch); the test split is only used once,
at the end. Evaluation uses the search's eval transform: one definition for search, validation and fine-tuning
(the original's three scripts each had their own, so a network's accuracy changed between them).

Training batches: each epoch one global permutation (seeded by ``(seed, epoch)``), cut into ``world`` equal
shards (the tail that does not fill a batch on every rank is dropped, so all ranks take the same number of steps);
the evaluation shards are ``indices[rank::world]`` and the results are summed over ranks by the trainer.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from nsganetv2.data import (DatasetSpec, ImageLoader, TensorLoader, TrainAugment, batch_train, get_dataset,
                            get_spec, heldout_split, tensor_view, train_transform)

from .augment import cifar_batch, cifar_pil_transform

__all__ = ["FinetuneData", "ShardedImageTrain", "ShardedTensorTrain", "build_finetune_data", "item_seed"]

log = logging.getLogger(__name__)


def item_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (same value in every process)."""
    return int(np.random.SeedSequence([int(p) % (2**63) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


def _shard(indices: np.ndarray, seed: int, epoch: int, rank: int, world: int, batch_size: int) -> np.ndarray:
    g = torch.Generator().manual_seed(item_seed(seed, epoch))
    perm = indices[torch.randperm(indices.size, generator=g).numpy()]
    per_rank = (indices.size // world) // batch_size * batch_size
    if per_rank == 0:
        raise ValueError(f"{indices.size} training images cannot give every one of {world} processes a full "
                         f"batch of {batch_size}; lower --batch-size")
    return perm[rank * per_rank:(rank + 1) * per_rank]


class _ShardedTrain:
    """This process's shard of each epoch's training permutation, in full batches (see the module docstring)."""

    def __init__(self, indices: np.ndarray, batch_size: int, seed: int, rank: int, world: int) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = batch_size
        self.seed, self.rank, self.world, self.epoch = seed, rank, world, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return (self.indices.size // self.world) // self.batch_size

    def _mine(self) -> np.ndarray:
        """This epoch's indices of this process."""
        return _shard(self.indices, self.seed, self.epoch, self.rank, self.world, self.batch_size)


class ShardedTensorTrain(_ShardedTrain):
    """Training batches from in-memory uint8 images; ``transform(uint8 batch, generator) -> float batch``."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, indices: np.ndarray, batch_size: int,
                 transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor], *, seed: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        super().__init__(indices, batch_size, seed, rank, world)
        self.images, self.targets = images, targets.long()
        self.transform = transform

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        mine = torch.from_numpy(self._mine())
        g = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, self.rank, 1))
        for k in range(len(self)):
            idx = mine[k * self.batch_size:(k + 1) * self.batch_size]
            yield self.transform(self.images[idx], g), self.targets[idx]


class _Transformed(Dataset):
    def __init__(self, base: Dataset, transform: Callable) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int):
        img, target = self.base[i]
        return self.transform(img), target


class ShardedImageTrain(_ShardedTrain):
    """Training batches from a PIL-image dataset through a DataLoader (per-epoch seeded workers)."""

    def __init__(self, dataset: Dataset, indices: np.ndarray, batch_size: int, transform: Callable, *,
                 seed: int = 0, rank: int = 0, world: int = 1, n_workers: int = 0) -> None:
        super().__init__(indices, batch_size, seed, rank, world)
        self.dataset = _Transformed(dataset, transform)
        self.n_workers = n_workers

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        mine = self._mine().tolist()
        g = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, self.rank, 2))
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=mine, num_workers=self.n_workers,
                            drop_last=True, generator=g, pin_memory=torch.cuda.is_available())
        for x, y in loader:
            yield x, torch.as_tensor(y, dtype=torch.long)


@dataclass
class FinetuneData:
    """Loaders of one process: ``train`` (its shard), ``valid`` (held-out shard), ``test()`` (test shard)."""

    train: ShardedTensorTrain | ShardedImageTrain
    valid: TensorLoader | ImageLoader
    n_classes: int
    spec: DatasetSpec
    upsample_to: int | None  # CIFAR recipe: bicubic resize of training batches on the device
    root: str | os.PathLike | None
    resolution: int
    eval_batch_size: int
    in_memory: bool
    rank: int = 0
    world: int = 1
    n_workers: int = 0

    def test(self) -> TensorLoader | ImageLoader:
        ds = get_dataset(self.spec.name, self.root, "test")
        return _eval_loader(ds, np.arange(len(ds))[self.rank::self.world], self.in_memory, self.spec,
                            self.resolution, self.eval_batch_size, self.n_workers)


def _eval_loader(ds: Dataset, indices: np.ndarray, in_memory: bool, spec: DatasetSpec, resolution: int,
                 batch_size: int, n_workers: int) -> TensorLoader | ImageLoader:
    kw = dict(resolution=resolution, mean=spec.mean, std=spec.std, batch_size=batch_size, train=False,
              shuffle=False)
    if in_memory:
        images, targets = tensor_view(ds)  # type: ignore[misc]
        return TensorLoader(images, targets, indices, **kw)
    return ImageLoader(ds, indices, n_workers=n_workers, **kw)


def build_finetune_data(recipe: str, dataset: str, root: str | os.PathLike | None, resolution: int, *,
                        batch_size: int, eval_batch_size: int = 200, vld_size: int | None = None, seed: int = 0,
                        rank: int = 0, world: int = 1, n_workers: int = 0, autoaugment: bool = False,
                        cutout: int | None = None, rand_augment: str | None = None,
                        in_memory: bool | None = None) -> FinetuneData:
    """Sharded training loader for ``recipe`` ("cifar" or "imagenet") plus held-out and test loaders.

    in_memory: batch transforms on the uint8 tensors (default where the data set has them: mnist5k, cifar10/100,
    stl10); False forces the per-image PIL path (the only one applying RandAugment).
    """
    spec = get_spec(dataset)
    ds = get_dataset(spec.name, root, "train")
    n = len(ds)
    if vld_size is None:
        vld_size = spec.default_vld_size if spec.default_vld_size is not None else max(1, n // 10)
        vld_size = vld_size if vld_size < n else max(1, n // 10)
    train_idx, vld_idx = heldout_split(n, vld_size)
    n_classes = spec.n_classes if spec.n_classes is not None else len(ds.classes)  # type: ignore[attr-defined]
    view = tensor_view(ds) if in_memory is not False else None
    if in_memory and view is None:
        raise ValueError(f"{spec.name} has no in-memory tensors; drop --in-memory")
    in_memory = view is not None
    common = dict(seed=seed, rank=rank, world=world)
    upsample_to: int | None = None
    if recipe == "cifar":
        upsample_to = resolution
        if in_memory:
            def tf(x, g):
                return cifar_batch(x, spec.mean, spec.std, g, autoaugment=autoaugment, cutout=cutout)
            train = ShardedTensorTrain(view[0], view[1], train_idx, batch_size, tf, **common)
        else:
            first = ds[int(train_idx[0])][0]
            crop = min(first.size)
            ptf = cifar_pil_transform(crop, spec.mean, spec.std, autoaugment=autoaugment, cutout=cutout)
            train = ShardedImageTrain(ds, train_idx, batch_size, ptf, n_workers=n_workers, **common)
    elif recipe == "imagenet":
        aug = TrainAugment(rand_augment=rand_augment)
        if in_memory:
            if rand_augment:
                log.info("RandAugment is not applied on the in-memory path of %s", spec.name)

            def tf(x, g):
                return batch_train(x, resolution, spec.mean, spec.std, g, aug)
            train = ShardedTensorTrain(view[0], view[1], train_idx, batch_size, tf, **common)
        else:
            ptf = train_transform(resolution, spec.mean, spec.std, aug)
            train = ShardedImageTrain(ds, train_idx, batch_size, ptf, n_workers=n_workers, **common)
    else:
        raise ValueError(f"unknown recipe {recipe!r}; use 'cifar' or 'imagenet'")
    valid = _eval_loader(ds, vld_idx[rank::world], in_memory, spec, resolution, eval_batch_size, n_workers)
    return FinetuneData(train, valid, n_classes, spec, upsample_to, root, resolution, eval_batch_size, in_memory,
                        rank, world, n_workers)
