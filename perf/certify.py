"""Does a certified bound pay for itself? Zonotope certification vs Square's 5000 queries (prints figures).

The issue's network (NB201 all-``nor_conv_3x3``, C=8, N=1, 10 epochs on 1000 digits), 100 test points.
Per radius (0.1, 0.5, 1, 2/255): the certified fraction and seconds per point of
:func:`robnas.certify.certify` at a few spare-generator budgets, against the seconds per point that
Square (5000 queries, AutoAttack's standard setting, as in the Jung grid) spends on the same points,
alone and in lockstep with the other radii's Square runs. Square never breaks a certified point
(checked here); the certificate pays where it costs less per point than Square on the points it proves.

    .venv/bin/python perf/certify.py [--points 100] [--queries 5000] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from robnas.attacks import create_attack
from robnas.attacks.evaluate import evaluate_attack
from robnas.attacks.lockstep import run_in_lockstep
from robnas.certify import certify
from robnas.nn.inference import inference_forward

sys.path.insert(0, str(Path(__file__).parent))
from jung_grid import ALL_CONV, trained_network  # noqa: E402  (the same network as the grid benchmark)

RADII = (0.1, 0.5, 1, 2)
SPARE = (16, 64, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, data = trained_network(ALL_CONV)
    x, y = data.test.float_images()[: args.points], data.test.labels[: args.points]
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    print(f"NB201 C=8 N=1 all-conv, {len(x)} points, clean {100 * correct.float().mean():.0f}%, "
          f"{args.threads} thread(s)")

    def square(eps: float):
        return lambda m: evaluate_attack(m, create_attack("square", eps=eps / 255, queries=args.queries,
                                                          rescale_schedule=False), x, y)

    started = time.perf_counter()
    alone = {r: square(r)(model) for r in RADII}
    seconds_alone = time.perf_counter() - started
    started = time.perf_counter()
    together = dict(zip(RADII, run_in_lockstep(model, [square(r) for r in RADII], inference_forward(model, x))))
    seconds_lockstep = time.perf_counter() - started
    print(f"Square {args.queries} queries at {len(RADII)} radii: {seconds_alone:.1f} s alone, "
          f"{seconds_lockstep:.1f} s in lockstep (frozen forward)")
    for r in RADII:
        robust = int((~alone[r].success).sum())
        per_point_alone = alone[r].seconds / max(robust, 1)
        line = [f"{r:>4}/255: Square leaves {robust} robust, {1e3 * per_point_alone:.1f} ms per robust point alone, "
                f"{1e3 * together[r].seconds / max(robust, 1) / len(RADII):.1f} ms in lockstep (share)"]
        for spare in SPARE:
            began = time.perf_counter()
            cert = certify(model, x, y, r / 255, spare=spare)
            took = time.perf_counter() - began
            broken = int((cert.certified & alone[r].success).sum())
            assert broken == 0, "Square broke a certified point: the bound is unsound"
            line.append(f"   spare {spare:>3}: certified {int(cert.certified.sum()):>3} "
                        f"(overflow {int(cert.overflow.sum())}), {1e3 * took / len(x):.1f} ms per point")
        print("\n".join(line), flush=True)


if __name__ == "__main__":
    main()
