"""This CPU's limits for the networks robnas evaluates (prints figures; not a test).

In one process, one torch thread, every variant interleaved and the median of ``--rounds`` rounds:

* the single-thread float32 matmul peak (1024 x 1024, 2 n^3 FLOP per product);
* the GEMM of a 3x3 convolution's own shape on 8x8 maps with 8 channels: ``(N*64, 72) @ (72, 8)``;
* each forward of the same network (NB201 all-``nor_conv_3x3`` C=8, N=1 on 1x8x8 unless ``--arch``):
  eager, the frozen TorchScript graph, ONNX Runtime on robnas's own ONNX graph
  (:mod:`robnas.nn.onnx_graph`), ONNX Runtime on ``torch.onnx.export``'s graph, and OpenVINO when
  installed; images per second at batch 100, 693 and 2048, start-up per network (CPU seconds), the
  largest logit difference from eager and whether every prediction is the same;
* the gradient step attacks take (forward + input gradient of the summed cross-entropy, batch 693):
  as before (parameters requiring gradients), parameters frozen, frozen + channels_last, and with
  ``--compile`` torch.compile (its compilation time printed).

Run it again with ``ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2`` as a stand-in for CPUs without
AVX-512 (ONNX Runtime's own kernels are not restricted by these variables; OpenVINO's are by its own).

    .venv/bin/python perf/forward_limits.py [--rounds 7] [--arch ARCH] [--compile] [--json]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from robnas.nn.onnx_runtime import onnx_forward
from robnas.spaces import get_space

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
BATCHES = (100, 693, 2048)
Forward = Callable[[torch.Tensor], torch.Tensor]


def network(arch: str) -> nn.Module:
    """The network with batch-norm statistics that are not the identity (as a trained one's are not)."""
    torch.manual_seed(0)
    model = get_space("nb201").build(arch, num_classes=10, in_channels=1, mean=[0.3], std=[0.3], C=8, N=1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def gemm_rates() -> tuple[float, float]:
    """(matmul peak, conv-shaped GEMM) in GFLOP/s."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    peak = 2 * 1024 ** 3 / best_seconds(lambda: a @ b, 7) / 1e9
    cols, w = torch.randn(693 * 64, 72), torch.randn(72, 8)
    conv = 2 * cols.shape[0] * 72 * 8 / best_seconds(lambda: cols @ w, 21) / 1e9
    return peak, conv


def timed_build(build: Callable[[], Forward | None], probe: torch.Tensor) -> tuple[Forward | None, float]:
    """A forward and its start-up in CPU seconds (building it and its first call)."""
    started = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = build()
        if fn is not None:
            fn(probe)
    return fn, time.process_time() - started


def forwards(model: nn.Module, example: torch.Tensor) -> dict[str, tuple[Forward, float]]:
    def eager() -> Forward:
        return lambda x: model(x)

    def frozen() -> Forward:
        return torch.jit.optimize_for_inference(torch.jit.trace(model, example[:1], check_trace=False))

    def exported_ort() -> Forward | None:
        import onnxruntime as ort

        buf = io.BytesIO()
        torch.onnx.export(model, (example[:1],), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}}, dynamo=False, opset_version=17)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(None, {"x": x.numpy()})[0])

    def openvino() -> Forward | None:
        try:
            import openvino as ov
        except ImportError:
            return None
        compiled = ov.compile_model(ov.convert_model(model, example_input=example[:1]), "CPU",
                                    {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        return lambda x: torch.from_numpy(next(iter(request.infer({0: x.numpy()}).values())).copy())

    out: dict[str, tuple[Forward, float]] = {}
    with torch.no_grad():
        for name, build in (("eager", eager), ("frozen TorchScript graph", frozen),
                            ("ONNX Runtime, robnas graph", lambda: onnx_forward(model, example)),
                            ("ONNX Runtime, torch.onnx.export", exported_ort), ("OpenVINO", openvino)):
            try:
                fn, seconds = timed_build(build, example[:37])
            except Exception as exc:  # noqa: BLE001 -- a runtime missing or failing is a row that says so
                print(f"  {name}: unavailable ({type(exc).__name__}: {str(exc)[:80]})")
                continue
            if fn is not None:
                out[name] = (fn, seconds)
    return out


def gradient_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, with_compile: bool) -> dict[str, Forward]:
    frozen = copy.deepcopy(model).requires_grad_(False)
    channels_last = copy.deepcopy(frozen).to(memory_format=torch.channels_last)

    def step(m: nn.Module, layout: torch.memory_format = torch.contiguous_format) -> Forward:
        def run(inputs: torch.Tensor) -> torch.Tensor:
            xx = inputs.detach().contiguous(memory_format=layout).requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(F.cross_entropy(m(xx), y, reduction="sum"), [xx])
            return g
        return run

    steps = {"parameters requiring gradients (before)": step(model), "parameters frozen": step(frozen),
             "frozen + channels_last": step(channels_last, torch.channels_last)}
    if with_compile:
        compiled = torch.compile(frozen, dynamic=False)
        started = time.perf_counter()
        step(compiled)(x)
        print(f"  torch.compile: first step (compilation) {time.perf_counter() - started:.1f} s")
        steps["frozen + torch.compile"] = step(compiled)
    return steps


def interleaved(fns: dict[str, Forward], x: torch.Tensor, rounds: int, calls: int) -> dict[str, float]:
    """Median seconds per call of each function, every round running each in turn."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn(x)
    for _ in range(rounds):
        for key, fn in fns.items():
            started = time.perf_counter()
            for _ in range(calls):
                fn(x)
            times[key].append((time.perf_counter() - started) / calls)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--arch", default=ALL_CONV)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (compiles for a while)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:  # imported once per process (a benchmark worker pays it once): start-up below is per network
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "default (all the CPU has)")
    print(f"torch {torch.__version__}, 1 thread, oneDNN ISA limit: {isa}, MKL: "
          f"{os.environ.get('MKL_ENABLE_INSTRUCTIONS', 'default')}")
    peak, conv = gemm_rates()
    print(f"matmul 1024x1024 peak: {peak:.1f} GFLOP/s; conv-shaped GEMM (693*64, 72) @ (72, 8): {conv:.1f} GFLOP/s")
    model = network(args.arch)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(max(BATCHES), 1, 8, 8, generator=gen)
    from robnas.metrics import count_flops

    flops = count_flops(model, (1, 8, 8))
    variants = forwards(model, x[:64])
    with torch.no_grad():
        reference = model(x)
    figures: dict[str, dict[str, float | bool]] = {}
    per_batch = {b: interleaved({k: fn for k, (fn, _) in variants.items()}, x[:b].contiguous(), args.rounds,
                                max(1, 4000 // b)) for b in BATCHES}
    base = {b: per_batch[b]["frozen TorchScript graph"] for b in BATCHES}
    print(f"\nforward of {args.arch} ({flops / 1e6:.2f} MFLOP per image)")
    print("| forward | start-up CPU s | " + " | ".join(f"img/s @{b}" for b in BATCHES) +
          " | vs frozen graph | GFLOP/s @693 | max logit diff | same argmax on 2048 |")
    print("|---|---|" + "---|" * len(BATCHES) + "---|---|---|---|")
    for name, (fn, startup) in variants.items():
        with torch.no_grad():
            out = fn(x)
        diff = (out - reference).abs().max().item()
        same = bool(torch.equal(out.argmax(1), reference.argmax(1)))
        rates = [b / per_batch[b][name] for b in BATCHES]
        ratios = " / ".join(f"{base[b] / per_batch[b][name]:.2f}" for b in BATCHES)
        print(f"| {name} | {startup:.3f} | " + " | ".join(f"{r:,.0f}" for r in rates) +
              f" | {ratios} | {rates[1] * flops / 1e9:.1f} | {diff:.1e} | {'yes' if same else 'NO'} |")
        figures[name] = {"startup": startup, **{f"ips{b}": r for b, r in zip(BATCHES, rates)}, "diff": diff,
                         "same": same}
    y = torch.randint(0, 10, (693,), generator=gen)
    steps = gradient_steps(model, x[:693], y, args.compile)
    want = steps["parameters requiring gradients (before)"](x[:693])
    step_times = interleaved(steps, x[:693].contiguous(), args.rounds, 3)
    before = step_times["parameters requiring gradients (before)"]
    print("\ngradient step (forward + input gradient, batch 693)")
    print("| variant | ms | speed-up | max gradient diff |")
    print("|---|---|---|---|")
    for name, fn in steps.items():
        diff = (fn(x[:693]) - want).abs().max().item()
        print(f"| {name} | {1000 * step_times[name]:.1f} | {before / step_times[name]:.2f}x | {diff:.1e} |")
        figures[f"grad: {name}"] = {"ms": 1000 * step_times[name], "diff": diff}
    if args.json:
        print(json.dumps({"isa": isa, "peak": peak, "conv_gemm": conv, "figures": figures}))


if __name__ == "__main__":
    main()
