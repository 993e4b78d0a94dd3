"""NSGA-Net's final macro networks: the ``dense`` decoder at 128 channels in every phase."""

from __future__ import annotations

import pytest
import torch

from robnas.errors import InvalidValueError
from robnas.metrics import count_params
from robnas.models import create_model
from robnas.spaces.macro import MacroNetwork

#: NSGA-Net's published macro genotype (models/macro_genotypes.py ``NSGANet``), written as robnas bits:
#: each phase's node lists [[1], [0, 0], [0, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1, 1], [0]] concatenated.
NSGANET_MACRO = "1000100111100110-0000100101111110-0011011011100110"
#: Parameters of ``EvoNetwork(NSGANet, [(3,128),(128,128),(128,128)], 10, (32,32), decoder='dense')`` in
#: the official code (its validation/train.py final network; README: "3.37M model parameters").
NSGANET_MACRO_PARAMS = 3_370_250


def test_published_nsga_net_macro_network_has_the_official_size():
    net = create_model("macro", genome=NSGANET_MACRO, decoder="dense", C=128)
    assert count_params(net) == NSGANET_MACRO_PARAMS


def _bottleneck(c_in: int) -> int:
    # BN(c_in), conv1x1 c_in -> 256, BN(256), conv3x3 256 -> 64
    return 2 * c_in + c_in * 256 + 2 * 256 + 256 * 64 * 9


def test_hand_counted_dense_phase():
    C = 8
    # one 2-node phase, node 2 <- node 1: node 1 reads the input (C channels), node 2 reads node 1 (64)
    chain = 3 * C * 9 + _bottleneck(C) + _bottleneck(64) + (64 * C + 2 * C) + (C * 10 + 10)
    assert count_params(MacroNetwork("10", C=C, decoder="dense")) == chain
    # the residual bit: the output also reads the phase input, its 1x1 convolution takes 64 + C channels
    assert count_params(MacroNetwork("11", C=C, decoder="dense")) == chain + C * C
    # a second phase keeps the width C (no doubling) and holds the official, unused C x C projection
    two = count_params(MacroNetwork("10-10", C=C, decoder="dense"))
    assert two == chain + C * C + _bottleneck(C) + _bottleneck(64) + (64 * C + 2 * C)


def test_dense_network_runs_and_skips_the_unused_projection():
    torch.manual_seed(0)
    net = MacroNetwork("1011010010000101-0000000000000001-1111111111111110", C=4, in_channels=1,
                       decoder="dense").eval()
    x = torch.rand(2, 1, 28, 28)
    before = net(x)
    assert before.shape == (2, 10)
    later = [m for m in net.features if hasattr(m, "project")][1]
    with torch.no_grad():
        later.project.weight.fill_(3.0)  # equal widths: the projection is never applied
    assert torch.equal(net(x), before)


def test_unknown_decoder_is_one_clear_error():
    with pytest.raises(InvalidValueError, match="unknown decoder 'densenet'.*residual, dense"):
        create_model("macro", genome="10-10", decoder="densenet")
