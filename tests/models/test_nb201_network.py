"""The NAS-Bench-201 macro network: published parameter counts and layout."""

from __future__ import annotations

import pytest
import torch

from robnas.models import count_parameters, create_model
from robnas.spaces.nb201 import OPS, NB201Network, parse_arch
from robnas.spaces.nb201.ops import ResNetBasicBlock

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.mark.parametrize(("arch", "params"), [(ALL_CONV3, 1_531_546), (ALL_NONE, 73_306)])
def test_parameter_counts_equal_the_benchmark_extremes(arch, params):
    # NAS-Bench-201 (CIFAR-10, C=16, N=5) reports params from 0.073306 MB to 1.531546 MB:
    # the all-none cell is the smallest network and the all-3x3-conv cell the largest.
    assert count_parameters(create_model("nb201", arch=arch, num_classes=10)) == params


def test_stages_double_the_width_through_resnet_blocks():
    net = NB201Network(ALL_CONV3, C=4, N=2)
    blocks = [i for i, m in enumerate(net.cells) if isinstance(m, ResNetBasicBlock)]
    assert blocks == [2, 5] and len(net.cells) == 8
    assert net.classifier.in_features == 16
    assert net.arch == ALL_CONV3


def test_cell_output_is_the_last_node():
    # Node 3 = skip(node 0) only (other edges none): a cell is then the identity.
    identity_arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"
    net = NB201Network(identity_arch, C=4, N=1).eval()
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(net.cells[0](x), x)


def test_accepts_parsed_nodes_too():
    assert NB201Network(parse_arch(ALL_CONV3), C=4, N=1).arch == ALL_CONV3


@pytest.mark.parametrize("name", list(OPS))
def test_every_cell_op_keeps_the_shape(name):
    assert OPS[name](4, 4, 1)(torch.randn(2, 4, 6, 6)).shape == (2, 4, 6, 6)


def test_avg_pool_projects_only_when_widths_differ():
    assert list(OPS["avg_pool_3x3"](4, 4, 1).parameters()) == []
    assert OPS["avg_pool_3x3"](4, 8, 1)(torch.randn(1, 4, 6, 6)).shape == (1, 8, 6, 6)
