"""Train and eval transforms per resolution, for PIL images and for in-memory tensor batches.

Eval (every dataset, one definition for search and validation): resize the shorter side to
``ceil(r / 0.875)``, centre crop ``r``, to tensor, normalise. Train: random resized crop ``r``
(scale (0.08, 1) by default), horizontal flip, optionally the "tf" colour jitter of OFA
(brightness 32/255, saturation 0.5) or timm RandAugment (``"rand-m9-mstd0.5"``, translate 0.45 r).

The batched functions (``batch_eval``, ``batch_train``) do the same on uint8 tensor batches with
``torch.nn.functional.interpolate`` / ``grid_sample``; they are the fast path for small in-memory
data sets (mnist5k) and agree with the PIL path to within uint8 rounding (eval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

__all__ = [
    "CROP_RATIO",
    "TrainAugment",
    "batch_eval",
    "batch_train",
    "eval_resize",
    "eval_transform",
    "train_transform",
]

CROP_RATIO = 0.875


def _check_resolution(resolution: int) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ValueError(f"resolution must be a positive int (pixels), got {resolution!r}")
    return resolution


def eval_resize(resolution: int) -> int:
    """Shorter-side size before the centre crop: ``ceil(r / 0.875)``."""
    return int(math.ceil(_check_resolution(resolution) / CROP_RATIO))


@dataclass(frozen=True)
class TrainAugment:
    """Options of the training transform.

    scale: RandomResizedCrop area range; ratio: aspect-ratio range; flip: horizontal flip;
    color_jitter: ``None`` or ``"tf"`` (OFA's brightness 32/255, saturation 0.5);
    rand_augment: ``None`` or a timm RandAugment string such as ``"rand-m9-mstd0.5"``.
    """

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    flip: bool = True
    color_jitter: str | None = None
    rand_augment: str | None = None

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {self.scale}")
        if not 0.0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < lo <= hi, got {self.ratio}")
        if self.color_jitter not in (None, "tf"):
            raise ValueError(f"color_jitter must be None or 'tf', got {self.color_jitter!r}")


def eval_transform(
    resolution: int,
    mean: Sequence[float],
    std: Sequence[float],
    interpolation: InterpolationMode = InterpolationMode.BILINEAR,
) -> T.Compose:
    """Resize(ceil(r / 0.875)), CenterCrop(r), ToTensor, Normalize (PIL image in, float tensor out)."""
    r = _check_resolution(resolution)
    return T.Compose(
        [
            T.Resize(eval_resize(r), interpolation=interpolation),
            T.CenterCrop(r),
            T.ToTensor(),
            T.Normalize(list(mean), list(std)),
        ]
    )


def train_transform(
    resolution: int,
    mean: Sequence[float],
    std: Sequence[float],
    augment: TrainAugment | None = None,
    interpolation: InterpolationMode = InterpolationMode.BILINEAR,
) -> T.Compose:
    """RandomResizedCrop(r) + flip (+ "tf" jitter or RandAugment), ToTensor, Normalize."""
    r = _check_resolution(resolution)
    aug = augment or TrainAugment()
    ops: list = [T.RandomResizedCrop(r, scale=aug.scale, ratio=aug.ratio, interpolation=interpolation)]
    if aug.flip:
        ops.append(T.RandomHorizontalFlip())
    if aug.color_jitter == "tf":
        ops.append(T.ColorJitter(brightness=32.0 / 255.0, saturation=0.5))
    if aug.rand_augment:
        from PIL import Image
        from timm.data.auto_augment import rand_augment_transform

        hparams = {
            "translate_const": int(r * 0.45),
            "img_mean": tuple(round(255 * m) for m in mean),
            "interpolation": Image.BICUBIC,
        }
        ops.append(rand_augment_transform(aug.rand_augment, hparams))
    ops += [T.ToTensor(), T.Normalize(list(mean), list(std))]
    return T.Compose(ops)


def _normalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    m = torch.as_tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def _to_float3(x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4:
        raise ValueError(f"expected an image batch [N, C, H, W], got shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x


def batch_eval(
    images: torch.Tensor, resolution: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Eval transform on a uint8 (or [0, 1] float) batch [N, C, H, W]; grey becomes 3 channels.

    Bilinear resize of the shorter side to ``ceil(r / 0.875)`` (antialiased when shrinking), centre crop r.
    """
    r = _check_resolution(resolution)
    x = _to_float3(images)
    h, w = x.shape[-2:]
    s = eval_resize(r)
    if h <= w:
        size = (s, max(s, int(s * w / h)))
    else:
        size = (max(s, int(s * h / w)), s)
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    top = int(round((size[0] - r) / 2.0))
    left = int(round((size[1] - r) / 2.0))
    x = x[:, :, top : top + r, left : left + r]
    return _normalise(x, mean, std)


def batch_train(
    images: torch.Tensor,
    resolution: int,
    mean: Sequence[float],
    std: Sequence[float],
    generator: torch.Generator,
    augment: TrainAugment | None = None,
) -> torch.Tensor:
    """Random resized crop (+ flip) of a batch in one ``grid_sample`` call; per-image random boxes.

    Boxes: area fraction ~ U(scale), log aspect ratio ~ U(log ratio), width/height clipped to the
    image (instead of torchvision's rejection loop), centre uniform among the positions that fit.
    Colour jitter and RandAugment are not applied on this path.
    """
    r = _check_resolution(resolution)
    aug = augment or TrainAugment()
    x = _to_float3(images)
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64)
    area = (aug.scale[0] + (aug.scale[1] - aug.scale[0]) * u[:, 0]) * (h * w)
    log_lo, log_hi = math.log(aug.ratio[0]), math.log(aug.ratio[1])
    ratio = torch.exp(log_lo + (log_hi - log_lo) * u[:, 1])
    cw = torch.sqrt(area * ratio).clamp(1.0, w)
    ch = torch.sqrt(area / ratio).clamp(1.0, h)
    cx = cw / 2 + (w - cw) * u[:, 2]
    cy = ch / 2 + (h - ch) * u[:, 3]
    sx = cw / w
    if aug.flip:
        sx = torch.where(u[:, 4] < 0.5, -sx, sx)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = 2 * cx / w - 1
    theta[:, 1, 1] = ch / h
    theta[:, 1, 2] = 2 * cy / h - 1
    grid = F.affine_grid(theta.to(x.dtype), [n, 3, r, r], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return _normalise(out, mean, std)
