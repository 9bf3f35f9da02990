"""BatchNorm recalibration in a deploy runtime instead of eager torch.

The network is written as an ONNX graph with every ``BatchNorm2d`` in training form (normalised by its batch's
statistics, as :func:`nsganetv2.evaluation.accuracy.recalibrate_bn` runs it) whose outputs are each BatchNorm input's
per-channel batch mean and biased variance (see :mod:`nsganetv2.evaluation.onnx_graph`). The runtime runs the
calibration batches in fp32; the statistics are averaged over batches in float64 as torch's cumulative average
(``momentum=None``) does, each batch's variance made unbiased (``n / (n - 1)``, n = batch x map size), and folded
into the network's BatchNorm buffers, so the static network written afterwards carries them.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn as nn

from nsganetv2.evaluation.onnx_graph import mobilenet_onnx
from nsganetv2.evaluation.runtimes import load_graph

__all__ = ["recalibrate_bn_runtime"]


@torch.no_grad()
def recalibrate_bn_runtime(net: nn.Module, batches: Iterable, runtime: str = "openvino", threads: int = 1) -> int:
    """:func:`~nsganetv2.evaluation.accuracy.recalibrate_bn` computed in ``runtime`` (``openvino`` or
    ``onnxruntime``, fp32): resets and re-estimates every BatchNorm's running statistics of ``net`` (a static
    MobileNetV3 on the CPU) as the plain average over ``batches`` (images or (images, labels)). Returns the number of
    images seen; ``net`` is left in eval mode."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    graph = order = None
    sums: list[np.ndarray] = []
    map_size = np.zeros(0)
    seen = n_batches = 0
    for batch in batches:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        seen += images.shape[0]
        n_batches += 1
        if not bns:
            continue
        x = images.detach().to("cpu", torch.float32).numpy()
        if graph is None:
            written = mobilenet_onnx(net, tuple(x.shape[1:]), "batch_stats")
            graph = load_graph(written.model, runtime, threads, "fp32")
            order = written.batchnorms
            map_size = np.repeat(np.array(written.map_sizes, dtype=np.float64), [bn.num_features for bn in order])
            sums = [np.zeros(map_size.size), np.zeros(map_size.size)]
        mean, var = (v.reshape(-1) for v in graph(x))
        n = x.shape[0] * map_size
        sums[0] += mean
        sums[1] += var.astype(np.float64) * n / np.maximum(n - 1, 1)
    if n_batches == 0 and bns:
        raise ValueError("recalibrate_bn got no images; give it a non-empty calibration loader")
    for bn in bns:
        bn.reset_running_stats()
    offset = 0
    for bn in order or []:
        c = bn.num_features
        bn.running_mean.copy_(torch.from_numpy(sums[0][offset:offset + c] / n_batches))
        bn.running_var.copy_(torch.from_numpy(sums[1][offset:offset + c] / n_batches))
        bn.num_batches_tracked.fill_(n_batches)
        offset += c
    net.eval()
    return seen
