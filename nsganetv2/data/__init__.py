"""Data: dataset registry, transforms per resolution, deterministic held-out split, loaders.

Quick use::

    from nsganetv2.data import build_loaders
    lds = build_loaders("mnist5k", resolution=32, vld_size=1000)
    for x, y in lds.valid: ...
"""

from .loaders import ImageLoader, Loaders, TensorLoader, build_loaders, build_test_loader, tensor_view
from .mnist5k import MNIST5k, load_mnist5k
from .registry import DATASETS, DatasetSpec, dataset_names, get_dataset, get_spec, num_classes
from .splits import SUB_SEED, VALID_SEED, calibration_subset, heldout_split
from .transforms import TrainAugment, batch_eval, batch_train, eval_resize, eval_transform, train_transform

__all__ = [
    "DATASETS",
    "SUB_SEED",
    "VALID_SEED",
    "DatasetSpec",
    "ImageLoader",
    "Loaders",
    "MNIST5k",
    "TensorLoader",
    "TrainAugment",
    "batch_eval",
    "batch_train",
    "build_loaders",
    "build_test_loader",
    "calibration_subset",
    "dataset_names",
    "eval_resize",
    "eval_transform",
    "get_dataset",
    "get_spec",
    "heldout_split",
    "load_mnist5k",
    "num_classes",
    "tensor_view",
    "train_transform",
]
