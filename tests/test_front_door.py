"""``import robnas`` gives the main entry points, each the real thing behind it (not a copy)."""

from __future__ import annotations

import random

import torch

import robnas
from robnas.attacks import create_attack
from robnas.certify import certify
from robnas.evaluation import evaluate, get_protocol
from robnas.models import create_model
from robnas.search.discrete import create_strategy
from robnas.spaces import get_space


def test_the_front_door_is_the_library():
    assert (robnas.create_model, robnas.create_attack, robnas.evaluate, robnas.get_protocol, robnas.get_space,
            robnas.create_strategy, robnas.certify) == (create_model, create_attack, evaluate, get_protocol,
                                                        get_space, create_strategy, certify)
    assert callable(robnas.bench.open) and callable(robnas.proxies.compute) and callable(robnas.search.run)
    assert set(robnas.__all__) >= {"create_model", "create_attack", "evaluate", "get_space", "create_strategy",
                                   "bench", "proxies", "certify", "search"}


def test_the_entry_points_work_together():
    space = robnas.get_space("nb201")
    arch = space.sample(random.Random(0))
    model = robnas.create_model("nb201", arch=arch, C=4, N=1, num_classes=10, in_channels=1).eval()
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8)
    attack = robnas.create_attack("fgsm", eps=8 / 255)
    result = attack.run(model, x, y, generator=torch.Generator().manual_seed(0))
    assert (result.x_adv - x).abs().max() <= 8 / 255 + 1e-6
    assert isinstance(robnas.proxies.compute("jacobian", model, x, y, seed=0), float)
    strategy = robnas.create_strategy("rs", space, ["error"], seed=0)
    assert strategy.ask()

