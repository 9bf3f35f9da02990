"""ONNX graphs written directly from a static MobileNetV3's modules, without tracing (milliseconds, not seconds).

Two forms, both with a dynamic batch axis named ``batch``:

* ``"eval"``: the inference network (BatchNorm with its running statistics), output ``output`` (the logits);
* ``"batch_stats"``: every BatchNorm in training form (normalised by its batch's mean and biased variance, as
  training-mode ``nn.BatchNorm2d`` computes it), with outputs ``mean`` and ``var``: each BatchNorm's per-channel batch
  statistics concatenated along the channels (shape ``(1, sum C, 1, 1)``) in the order the BatchNorms run; the
  classifier is left out.

Opset 17. Only the layers of :class:`nsganetv2.supernet.MobileNetV3` are known; anything else is a clear error (the
torch backend evaluates any network).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

__all__ = ["GRAPH_FORMS", "OnnxGraph", "mobilenet_onnx"]

GRAPH_FORMS = ("eval", "batch_stats")
OPSET = 17


@dataclass
class OnnxGraph:
    """The serialized model, and for ``batch_stats`` the BatchNorms in output order with each one's map size."""

    model: bytes
    batchnorms: list[nn.BatchNorm2d] = field(default_factory=list)
    map_sizes: list[int] = field(default_factory=list)


class _Writer:
    def __init__(self, form: str) -> None:
        import onnx.helper

        self.h = onnx.helper
        self.form = form
        self.nodes: list = []
        self.inits: list = []
        self.count = 0
        self.means: list[str] = []
        self.vars: list[str] = []
        self.batchnorms: list[nn.BatchNorm2d] = []
        self.map_sizes: list[int] = []

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        from onnx import numpy_helper

        arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr.astype(dtype, copy=False)), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(self.h.make_node(op_type, inputs, [out], **attrs))
        return out

    # layers ----------------------------------------------------------------------------------------------------
    def conv(self, x: str, conv: nn.Conv2d) -> str:
        k = conv.kernel_size
        pad = conv.padding if isinstance(conv.padding, tuple) else (k[0] // 2, k[1] // 2)
        inputs = [x, self.const(conv.weight, "w")] + ([self.const(conv.bias, "b")] if conv.bias is not None else [])
        return self.op("Conv", inputs, kernel_shape=list(k), strides=list(conv.stride),
                       pads=[pad[0], pad[1], pad[0], pad[1]], dilations=list(conv.dilation), group=conv.groups)

    def bn(self, x: str, bn: nn.BatchNorm2d, hw: int) -> str:
        if type(bn) is not nn.BatchNorm2d:
            raise ValueError(f"a {type(bn).__name__} cannot be written to ONNX here; use the torch backend")
        c = bn.num_features
        weight = bn.weight if bn.weight is not None else torch.ones(c)
        bias = bn.bias if bn.bias is not None else torch.zeros(c)
        if self.form == "eval":
            return self.op("BatchNormalization", [x, self.const(weight, "g"), self.const(bias, "beta"),
                                                  self.const(bn.running_mean, "rm"), self.const(bn.running_var, "rv")],
                           epsilon=float(bn.eps))
        mean = self.op("ReduceMean", [x], axes=[0, 2, 3], keepdims=1)
        centred = self.op("Sub", [x, mean])
        var = self.op("ReduceMean", [self.op("Mul", [centred, centred])], axes=[0, 2, 3], keepdims=1)
        std = self.op("Sqrt", [self.op("Add", [var, self.const(np.float32(bn.eps), "eps")])])
        scale = self.op("Div", [self.const(weight.reshape(1, c, 1, 1), "g"), std])
        y = self.op("Add", [self.op("Mul", [centred, scale]), self.const(bias.reshape(1, c, 1, 1), "beta")])
        self.means.append(mean)  # (1, C, 1, 1): concatenated along the channels for the outputs
        self.vars.append(var)
        self.batchnorms.append(bn)
        self.map_sizes.append(hw)
        return y

    def act(self, x: str, act: nn.Module) -> str:
        from nsganetv2.supernet.layers import Hsigmoid, Hswish

        if isinstance(act, nn.ReLU):
            return self.op("Relu", [x])
        if isinstance(act, nn.ReLU6):
            return self.op("Clip", [x, self.const(np.float32(0), "zero"), self.const(np.float32(6), "six")])
        if isinstance(act, (Hswish, Hsigmoid)):
            r6 = self.op("Clip", [self.op("Add", [x, self.const(np.float32(3), "three")]),
                                  self.const(np.float32(0), "zero"), self.const(np.float32(6), "six")])
            if isinstance(act, Hswish):
                r6 = self.op("Mul", [x, r6])
            return self.op("Div", [r6, self.const(np.float32(6), "six")])
        if isinstance(act, nn.Sigmoid):
            return self.op("Sigmoid", [x])
        if isinstance(act, nn.Tanh):
            return self.op("Tanh", [x])
        if isinstance(act, nn.Mish):
            return self.op("Mul", [x, self.op("Tanh", [self.op("Softplus", [x])])])
        raise ValueError(f"activation {type(act).__name__} cannot be written to ONNX here; use the torch backend")

    def se(self, x: str, se: nn.Module) -> str:
        y = self.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
        y = self.op("Relu", [self.conv(y, se.fc.reduce)])
        y = self.act(self.conv(y, se.fc.expand), se.fc.h_sigmoid)
        return self.op("Mul", [x, y])

    def sequence(self, x: str, seq: nn.Module, hw: int) -> tuple[str, int]:
        """A ConvLayer or an MBConv part: conv, bn, act, se in module order (dropout is a no-op in eval)."""
        from nsganetv2.supernet.layers import SEModule

        for name, m in seq.named_children():
            if isinstance(m, nn.Conv2d):
                x = self.conv(x, m)
                hw = _out_size(hw, m)
            elif isinstance(m, nn.BatchNorm2d):
                x = self.bn(x, m, hw[0] * hw[1])
            elif isinstance(m, SEModule):
                x = self.se(x, m)
            elif isinstance(m, (nn.Dropout, nn.Dropout2d)):
                continue
            else:
                x = self.act(x, m)
        return x, hw

    def block(self, x: str, block: nn.Module, hw: tuple[int, int]) -> tuple[str, tuple[int, int]]:
        from nsganetv2.supernet.layers import IdentityLayer, MBConvLayer, ZeroLayer

        conv, shortcut = block.conv, block.shortcut
        if conv is None or isinstance(conv, ZeroLayer):
            return x, hw
        if not isinstance(conv, MBConvLayer):
            raise ValueError(f"block layer {type(conv).__name__} cannot be written to ONNX here; use the torch backend")
        y, out = x, hw
        for part in (conv.inverted_bottleneck, conv.depth_conv, conv.point_linear):
            if part is not None:
                y, out = self.sequence(y, part, out)
        if shortcut is None or isinstance(shortcut, ZeroLayer):
            return y, out
        if not isinstance(shortcut, IdentityLayer):
            raise ValueError(f"shortcut {type(shortcut).__name__} cannot be written to ONNX here; use the torch backend")
        return self.op("Add", [y, x]), out


def _out_size(hw: tuple[int, int], conv: nn.Conv2d) -> tuple[int, int]:
    k, s, d = conv.kernel_size, conv.stride, conv.dilation
    pad = conv.padding if isinstance(conv.padding, tuple) else (k[0] // 2, k[1] // 2)
    return tuple((hw[i] + 2 * pad[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


@torch.no_grad()
def mobilenet_onnx(net: nn.Module, input_shape: tuple[int, int, int], form: str = "eval") -> OnnxGraph:
    """``net`` (a static :class:`~nsganetv2.supernet.MobileNetV3`) as an ONNX graph in ``form`` (see the module)
    for inputs ``(batch, *input_shape)``."""
    import onnx

    from nsganetv2.supernet import MobileNetV3

    if form not in GRAPH_FORMS:
        raise ValueError(f"form must be one of {GRAPH_FORMS}, got {form!r}")
    if not isinstance(net, MobileNetV3):
        raise ValueError(f"only a static MobileNetV3 can be written to ONNX here, got {type(net).__name__}; use the "
                         "torch backend")
    c, h, w = (int(v) for v in input_shape)
    wr = _Writer(form)
    x, hw = wr.sequence("input", net.first_conv, (h, w))
    for block in net.blocks:
        x, hw = wr.block(x, block, hw)
    x, hw = wr.sequence(x, net.final_expand_layer, hw)
    outputs = []
    if form == "eval":
        x = wr.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
        x, _ = wr.sequence(x, net.feature_mix_layer, (1, 1))
        x = wr.op("Flatten", [x], axis=1)
        lin = net.classifier.linear
        inputs = [x, wr.const(lin.weight, "fc_w")] + ([wr.const(lin.bias, "fc_b")] if lin.bias is not None else [])
        wr.nodes.append(wr.h.make_node("Gemm", inputs, ["output"], transB=1))
        outputs.append(wr.h.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["batch", lin.out_features]))
    else:
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.feature_mix_layer.modules()):
            x = wr.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
            wr.sequence(x, net.feature_mix_layer, (1, 1))
        n = sum(bn.num_features for bn in wr.batchnorms)
        wr.nodes.append(wr.h.make_node("Concat", wr.means, ["mean"], axis=1))
        wr.nodes.append(wr.h.make_node("Concat", wr.vars, ["var"], axis=1))
        outputs += [wr.h.make_tensor_value_info(k, onnx.TensorProto.FLOAT, [1, n, 1, 1]) for k in ("mean", "var")]
    graph = wr.h.make_graph(wr.nodes, f"mobilenetv3_{form}",
                            [wr.h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", c, h, w])],
                            outputs, wr.inits)
    model = wr.h.make_model(graph, opset_imports=[wr.h.make_opsetid("", OPSET)], producer_name="nsganetv2")
    model.ir_version = 8
    return OnnxGraph(model.SerializeToString(), wr.batchnorms, wr.map_sizes)
