"""An ONNX Runtime session as a plain forward: the fastest exact CPU forward measured for small networks.

Why ONNX Runtime: on the NB201 C=8 digits networks its CPU kernels (convolution fused with batch norm
and ReLU in blocked layouts, one thread) run a plain forward faster than the frozen TorchScript graph:
1.37-1.72x with oneDNN held to AVX2, 1.29x / 1.59x at batch 100 / 2048 on AVX-512 (0.85x at batch 693,
where oneDNN has a sweet spot; 1.1-1.8x at every batch size from 64 to 1024 in a run under load), see
``perf/forward_limits.py``. OpenVINO was measured too and was slower here (0.67-1.43x). It is an
optional dependency (the ``fast`` extra): without it :func:`onnx_forward` returns None.

The session runs on as many threads as torch may use at creation, so a benchmark worker's one-thread
budget holds; the answer is a torch tensor on the CPU.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch
from torch import nn

from robnas.nn.onnx_graph import Untranslatable, onnx_model_bytes


def available() -> bool:
    """Whether ONNX Runtime and the ``onnx`` package (to write the graph) are installed."""
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def onnx_forward(model: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A forward of ``model`` (eval mode, float32 CPU inputs) through ONNX Runtime; None when the runtime
    is absent or the model cannot be written as ONNX. Exactness is the caller's check."""
    if not available() or example.dtype != torch.float32:
        return None
    try:
        graph = onnx_model_bytes(model, example)
    except Untranslatable:
        return None
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads would burn a core between queries (attacks do work between forwards).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 -- a graph the runtime refuses: the caller keeps another forward
        return None
    output = session.get_outputs()[0].name

    def call(x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to(torch.float32).contiguous().numpy()
        return torch.from_numpy(session.run([output], {"x": array})[0])

    return call
