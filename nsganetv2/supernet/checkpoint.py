"""Load and save OFA MobileNetV3 supernet checkpoints (``{"state_dict": ...}`` or a raw state dict)."""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping, Optional, Union

import torch

from nsganetv2.atomic import torch_load_safe, torch_save_atomic

from .ofa_mbv3 import OFAMobileNetV3Supernet, stage_widths

__all__ = ["load_supernet", "save_supernet", "read_state_dict", "infer_width_mult"]

log = logging.getLogger(__name__)

_WIDTHS = (1.0, 1.2)


def read_state_dict(source: Union[str, os.PathLike, Mapping[str, Any]], map_location: str = "cpu") -> dict:
    """Return the state dict held by a file or a mapping (``obj["state_dict"]`` when present)."""
    if isinstance(source, Mapping):
        obj = source
    else:
        if not os.path.isfile(source):
            raise ValueError(f"supernet checkpoint {source!s} does not exist")
        obj = torch_load_safe(source, "supernet checkpoint", map_location=map_location)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        where = "" if isinstance(source, Mapping) else f" {source}"
        raise ValueError(f"supernet checkpoint{where} is neither {{'state_dict': {{...}}}} nor a state dict of tensors")
    return {k.replace(".mobile_inverted_conv.", ".conv."): v for k, v in obj.items()}


def infer_width_mult(state_dict: Mapping[str, torch.Tensor]) -> float:
    """Width multiplier from the stem width (16 -> 1.0, 24 -> 1.2)."""
    key = "first_conv.conv.weight"
    if key not in state_dict:
        raise ValueError(f"checkpoint has no {key!r}: not an OFA MobileNetV3 supernet")
    stem = int(state_dict[key].shape[0])
    for w in _WIDTHS:
        if stage_widths(w)[0] == stem:
            return w
    raise ValueError(f"checkpoint stem width {stem} matches no supported width multiplier {_WIDTHS}")


def _infer_from_name(path: Any) -> Optional[float]:
    m = re.search(r"w(\d+\.\d+)", os.path.basename(str(path)))
    return float(m.group(1)) if m else None


def load_supernet(source: Union[str, os.PathLike, Mapping[str, Any]], n_classes: Optional[int] = None,
                  width_mult: Optional[float] = None, dropout_rate: float = 0.0, map_location: str = "cpu",
                  **kwargs: Any) -> OFAMobileNetV3Supernet:
    """Build an OFA MobileNetV3 supernet with the checkpoint's own head, load it, then replace the head.

    ``width_mult`` defaults to the file name's ``w1.x`` or the stem width. When ``n_classes`` differs from the
    checkpoint's class count, the classifier is reset (``reset_classifier(n_classes, dropout_rate)``).
    A checkpoint that does not fit raises ``ValueError`` naming the first mismatching key and both shapes.
    """
    sd = read_state_dict(source, map_location)
    if width_mult is None:
        width_mult = (None if isinstance(source, Mapping) else _infer_from_name(source)) or infer_width_mult(sd)
    head_key = "classifier.linear.weight"
    if head_key not in sd:
        head_key = "classifier.linear.linear.weight"
    if head_key not in sd:
        raise ValueError("checkpoint has no 'classifier.linear.weight': not an OFA MobileNetV3 supernet")
    ckpt_classes = int(sd[head_key].shape[0])
    with torch.device("meta"):  # every tensor comes from the file: skip the random init
        net = OFAMobileNetV3Supernet(n_classes=ckpt_classes, width_mult=width_mult, dropout_rate=dropout_rate,
                                     **kwargs)
    if isinstance(source, Mapping):  # do not share storage with the caller's tensors
        sd = {k: v.detach().clone() for k, v in sd.items()}
    net.load_state_dict(sd, assign=True)
    if n_classes is not None and n_classes != ckpt_classes:
        log.info("replacing the %d-class head by a fresh %d-class head", ckpt_classes, n_classes)
        net.reset_classifier(n_classes, dropout_rate)
    return net


def save_supernet(net: OFAMobileNetV3Supernet, path: Union[str, os.PathLike], **extra: Any) -> None:
    """Save as ``{"state_dict": ...}`` in OFA's key layout (loadable by ``ofa`` and by :func:`load_supernet`)."""
    obj = {"state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}
    obj.update(extra)
    torch_save_atomic(obj, path)
