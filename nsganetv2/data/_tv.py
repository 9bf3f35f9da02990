"""torchvision data sets whose integrity check is "the files exist" instead of "md5 of the official files".

torchvision's CIFAR10/CIFAR100/STL10/Flowers102 hash every file on each construction (slow on big files) and
reject any file that is not byte-identical to the official release, which also rules out small
real-format files written by tests. These subclasses check presence only; a truncated or malformed file
still fails when it is parsed, and ``nsganetv2.data.registry`` turns that into a ValueError.

The CIFAR files are Python pickles: they are read with an unpickler that builds numpy arrays, lists, dicts and
strings and nothing else (torchvision's plain ``pickle.load`` would run whatever a crafted file names).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
from torchvision.datasets import CIFAR10, CIFAR100, STL10, Flowers102

# what a pickled numpy array needs (numpy 1 and 2 module names); everything else is refused
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a data file has no use for")
        return super().find_class(module, name)


def load_pickle(path: str) -> Any:
    """A CIFAR-style pickle (dicts, lists, strings, numbers, numpy arrays); ValueError for anything else."""
    with open(path, "rb") as f:
        try:
            return _ArrayUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as exc:
            raise ValueError(f"{path} is not a plain data pickle ({exc}): refused, since loading it could run "
                             "code; download the official python-version archive again") from None


def _all_files(root: str, folder: str, names) -> bool:
    return all(os.path.isfile(os.path.join(root, folder, n)) for n in names)


class CIFAR10Files(CIFAR10):
    """CIFAR-10 (python version) checked by file presence, read with the array-only unpickler."""

    def __init__(self, root: str, train: bool = True, transform: Any = None, target_transform: Any = None,
                 download: bool = False) -> None:
        if download:
            raise ValueError("CIFAR10Files reads files already on disk; download with torchvision's CIFAR10")
        super(CIFAR10, self).__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted.")
        data, self.targets = [], []
        for name, _ in self.train_list if train else self.test_list:
            entry = load_pickle(os.path.join(self.root, self.base_folder, name))
            data.append(entry["data"])
            self.targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # HWC, as torchvision's
        self._load_meta()

    def _check_integrity(self) -> bool:
        return _all_files(self.root, self.base_folder, [f for f, _ in self.train_list + self.test_list])

    def _load_meta(self) -> None:
        data = load_pickle(os.path.join(self.root, self.base_folder, self.meta["filename"]))
        self.classes = data[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


class CIFAR100Files(CIFAR100, CIFAR10Files):
    """CIFAR-100 (python version, fine labels) checked by file presence."""

    _check_integrity = CIFAR10Files._check_integrity
    _load_meta = CIFAR10Files._load_meta


class STL10Files(STL10):
    """STL-10 (binary version) checked by file presence."""

    def _check_integrity(self) -> bool:
        return _all_files(self.root, self.base_folder, [f for f, _ in self.train_list[:2] + self.test_list])


class Flowers102Files(Flowers102):
    """Oxford Flowers-102 checked by file presence."""

    def _check_integrity(self) -> bool:
        if not self._images_folder.is_dir():
            return False
        return all((self._base_folder / self._file_dict[k][0]).is_file() for k in ("label", "setid"))
