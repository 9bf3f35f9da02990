"""Fine-tuning augmentations that ``nsganetv2.data.transforms`` does not have.

- ``Cutout``: one square hole per image, centre uniform, clipped to the image (DeVries & Taylor), for [C, H, W]
  tensors (PIL path) or whole batches (``cutout_batch``);
- the CIFAR training transform of train_cifar.py: RandomCrop(pad 4), horizontal flip, optional CIFAR10 AutoAugment
  (torchvision's ``AutoAugmentPolicy.CIFAR10``, the 25 standard sub-policies), to [0, 1], optional Cutout,
  Normalize. ``cifar_pil_transform`` is the per-image version; ``cifar_batch`` does the same on uint8 batches.
  The upsampling to ``img_size`` (bicubic) happens later, on the training device (``upsample``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchvision import transforms as T

__all__ = ["Cutout", "cifar_batch", "cifar_pil_transform", "cutout_batch", "upsample"]


def _hole_boxes(n: int, h: int, w: int, length: int, generator: torch.Generator | None) -> torch.Tensor:
    cy = torch.randint(0, h, (n,), generator=generator)
    cx = torch.randint(0, w, (n,), generator=generator)
    half = length // 2
    return torch.stack([(cy - half).clamp(0, h), (cy + half).clamp(0, h),
                        (cx - half).clamp(0, w), (cx + half).clamp(0, w)], dim=1)


def cutout_batch(x: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one ``length`` x ``length`` square per image of a batch [N, C, H, W] (returns a new tensor)."""
    if x.dim() != 4:
        raise ValueError(f"cutout_batch expects [N, C, H, W], got shape {tuple(x.shape)}")
    if length < 1:
        raise ValueError(f"cutout length must be >= 1, got {length}")
    n, _, h, w = x.shape
    boxes = _hole_boxes(n, h, w, length, generator)
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    inside = ((ys >= boxes[:, 0, None, None]) & (ys < boxes[:, 1, None, None])
              & (xs >= boxes[:, 2, None, None]) & (xs < boxes[:, 3, None, None]))
    return x.masked_fill(inside[:, None].to(x.device), 0.0)


class Cutout:
    """Per-image Cutout on a [C, H, W] tensor (torch's global RNG), as in train_cifar.py."""

    def __init__(self, length: int = 16) -> None:
        if length < 1:
            raise ValueError(f"cutout length must be >= 1, got {length}")
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return cutout_batch(img[None], self.length)[0]

    def __repr__(self) -> str:
        return f"Cutout(length={self.length})"


def cifar_pil_transform(crop: int, mean: Sequence[float], std: Sequence[float], autoaugment: bool = False,
                        cutout: int | None = None) -> T.Compose:
    """RandomCrop(crop, pad 4), flip, [AutoAugment CIFAR10], ToTensor, [Cutout], Normalize (PIL in)."""
    ops: list = [T.RandomCrop(crop, padding=4, pad_if_needed=True), T.RandomHorizontalFlip()]
    if autoaugment:
        ops.append(T.AutoAugment(T.AutoAugmentPolicy.CIFAR10))
    ops.append(T.ToTensor())
    if cutout:
        ops.append(Cutout(cutout))
    ops.append(T.Normalize(list(mean), list(std)))
    return T.Compose(ops)


def cifar_batch(images: torch.Tensor, mean: Sequence[float], std: Sequence[float], generator: torch.Generator,
                autoaugment: bool = False, cutout: int | None = None) -> torch.Tensor:
    """The CIFAR training transform on a uint8 batch [N, C, H, W] (grey becomes 3 channels), native size.

    Crops and flips draw from ``generator``; AutoAugment draws from torch's global RNG (seeded per epoch by the
    trainer), per image.
    """
    if images.dim() != 4 or images.dtype != torch.uint8:
        raise ValueError(f"cifar_batch expects a uint8 batch [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
    x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator).tolist()
    dx = torch.randint(0, 9, (n,), generator=generator).tolist()
    flip = (torch.rand(n, generator=generator) < 0.5).tolist()
    out = torch.empty((n, 3, h, w), dtype=torch.uint8)
    aa = T.AutoAugment(T.AutoAugmentPolicy.CIFAR10) if autoaugment else None
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        if flip[i]:
            crop = crop.flip(-1)
        out[i] = aa(crop) if aa is not None else crop
    y = out.float().div_(255.0)
    if cutout:
        y = cutout_batch(y, cutout, generator)
    m = torch.as_tensor(mean, dtype=y.dtype).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=y.dtype).view(1, -1, 1, 1)
    return (y - m) / s


def upsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bicubic resize of a batch to ``size`` x ``size`` (no-op when it already has that size)."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
