"""Macro (NSGA-Net / RoCo-NAS) genomes: layout, NSGA-Net's repairs, the canonical key and the cost."""

from __future__ import annotations

import itertools
import random

import pytest

from robnas.errors import InvalidValueError, ParseError
from robnas.metrics import count_flops, count_params
from robnas.models import create_model
from robnas.spaces import get_space
from robnas.spaces.macro import MacroNetwork, decode_phase, genome_key, macro_cost, parse_genome, phase_length
from robnas.spaces.macro.genome import phase_key

SHAPE = (3, 12, 12)
CHAIN = "1000000"  # 4 nodes: node 2 <- node 1; nodes 3, 4 unconnected; no residual


def _cost_of_built(genome: str, C: int = 4) -> tuple[int, int]:
    net = MacroNetwork(genome, C=C, in_channels=SHAPE[0])
    return count_params(net), count_flops(net, SHAPE)


def test_genome_layout():
    assert [phase_length(n) for n in (2, 3, 4, 6)] == [2, 4, 7, 16]
    space = get_space("macro")
    assert space.vector_bounds()[0].size == 3 * 16 and space.size() == 2**48
    assert get_space("macro", n_nodes=4, n_phases=2).sample(random.Random(0)).count("-") == 1
    with pytest.raises(ParseError, match="16"):
        space.validate("0" * 15 + "-" + "0" * 15 + "-" + "0" * 15)
    with pytest.raises(ParseError, match="3 phases|needs 3"):
        space.validate("0" * 16)
    with pytest.raises(ParseError, match="no node count"):
        parse_genome("00000")
    with pytest.raises(InvalidValueError, match="n_nodes"):
        get_space("macro", n_nodes=1)


def test_nsga_net_repairs_and_inactive_nodes():
    # node 2 <- node 1: node 1 (no inputs, a consumer) reads the phase input, node 2 (no consumer)
    # feeds the output, nodes 3 and 4 have neither and are inactive
    graph = decode_phase(tuple(map(int, CHAIN)))
    assert graph.nodes == (1, 2) and graph.inputs == ((0,), (1,)) and graph.output == (2,)
    assert decode_phase(tuple(map(int, CHAIN[:-1] + "1"))).output == (0, 2)  # the residual bit
    # node 4 <- nodes 1 and 3: both read the input, node 2 is inactive
    graph = decode_phase((0, 0, 0, 1, 0, 1, 0))
    assert graph.nodes == (1, 3, 4) and graph.inputs == ((0,), (0,), (1, 3)) and graph.output == (4,)
    # no connection bit: the phase is inactive, whatever its residual bit
    assert decode_phase((0,) * 6 + (1,)) is None and phase_key((0,) * 7) == "inactive"


def test_hand_counted_phase_classes():
    # 3 nodes, connection bits (2<-1, 3<-1, 3<-2): 000 inactive; 100, 010, 001 are one 2-chain;
    # 110 fork, 101 3-chain, 011 join, 111 triangle -> 5 graphs x residual + inactive = 11 keys
    keys = {phase_key(bits) for bits in itertools.product((0, 1), repeat=4)}
    assert len(keys) == 11
    assert len({phase_key((*conn, 0)) for conn in [(1, 0, 0), (0, 1, 0), (0, 0, 1)]}) == 1


def test_equivalent_genomes_share_key_and_cost():
    A, B = "1010011", "0110101"  # two active 4-node phases
    relabelled = {"1000000", "0100000", "0010000", "0001000", "0000100", "0000010"}  # every 2-chain
    equivalent_groups = [
        # an inactive phase drops out wherever it sits, and its residual bit is irrelevant
        [f"{A}-{B}-0000000", f"{A}-0000001-{B}", f"0000000-{A}-{B}"],
        # isomorphic phases: a 2-chain is a 2-chain whichever nodes carry it
        [f"{A}-{chain}-{B}" for chain in sorted(relabelled)],
        ["0000000-0000001-0000000", "0000001-0000000-0000001"],  # no active phase at all
    ]
    for group in equivalent_groups:
        assert len({genome_key(parse_genome(g)) for g in group}) == 1, group
        assert len({_cost_of_built(g) for g in group}) == 1, group


def test_different_networks_get_different_keys():
    A, B = "1010011", "0110101"
    genomes = [f"{A}-{B}-0000000", f"{B}-{A}-0000000", f"{A}-{B}-{CHAIN}", f"{A}-{CHAIN}-{B}",
               f"{A}-{B[:-1]}0-0000000", f"{A}-{CHAIN[:-1]}1-{B}", "0000000-0000000-0000000"]
    assert len({genome_key(parse_genome(g)) for g in genomes}) == len(genomes)


def test_keys_imply_equal_cost_over_all_small_phases():
    # every 4-node phase (128) placed in the middle of a 3-phase genome: one key -> one cost
    cost_of_key: dict[str, tuple[int, int]] = {}
    for bits in itertools.product("01", repeat=7):
        genome = f"1010011-{''.join(bits)}-0110101"
        cost = macro_cost(genome, SHAPE, C=4)
        assert cost_of_key.setdefault(genome_key(parse_genome(genome)), (cost.params, cost.flops)) == \
            (cost.params, cost.flops)
    assert 20 < len(cost_of_key) < 128


def test_closed_form_cost_matches_the_built_network():
    space = get_space("macro")
    rng = random.Random(0)
    for genome in [space.sample(rng), space.sample(rng), "0" * 16 + "-" + "1" * 16 + "-" + "0" * 16]:
        cost = macro_cost(genome, (3, 16, 16), C=4, num_classes=10)
        model = create_model("macro", genome=genome, C=4)
        assert (cost.params, cost.flops) == (count_params(model), count_flops(model, (3, 16, 16)))
