"""torchvision data sets whose integrity check is "the files exist" instead of "md5 of the official files".

torchvision's CIFAR10/CIFAR100/STL10/Flowers102 hash every file on each construction (slow on big files) and
reject any file that is not byte-identical to the official release, which also rules out small
real-format files written by tests. These subclasses check presence only; a truncated or malformed file
still fails when it is parsed, and ``nsganetv2.data.registry`` turns that into a ValueError.
"""

from __future__ import annotations

import os
import pickle

from torchvision.datasets import CIFAR10, CIFAR100, STL10, Flowers102


def _all_files(root: str, folder: str, names) -> bool:
    return all(os.path.isfile(os.path.join(root, folder, n)) for n in names)


class CIFAR10Files(CIFAR10):
    """CIFAR-10 (python version) checked by file presence."""

    def _check_integrity(self) -> bool:
        return _all_files(self.root, self.base_folder, [f for f, _ in self.train_list + self.test_list])

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="latin1")
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
