"""Validation of a static network (``net.config`` + weights) on a dataset's test split (the original validation.py)."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch

from nsganetv2.atomic import torch_load_safe
from nsganetv2.evaluation.accuracy import Accuracy, evaluate, resolve_amp

log = logging.getLogger(__name__)


def load_network(config_path: str | os.PathLike, weights: str | os.PathLike | None = None,
                 n_classes: int | None = None):
    """Build a ``MobileNetV3`` from ``net.config`` and load ``weights`` (raw state dict or ``{"state_dict": ...}``).

    When ``n_classes`` differs from the config's head, the head is replaced *after* loading (the original reset it
    before and lost the trained head, its issue #1).
    """
    from nsganetv2.supernet import MobileNetV3, load_net_config

    net = MobileNetV3.build_from_config(load_net_config(config_path))
    if weights is not None:
        if not os.path.isfile(weights):
            raise ValueError(f"weights file {weights} does not exist; pass the net.inherited or a checkpoint")
        obj = torch_load_safe(weights, "weights file")
        sd = obj["state_dict"] if isinstance(obj, dict) and "state_dict" in obj else obj
        if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
            raise ValueError(f"weights file {weights} holds neither a state dict of tensors nor "
                             "{'state_dict': {...}}; pass the net.inherited or a checkpoint")
        net.load_state_dict(sd)
    if n_classes is not None and n_classes != net.n_classes:
        net.reset_classifier(n_classes)
    return net.eval()


def network_resolution(config_path: str | os.PathLike, img_size: int | None = None) -> tuple[int, str]:
    """The input resolution of a ``net.config`` network and where it comes from, in this order: ``img_size`` (an
    explicit flag); the config's ``resolution`` (ours) or ``img_size`` (NAT's); ``image_size`` in OFA's
    ``run.config`` beside it; else 224."""
    if img_size is not None:
        return int(img_size), "--img-size"
    path = Path(config_path)
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError):
        cfg = {}
    for key in ("resolution", "img_size"):
        if isinstance(cfg, dict) and cfg.get(key) is not None:
            return int(cfg[key]), f"'{key}' in {path}"
    run = path.with_name("run.config")
    if run.is_file():
        try:
            image_size = json.loads(run.read_text()).get("image_size")
        except (ValueError, AttributeError):
            raise ValueError(f"{run} is not a JSON object; fix it or pass --img-size") from None
        if isinstance(image_size, list) and image_size:  # OFA writes a list when it trained at several sizes
            image_size = max(image_size)
        if image_size is not None:
            return int(image_size), f"'image_size' in {run}"
    return 224, "the default (no --img-size, no resolution in the config, no run.config beside it)"


def recorded_amp(config_path: str | os.PathLike) -> str | None:
    """The ``amp`` recorded in the ``net.stats`` beside a ``net.config`` (an export of a search), if any."""
    path = Path(config_path).with_name("net.stats")
    if not path.is_file():
        return None
    try:
        stats = json.loads(path.read_text())
    except ValueError:
        log.warning("%s is not valid JSON; its precision is ignored", path)
        return None
    precision = stats.get("precision") if isinstance(stats, dict) else None
    return precision.get("amp") if isinstance(precision, dict) else None


def validate(config_path: str | os.PathLike, weights: str | os.PathLike | None, dataset: str,
             data: str | None = None, batch_size: int = 256, workers: int = 0, img_size: int | None = None,
             device: str = "cpu", amp: str | None = None) -> Accuracy:
    """Top-1, top-5 and loss on the test split; the resolution is the config's unless ``img_size`` is given.

    ``amp=None`` evaluates in the precision recorded in the ``net.stats`` beside the config (what the search
    measured in), or in fp32 when none is recorded.
    """
    from nsganetv2.data import build_test_loader

    net = load_network(config_path, weights)
    if amp is None:
        recorded = recorded_amp(config_path)
        amp = recorded or "off"
        log.info("validating with --amp %s (%s)", amp,
                 "as recorded in net.stats" if recorded else "no precision recorded beside the config")
    resolution, source = network_resolution(config_path, img_size)
    log.info("validating at %d px (%s)", resolution, source)
    loader = build_test_loader(dataset, data, resolution, batch_size=batch_size, n_workers=workers)
    dev = torch.device(device)
    return evaluate(net.to(dev), loader, dev, resolve_amp(amp, dev))
