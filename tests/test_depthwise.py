"""The fast depthwise convolution equals ``F.conv2d`` (values and gradients) on every map size and stride."""
from __future__ import annotations

import io

import onnx
import pytest
import torch
import torch.nn.functional as F

from nsganetv2.supernet._ops import DepthwiseConv2d, depthwise_conv2d


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 3), (4, 4), (2, 4), (5, 5), (8, 8)])
@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("stride", [1, 2])
def test_values_and_gradients_equal_conv2d(size, k, stride):
    g = torch.Generator().manual_seed(k * 10 + stride)
    x = torch.randn(3, 6, *size, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 1, k, k, generator=g, dtype=torch.float64, requires_grad=True)
    ref = F.conv2d(x, w, None, stride, k // 2, 1, 6)
    got = depthwise_conv2d(x, w, stride)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    upstream = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    gx_ref, gw_ref = torch.autograd.grad(ref, (x, w), upstream)
    gx, gw = torch.autograd.grad(got, (x, w), upstream)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-12, atol=1e-12)


def test_channels_last_input_gives_the_same_result():
    x = torch.randn(4, 8, 4, 4)
    w = torch.randn(8, 1, 7, 7)
    cl = depthwise_conv2d(x.contiguous(memory_format=torch.channels_last), w, 1)
    torch.testing.assert_close(cl, F.conv2d(x, w, None, 1, 3, 1, 8), rtol=1e-5, atol=1e-5)


def test_module_exports_a_plain_convolution_to_onnx():
    """Latency is measured on the exported graph: it must hold the network's real depthwise Conv."""
    conv = DepthwiseConv2d(16, 16, 7, 1, 3, groups=16, bias=False).eval()
    buf = io.BytesIO()
    torch.onnx.export(conv, (torch.randn(1, 16, 2, 2),), buf, dynamo=False)
    graph = onnx.load_from_string(buf.getvalue()).graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert [n.op_type for n in graph.node] == ["Conv"]
    weight = next(i for i in graph.initializer if i.name == convs[0].input[1])
    assert list(weight.dims)[-2:] == [3, 3]  # cropped to the taps that reach a 2x2 map
