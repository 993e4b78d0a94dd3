"""A model in eval mode written as an ONNX graph, directly from its ``torch.fx`` trace.

Why not ``torch.onnx.export``: on the small networks a benchmark builds by the thousand, exporting
takes 0.3-0.7 s per network (it traces with TorchScript and runs its own passes), more than an
inference runtime saves on a short protocol. A symbolic trace plus one ONNX node per layer takes
a few milliseconds. Only the layers below are translated (what robnas's spaces and models use in
eval mode); anything else (a custom leaf module, a data-dependent branch, an unsupported
argument) raises :class:`Untranslatable` and the caller keeps another forward.

Batch norm is written as ``BatchNormalization`` with its running statistics; the runtime folds it
into the convolution before it, as the frozen TorchScript graph does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

OPSET = 17


class Untranslatable(Exception):
    """The model uses something this translator does not write (the caller falls back)."""


def onnx_model_bytes(model: nn.Module, example: torch.Tensor) -> bytes:
    """The serialised ONNX model of ``model`` (eval mode) for inputs shaped like ``example`` (any batch size)."""
    from onnx import TensorProto, helper  # the optional `fast` extra: imported only when a graph is written

    if model.training:
        raise Untranslatable("the model is in training mode")
    try:
        graph = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001 -- any tracing failure means "not for this translator"
        raise Untranslatable(f"torch.fx cannot trace the model: {exc}") from exc
    writer = _Writer(graph)
    for node in graph.graph.nodes:
        writer.visit(node)
    if writer.output is None:
        raise Untranslatable("the graph has no single tensor output")
    shape: list[Any] = ["batch", *example.shape[1:]]
    onnx_graph = helper.make_graph(
        writer.nodes, "robnas",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(writer.output, TensorProto.FLOAT, None)],
        initializer=writer.initializers)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="robnas")
    proto.ir_version = min(proto.ir_version, 8)  # readable by every runtime of the last years
    return proto.SerializeToString()


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy()


def _pair(v: int | tuple[int, ...]) -> list[int]:
    return [v, v] if isinstance(v, int) else list(v)


class _Writer:
    """Walks the fx graph in order, writing one or a few ONNX nodes per fx node."""

    def __init__(self, graph: fx.GraphModule) -> None:
        from onnx import numpy_helper

        self._numpy_helper = numpy_helper
        self.module = graph
        self.modules = dict(graph.named_modules())
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: dict[fx.Node, str] = {}
        self.output: str | None = None
        self._count = 0

    # --- helpers -------------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, value: torch.Tensor | np.ndarray | float, hint: str = "c") -> str:
        name = self.fresh(hint)
        array = value if isinstance(value, np.ndarray) else (
            _array(value) if isinstance(value, torch.Tensor) else np.asarray(value, dtype=np.float32))
        self.initializers.append(self._numpy_helper.from_array(array, name))
        return name

    def emit(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        from onnx import helper

        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def operand(self, arg: Any) -> str:
        if isinstance(arg, fx.Node):
            return self.names[arg]
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return self.constant(float(arg))
        raise Untranslatable(f"unsupported operand {arg!r}")

    # --- the walk ------------------------------------------------------------------------------
    def visit(self, node: fx.Node) -> None:
        if node.op == "placeholder":
            if self.names:
                raise Untranslatable("the model takes more than one input")
            self.names[node] = "x"
        elif node.op == "get_attr":
            value = operator.attrgetter(node.target)(self.module)
            if not isinstance(value, torch.Tensor):
                raise Untranslatable(f"attribute {node.target} is not a tensor")
            self.names[node] = self.constant(value, "attr")
        elif node.op == "call_module":
            self.names[node] = self.call_module(self.modules[str(node.target)], node)
        elif node.op in ("call_function", "call_method"):
            self.names[node] = self.call_function(node)
        elif node.op == "output":
            result = node.args[0]
            if not isinstance(result, fx.Node):
                raise Untranslatable("the model returns more than one tensor")
            self.output = self.names[result]
        else:  # pragma: no cover -- fx has no other node kinds
            raise Untranslatable(f"fx node kind {node.op}")

    def call_module(self, m: nn.Module, node: fx.Node) -> str:
        if len(node.args) != 1 or node.kwargs:
            raise Untranslatable(f"{type(m).__name__} called with {len(node.args)} arguments")
        x = self.operand(node.args[0])
        writer = _MODULES.get(type(m))
        if writer is None:
            raise Untranslatable(f"no ONNX translation for module {type(m).__name__}")
        return writer(self, m, x)

    def call_function(self, node: fx.Node) -> str:
        target = node.target
        args = list(node.args)
        if target in (operator.add, torch.add, "add") and not node.kwargs:
            return self.emit("Add", [self.operand(args[0]), self.operand(args[1])], "add")
        if target in (operator.sub, torch.sub, "sub") and not node.kwargs:
            return self.emit("Sub", [self.operand(args[0]), self.operand(args[1])], "sub")
        if target in (operator.mul, torch.mul, "mul") and not node.kwargs:
            return self.emit("Mul", [self.operand(args[0]), self.operand(args[1])], "mul")
        if target in (operator.truediv, torch.div, "div") and not node.kwargs:
            return self.emit("Div", [self.operand(args[0]), self.operand(args[1])], "div")
        if target in (F.relu, torch.relu, "relu") and not node.kwargs:
            return self.emit("Relu", [self.operand(args[0])], "relu")
        if target in (torch.flatten, "flatten"):
            start = node.kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
            end = node.kwargs.get("end_dim", args[2] if len(args) > 2 else -1)
            return _flatten(self, self.operand(args[0]), start, end)
        if target is torch.cat and len(args) <= 2:
            dim = node.kwargs.get("dim", args[1] if len(args) > 1 else 0)
            return self.emit("Concat", [self.operand(a) for a in args[0]], "cat", axis=int(dim))
        if target is F.pad:
            return _pad(self, self.operand(args[0]), args[1] if len(args) > 1 else node.kwargs["pad"],
                        node.kwargs.get("mode", args[2] if len(args) > 2 else "constant"),
                        node.kwargs.get("value", args[3] if len(args) > 3 else None))
        if target is operator.getitem and isinstance(args[1], tuple):
            return _strided_slice(self, self.operand(args[0]), args[1])
        raise Untranslatable(f"no ONNX translation for {node.op} {getattr(target, '__name__', target)}")


def _flatten(w: _Writer, x: str, start: int, end: int) -> str:
    if start != 1 or end != -1:
        raise Untranslatable(f"flatten({start}, {end}) is not the batch-preserving flatten(1)")
    return w.emit("Flatten", [x], "flatten", axis=1)


def _pad(w: _Writer, x: str, pad: Any, mode: str, value: float | None) -> str:
    """``F.pad`` with zeros on the last two axes (DARTS' factorised reduction pads one row and column)."""
    if mode != "constant" or value not in (None, 0, 0.0) or not isinstance(pad, (tuple, list)) \
            or len(pad) != 4 or not all(isinstance(v, int) and v >= 0 for v in pad):
        raise Untranslatable(f"pad {pad!r} ({mode}, {value})")
    left, right, top, bottom = pad  # torch lists the last axis first; ONNX wants all begins, then all ends
    pads = np.asarray([0, 0, top, left, 0, 0, bottom, right], dtype=np.int64)
    return w.emit("Pad", [x, w.constant(pads, "pads")], "pad", mode="constant")


def _strided_slice(w: _Writer, x: str, index: tuple[Any, ...]) -> str:
    """``x[:, :, a::s, b::t]``-style indexing with plain slices (``Zero`` at stride 2, factorised reduction)."""
    starts, ends, axes, steps = [], [], [], []
    for axis, item in enumerate(index):
        if not isinstance(item, slice) or any(isinstance(v, fx.Node) for v in (item.start, item.stop, item.step)):
            raise Untranslatable(f"indexing with {item!r}")
        if item == slice(None):
            continue
        starts.append(item.start or 0)
        ends.append(item.stop if item.stop is not None else np.iinfo(np.int64).max)
        axes.append(axis)
        steps.append(item.step or 1)
    if not axes:
        return w.emit("Identity", [x], "id")
    ints = [w.constant(np.asarray(v, dtype=np.int64), "slice") for v in (starts, ends, axes, steps)]
    return w.emit("Slice", [x, *ints], "slice")


def _conv(w: _Writer, m: nn.Conv2d, x: str) -> str:
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise Untranslatable(f"Conv2d padding {m.padding!r} ({m.padding_mode})")
    inputs = [x, w.constant(m.weight, "w")] + ([w.constant(m.bias, "b")] if m.bias is not None else [])
    pads = _pair(m.padding)
    return w.emit("Conv", inputs, "conv", kernel_shape=list(m.kernel_size), strides=_pair(m.stride),
                  dilations=_pair(m.dilation), group=m.groups, pads=pads + pads)


def _batch_norm(w: _Writer, m: nn.BatchNorm2d, x: str) -> str:
    if m.running_mean is None or m.running_var is None:
        raise Untranslatable("batch norm without running statistics uses batch statistics in eval mode")
    c = m.num_features
    scale = m.weight if m.weight is not None else torch.ones(c)
    shift = m.bias if m.bias is not None else torch.zeros(c)
    inputs = [w.constant(t, "bn") for t in (scale, shift, m.running_mean, m.running_var)]
    return w.emit("BatchNormalization", [x, *inputs], "bn", epsilon=float(m.eps))


def _avg_pool(w: _Writer, m: nn.AvgPool2d, x: str) -> str:
    if m.divisor_override is not None:
        raise Untranslatable("AvgPool2d with divisor_override")
    kernel, stride, pads = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
    return w.emit("AveragePool", [x], "avgpool", kernel_shape=kernel, strides=stride, pads=pads + pads,
                  count_include_pad=int(m.count_include_pad), ceil_mode=int(m.ceil_mode))


def _max_pool(w: _Writer, m: nn.MaxPool2d, x: str) -> str:
    if m.return_indices:
        raise Untranslatable("MaxPool2d returning indices")
    kernel, stride, pads = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
    return w.emit("MaxPool", [x], "maxpool", kernel_shape=kernel, strides=stride, pads=pads + pads,
                  dilations=_pair(m.dilation), ceil_mode=int(m.ceil_mode))


def _adaptive_avg_pool(w: _Writer, m: nn.AdaptiveAvgPool2d, x: str) -> str:
    if _pair(m.output_size) != [1, 1]:
        raise Untranslatable(f"AdaptiveAvgPool2d to {m.output_size}")
    return w.emit("GlobalAveragePool", [x], "gap")


def _linear(w: _Writer, m: nn.Linear, x: str) -> str:
    inputs = [x, w.constant(m.weight, "w")] + ([w.constant(m.bias, "b")] if m.bias is not None else [])
    return w.emit("Gemm", inputs, "linear", transB=1)


def _flatten_module(w: _Writer, m: nn.Flatten, x: str) -> str:
    return _flatten(w, x, m.start_dim, m.end_dim)


_MODULES: dict[type, Callable[[_Writer, Any, str], str]] = {
    nn.Conv2d: _conv,
    nn.BatchNorm2d: _batch_norm,
    nn.ReLU: lambda w, m, x: w.emit("Relu", [x], "relu"),
    nn.AvgPool2d: _avg_pool,
    nn.MaxPool2d: _max_pool,
    nn.AdaptiveAvgPool2d: _adaptive_avg_pool,
    nn.Linear: _linear,
    nn.Flatten: _flatten_module,
    nn.Identity: lambda w, m, x: x,
    nn.Dropout: lambda w, m, x: x,  # eval mode: the identity
}
