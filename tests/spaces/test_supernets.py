"""Supernets of both spaces: forward/backward, gradients everywhere, derivation rules that parse and build."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robnas.errors import InvalidValueError, UnknownNameError
from robnas.models import create_model
from robnas.spaces import get_space
from robnas.spaces.darts import OPS_DARTS, derive_genotype, genotype_from
from robnas.spaces.nb201 import OPS_NB201, derive_arch, parse_arch


def tiny(space: str, partial_channels: int = 1, C: int = 4) -> torch.nn.Module:
    torch.manual_seed(0)
    return get_space(space).supernet(num_classes=3, in_channels=1, mean=[0.5], std=[0.25], C=C,
                                     layers=3 if space == "darts" else 1, partial_channels=partial_channels)


@pytest.mark.parametrize("space,partial_channels", [("darts", 1), ("darts", 2), ("nb201", 1), ("nb201", 2)])
def test_forward_backward_every_parameter_gets_a_gradient(space, partial_channels):
    net = tiny(space, partial_channels)
    x, y = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    logits, cells = net.forward_with_cells(x)
    assert logits.shape == (4, 3) and len(cells) == (3 if space == "darts" else 3)
    F.cross_entropy(logits, y).backward()
    names = set(net.named_arch_parameters())
    assert ("betas_normal" in names) == (space == "darts" and partial_channels > 1)
    for name, p in net.named_arch_parameters().items():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"arch parameter {name} got no gradient"
    arch_ids = {id(p) for p in net.arch_parameters()}
    assert all(id(p) not in arch_ids for p in net.weight_parameters())
    assert len(net.weight_parameters()) + len(net.arch_parameters()) == len(list(net.parameters()))
    assert all(p.grad is not None for p in net.weight_parameters())


def test_partial_channels_send_a_quarter_through_the_ops():
    full, partial = tiny("darts", 1), tiny("darts", 4)
    edge_full, edge_partial = full.cells[0].edges[0], partial.cells[0].edges[0]
    assert edge_partial.channels == edge_full.channels // 4
    assert sum(p.numel() for p in partial.weight_parameters()) < sum(p.numel() for p in full.weight_parameters())
    with pytest.raises(InvalidValueError, match="divide"):
        get_space("darts").supernet(num_classes=3, in_channels=1, mean=None, std=None, C=6, layers=3,
                                    partial_channels=4)


def test_bad_supernet_arguments():
    with pytest.raises(UnknownNameError, match="nb201"):
        get_space("macro").supernet(num_classes=3, in_channels=1, mean=None, std=None, C=4, layers=3)
    with pytest.raises(InvalidValueError, match="layers"):
        get_space("darts").supernet(num_classes=3, in_channels=1, mean=None, std=None, C=4, layers=2)


def _one_hot_rows(choices: list[tuple[str, float]], ops: tuple[str, ...]) -> list[list[float]]:
    rows = []
    for op, strength in choices:
        row = [0.01] * len(ops)
        row[ops.index(op)] = strength
        rows.append(row)
    return rows


def test_darts_rule_keeps_two_strongest_non_none_inputs():
    # Node 2 (edges 0-1), node 3 (2-4), node 4 (5-8), node 5 (9-13). `none` dominates some edges
    # but never counts: edge 2's best non-none op is weaker than edge 3 and 4's.
    choices = [("sep_conv_3x3", 0.5), ("max_pool_3x3", 0.6),
               ("none", 0.9), ("dil_conv_3x3", 0.4), ("skip_connect", 0.3),
               ("sep_conv_5x5", 0.2), ("avg_pool_3x3", 0.25), ("none", 0.95), ("dil_conv_5x5", 0.7),
               ("skip_connect", 0.1), ("sep_conv_3x3", 0.8), ("none", 0.99), ("dil_conv_3x3", 0.2), ("max_pool_3x3", 0.5)]
    normal = _one_hot_rows(choices, OPS_DARTS)
    normal[2][OPS_DARTS.index("sep_conv_3x3")] = 0.05  # the best non-none op of a none-dominated edge
    reduce = _one_hot_rows([("max_pool_3x3", 0.5)] * 14, OPS_DARTS)
    genotype = derive_genotype(normal, reduce)
    assert genotype.normal == (("max_pool_3x3", 1), ("sep_conv_3x3", 0),
                               ("dil_conv_3x3", 1), ("skip_connect", 2),
                               ("dil_conv_5x5", 3), ("avg_pool_3x3", 1),
                               ("sep_conv_3x3", 1), ("max_pool_3x3", 4))
    # Ties: equal strengths keep the lower input index first.
    assert genotype.reduce[:2] == (("max_pool_3x3", 0), ("max_pool_3x3", 1))
    assert genotype_from(genotype.to_str()) == genotype
    model = create_model("darts", genotype=genotype.to_str(), C=4, layers=3, in_channels=1, num_classes=3)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_nb201_rule_is_argmax_per_edge_none_included():
    chosen = ["nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3"]
    alphas = _one_hot_rows([(op, 1.0) for op in chosen], OPS_NB201)
    arch = derive_arch(alphas)
    assert arch == "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
    assert derive_arch([[0.0] * 5] * 6).count("none") == 6  # ties: the first op
    parse_arch(arch)
    model = create_model("nb201", arch=arch, C=4, N=1, in_channels=1, num_classes=3)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_nb201_derivation_can_leave_ops_out():
    """derive_exclude=("none",): the empty cell RNAS converges to on NB201 becomes each edge's runner-up."""
    net = tiny("nb201")
    with torch.no_grad():
        net.alphas.zero_()
        net.alphas[:, OPS_NB201.index("none")] = 5.0  # every edge prefers 'none' ...
        net.alphas[:, OPS_NB201.index("avg_pool_3x3")] = 1.0  # ... then avg_pool
        net.alphas[2, OPS_NB201.index("nor_conv_3x3")] = 2.0  # ... except edge 2<-1
    assert net.derive() == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert net.derive(("none",)) == ("|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+"
                                     "|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|")
    assert "avg_pool" not in net.derive(("none", "avg_pool_3x3"))


def test_darts_derivation_can_leave_more_ops_out_than_none():
    net = tiny("darts")
    with torch.no_grad():
        for alphas in (net.alphas_normal, net.alphas_reduce):
            alphas.zero_()
            alphas[:, OPS_DARTS.index("skip_connect")] = 3.0
    assert "skip_connect" in net.derive() and "skip_connect" not in net.derive(("skip_connect",))
    assert net.derive(("none",)) == net.derive()  # DARTS never derives 'none' anyway


@pytest.mark.parametrize("exclude, message", [
    (("conv_3x3",), "derive_exclude names conv_3x3, not an op of the nb201 supernet; its ops: none, skip_connect"),
    (tuple(OPS_NB201), "leaves no op to derive"),
])
def test_a_bad_derive_exclude_is_one_error_line(exclude, message):
    with pytest.raises(InvalidValueError, match=message):
        tiny("nb201").derive(exclude)


def test_darts_cannot_exclude_every_op_but_none():
    with pytest.raises(InvalidValueError, match="leaves no op to derive"):
        tiny("darts").derive(tuple(op for op in OPS_DARTS if op != "none"))


@pytest.mark.parametrize("space", ["darts", "nb201"])
def test_supernet_derive_builds(space):
    net = tiny(space, 2)
    arch = net.derive()
    kw = dict(genotype=arch, C=4, layers=3) if space == "darts" else dict(arch=arch, C=4, N=1)
    assert create_model(space, in_channels=1, num_classes=3, **kw)(torch.rand(2, 1, 8, 8)).shape == (2, 3)


# Recorded from the supernets before they moved into the spaces (torch 2.13, CPU): after
# torch.manual_seed(0) and building tiny(space, partial_channels), the derived architecture and the next
# global draw. Equal values mean the initialisation consumed the global RNG exactly as before, so a search
# with the same seed starts from the same weights and alphas and derives the same genotypes.
_RECORDED_INIT = {
    ("darts", 1): ("Genotype(normal=[('dil_conv_5x5', 0), ('avg_pool_3x3', 1), ('sep_conv_5x5', 0), "
                   "('skip_connect', 1), ('skip_connect', 2), ('dil_conv_3x3', 3), ('sep_conv_3x3', 3), "
                   "('avg_pool_3x3', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                   "('sep_conv_5x5', 1), ('skip_connect', 2), ('skip_connect', 0), ('dil_conv_3x3', 3), "
                   "('avg_pool_3x3', 2), ('skip_connect', 1), ('avg_pool_3x3', 4)], reduce_concat=[2, 3, 4, 5])",
                   0.4660423994064331),
    ("darts", 2): ("Genotype(normal=[('avg_pool_3x3', 0), ('avg_pool_3x3', 1), ('dil_conv_5x5', 1), "
                   "('sep_conv_5x5', 0), ('avg_pool_3x3', 2), ('sep_conv_5x5', 1), ('avg_pool_3x3', 1), "
                   "('sep_conv_3x3', 0)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                   "('skip_connect', 1), ('dil_conv_5x5', 2), ('avg_pool_3x3', 0), ('max_pool_3x3', 1), "
                   "('avg_pool_3x3', 3), ('dil_conv_5x5', 1), ('skip_connect', 3)], reduce_concat=[2, 3, 4, 5])",
                   0.021362662315368652),
    ("nb201", 1): ("|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
                   0.8879225254058838),
    ("nb201", 2): ("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_3x3~2|",
                   0.5397530794143677),
}


@pytest.mark.parametrize("space,partial_channels", sorted(_RECORDED_INIT))
def test_initialisation_draws_the_global_rng_as_recorded(space, partial_channels):
    net = tiny(space, partial_channels)
    derived, next_draw = _RECORDED_INIT[(space, partial_channels)]
    assert net.derive() == derived
    assert torch.rand(1).item() == next_draw
    assert net.space == space and net.spec == {"space": space, "num_classes": 3, "in_channels": 1, "mean": [0.5],
                                               "std": [0.25], "C": 4, "layers": 3 if space == "darts" else 1,
                                               "partial_channels": partial_channels}
