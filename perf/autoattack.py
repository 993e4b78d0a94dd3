"""Our ``standard`` AutoAttack against pyautoattack's, and the corruption suite's throughput (prints figures).

Part 1, in one run on the same trained model and points (the small CNN of ``perf/attacks.py``,
standard-trained on 3000 Fashion-MNIST images when the Debian package is installed, else digits
upsampled to 32x32): wall time of ``create_attack("autoattack", version="standard")`` as the evaluation
engine runs it (its plain forwards through the frozen inference graph) and of
``pyautoattack.AutoAttack(version="standard")`` (full standard budgets on both sides: 100 iterations,
9 target classes, Square 5000 queries), median of ``--repeats`` runs alternating ours and theirs
in ABBA order (the machine is shared), time ratio (target <= 0.6), robust accuracies (target: within 0.5 points)
and both sides' robust accuracy after each member (theirs read from its ``auto-attack`` log).

Part 2: the whole 15 x 5 common-corruption suite (``robnas.corruptions``) over ``--corruption-n``
32x32 RGB images (default 10,000), in chunks of 1000. The images are a smooth synthetic pattern:
uniform noise on an 8x8 grid upsampled bilinearly, so blurs, JPEG and pixelation see image-like
content rather than white noise.

    .venv/bin/python perf/autoattack.py [--dataset auto|fashion-mnist|digits] [--n 256] [--eps 8]
        [--norm Linf|L2] [--repeats 3] [--threads 1] [--corruption-n 10000] [--skip-attacks]
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pyautoattack import AutoAttack as ReferenceAutoAttack

from robnas.attacks import create_attack
from robnas.attacks.lockstep import run_in_lockstep
from robnas.nn.inference import inference_forward
from robnas.corruptions import corrupt, list_corruptions
from robnas.rng import make_generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import accuracy, cnn, load_benchmark_data, train  # noqa: E402  (perf/attacks.py)

_AFTER = re.compile(r"robust accuracy after (\S+): ([\d.]+)%")


class _MemberLog(logging.Handler):
    """Collects pyautoattack's ``robust accuracy after APGD-CE: 55.60% ...`` debug lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.after: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = _AFTER.search(record.getMessage())
        if match:
            self.after[match.group(1).lower()] = float(match.group(2))


def compare_autoattack(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str,
                       repeats: int) -> None:
    ours = create_attack("autoattack", eps=eps, norm=norm, version="standard", seed=0)
    reference = ReferenceAutoAttack(model, eps=eps, norm=norm, version="standard", seed=0, device="cpu")
    log = _MemberLog()
    aa_logger = logging.getLogger("auto-attack")
    aa_logger.addHandler(log)
    aa_logger.setLevel(logging.DEBUG)
    aa_logger.propagate = False
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    def run_ours() -> Any:
        # As robnas's evaluation engine runs it: in lockstep (gradients from the channels-last copy), plain
        # forwards (Square's queries) through the fastest exact forward, built inside the timing.
        return run_in_lockstep(model, [lambda m: ours.run(m, x, y)], inference_forward(model, x))[0]

    def run_theirs() -> Any:
        with torch.random.fork_rng():  # pyautoattack reseeds the global RNG
            return reference.run_standard_evaluation(x, y, batch_size=x.shape[0])[1]

    for r in range(repeats):  # ABBA...: load drift on the shared machine hits both alike
        for key in (("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")):
            started = time.perf_counter()
            if key == "ours":
                result = run_ours()
            else:
                y_ref = run_theirs()
            times[key].append(time.perf_counter() - started)
    t_ours, t_ref = statistics.median(times["ours"]), statistics.median(times["theirs"])
    ours_acc, ref_acc = 100 * result.robust_accuracy, 100 * (y_ref == y).float().mean().item()
    print(f"\n{'AutoAttack standard':<24} {'median s':>9} {'all runs s':>24} {'robust acc %':>13}")
    for label, key, acc in (("robnas autoattack", "ours", ours_acc), ("pyautoattack 0.2.0", "theirs", ref_acc)):
        runs = ", ".join(f"{t:.1f}" for t in times[key])
        print(f"{label:<24} {statistics.median(times[key]):9.1f} {runs:>24} {acc:13.2f}")
    ratio, gap = t_ours / t_ref, abs(ours_acc - ref_acc)
    print(f"time ratio {ratio:.2f} (target <= 0.6: {'met' if ratio <= 0.6 else 'NOT met'}); "
          f"accuracy gap {gap:.2f} points (target <= 0.5: {'met' if gap <= 0.5 else 'NOT met'})")
    print("robust accuracy % after each member (ours | theirs):")
    for member, acc in result.cumulative:
        theirs = log.after.get(member)
        print(f"  {member:<8} {100 * acc:6.2f} | {'-' if theirs is None else f'{theirs:6.2f}'}")


def smooth_images(n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 8, 8, generator=gen)
    return F.interpolate(coarse, size=32, mode="bilinear", align_corners=False).clamp(0, 1)


def corruption_throughput(n: int, seed: int = 0) -> None:
    images = smooth_images(n, seed)
    total = 0.0
    print(f"\ncorruptions: 15 x 5 severities over {n} 32x32 RGB images (smooth synthetic), chunks of 1000, "
          f"threads={torch.get_num_threads()}")
    for name in list_corruptions():
        gen = make_generator(seed)
        started = time.perf_counter()
        for severity in range(1, 6):
            for chunk in images.split(1000):
                corrupt(name, chunk, severity, gen)
        seconds = time.perf_counter() - started
        total += seconds
        print(f"  {name:<20} {seconds:8.2f} s  {5 * n / seconds:10.0f} images/s")
    print(f"  {'all 15 x 5':<20} {total:8.2f} s  {75 * n / total:10.0f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["auto", "fashion-mnist", "digits", "digits8"], default="auto")
    parser.add_argument("--n", type=int, default=256, help="test points attacked")
    parser.add_argument("--eps", type=float, default=8.0, help="radius; Linf in 1/255 units, L2 as is")
    parser.add_argument("--norm", choices=["Linf", "L2"], default="Linf")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--corruption-n", type=int, default=10_000, help="0 skips the corruption timing")
    parser.add_argument("--skip-attacks", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}")
    if not args.skip_attacks:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            name, (x_train, y_train, x_test, y_test) = load_benchmark_data(args.dataset)
            model = train(cnn(x_train.shape[-1]), x_train, y_train, args.epochs)
        x, y = x_test[: args.n], y_test[: args.n]
        eps = args.eps / 255 if args.norm == "Linf" else args.eps
        label = f"{args.eps:g}/255" if args.norm == "Linf" else f"{args.eps:g}"
        print(f"CNN on {name}: clean accuracy {100 * accuracy(model, x, y):.2f}% on {x.shape[0]} test points; "
              f"{args.norm} eps {label}; median of {args.repeats} alternating runs")
        compare_autoattack(model, x, y, eps, args.norm, args.repeats)
    if args.corruption_n:
        corruption_throughput(args.corruption_n)


if __name__ == "__main__":
    main()
