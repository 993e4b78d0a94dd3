"""The SearchSpace contract, checked for every registered search space."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from robnas.errors import InvalidValueError, ParseError, UnknownNameError
from robnas.models import model_from_spec
from robnas.spaces import SearchSpace, Supernet, get_space, list_spaces, supernet_spaces

SPACE_NAMES = list_spaces()
#: A sample of another space is malformed here: each space's strings are distinct formats.
FOREIGN = {name: get_space(other).sample(random.Random(0)) for name in SPACE_NAMES
           for other in SPACE_NAMES if other != name}


@pytest.fixture(params=SPACE_NAMES)
def space(request) -> SearchSpace:
    return get_space(request.param)


def _samples(space: SearchSpace, n: int = 5, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(n)]


def test_every_space_is_registered():
    assert {"nb201", "darts", "macro"} <= set(SPACE_NAMES)
    assert {"nb201", "darts"} <= set(supernet_spaces()) and "macro" not in supernet_spaces()


def test_sampling_is_seeded_and_round_trips_through_validate_and_key(space):
    archs = _samples(space)
    assert archs == _samples(space), "the same seed must give the same architectures"
    assert len(set(archs)) > 1
    for arch in archs:
        assert space.validate(arch) == arch
        assert space.validate("  " + arch + "\n") == arch
        assert space.key(space.validate(arch)) == space.key(arch)
        assert isinstance(space.key(arch), str) and space.key(arch)


def test_mutation_changes_the_network(space):
    rng = random.Random(1)
    for arch in _samples(space):
        child = space.mutate(arch, rng)
        assert child != arch and space.key(child) != space.key(arch)
        assert child in space.neighbours(arch)


def test_neighbours_are_distinct_reversible_one_edit_changes(space):
    for arch in _samples(space, n=2):
        neighbours = space.neighbours(arch)
        assert neighbours == space.neighbours(arch), "order must be deterministic"
        assert len(neighbours) == len(set(neighbours)) > 0 and arch not in neighbours
        for n in neighbours[:: max(1, len(neighbours) // 8)]:
            assert space.validate(n) == n
            assert arch in space.neighbours(n), "a one-edit change can be undone by one edit"


def test_integer_genome_round_trips_within_bounds(space):
    low, high = space.vector_bounds()
    assert low.shape == high.shape and np.all(low <= high)
    for arch in _samples(space):
        vec = space.to_vector(arch)
        assert vec.dtype.kind == "i" and vec.shape == low.shape
        assert np.all((low <= vec) & (vec <= high))
        assert space.from_vector(vec) == arch
        assert space.from_vector(vec.astype(float).tolist()) == arch  # pymoo's integral floats
    rng = np.random.default_rng(0)
    for _ in range(5):  # every vector within bounds is an architecture
        vec = rng.integers(low, high + 1)
        arch = space.from_vector(vec)
        assert space.validate(arch) == arch and np.array_equal(space.to_vector(arch), vec)


@pytest.mark.parametrize("change", ["too_high", "too_low", "fraction", "short"])
def test_bad_integer_genomes_are_refused(space, change):
    low, high = space.vector_bounds()
    vec = low.astype(float)
    if change == "too_high":
        vec[-1] = high[-1] + 1
    elif change == "too_low":
        vec[0] = low[0] - 1
    elif change == "fraction":
        vec[0] = low[0] + 0.5
    else:
        vec = vec[:-1]
    with pytest.raises(InvalidValueError):
        space.from_vector(vec)


def test_encoding_has_a_fixed_length(space):
    codes = [space.encode(arch) for arch in _samples(space)]
    assert len({c.shape for c in codes}) == 1 and codes[0].ndim == 1 and codes[0].size > 0
    assert all(c.dtype.kind == "f" and np.all(np.isfinite(c)) for c in codes)
    assert any(not np.array_equal(codes[0], c) for c in codes[1:])


def test_build_returns_logits(space):
    arch = _samples(space, n=1)[0]
    model = space.build(arch, num_classes=7, in_channels=1, **space.tiny_size)
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 16, 16))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    assert model.spec["name"] == space.model_name


def test_a_built_network_is_the_model_of_its_spec(space):
    """space.build and the model registry share one factory: same spec, same weights from the same seed."""
    from robnas.models import create_model, model_from_spec

    arch = _samples(space, n=1, seed=3)[0]
    torch.manual_seed(1)
    built = space.build(arch, num_classes=5, in_channels=1, mean=[0.5], std=[0.25], **space.tiny_size)
    torch.manual_seed(1)
    registered = create_model(space.model_name, num_classes=5, in_channels=1, mean=[0.5], std=[0.25],
                              **{space.arch_kwarg: arch}, **space.tiny_size)
    torch.manual_seed(1)
    rebuilt = model_from_spec(built.spec)
    assert built.spec == registered.spec == rebuilt.spec
    assert built.spec["kwargs"][space.arch_kwarg] == space.validate(arch)
    for other in (registered, rebuilt):
        assert built.state_dict().keys() == other.state_dict().keys()
        assert all(torch.equal(v, other.state_dict()[k]) for k, v in built.state_dict().items())


def test_spec_of_a_space_built_network_is_unchanged():
    """The spec dict a space-built network had before spaces built networks themselves (a stored checkpoint
    names its model this way)."""
    arch = "|skip_connect~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    spec = get_space("nb201").build(arch, num_classes=5, in_channels=1, mean=[0.5], std=[0.25], C=4, N=1).spec
    assert spec == {"name": "nb201", "num_classes": 5, "in_channels": 1, "mean": [0.5], "std": [0.25],
                    "kwargs": {"arch": arch, "C": 4, "N": 1}}
    genome = "0110011011010110-0100110111001100-1011101011001110"
    spec = get_space("macro").build(genome, num_classes=5, in_channels=1, mean=[0.5], std=[0.25], C=4).spec
    assert spec == {"name": "macro", "num_classes": 5, "in_channels": 1, "mean": [0.5], "std": [0.25],
                    "kwargs": {"genome": genome, "C": 4, "decoder": "residual"}}
    # a spec stored before the dense decoder existed rebuilds the same (residual) network
    old = {**spec, "kwargs": {"genome": genome, "C": 4}}
    assert model_from_spec(old).spec == spec
    spec = get_space("darts").build(get_space("darts").example(), num_classes=3, in_channels=1, C=4, layers=3).spec
    assert spec["kwargs"] == {"genotype": get_space("darts").example(), "C": 4, "layers": 3, "auxiliary": False,
                              "drop_path_prob": 0.0}


def test_build_refuses_unknown_size_kwargs(space):
    with pytest.raises(InvalidValueError, match=f"model {space.model_name!r} does not accept width"):
        space.build(space.example(), num_classes=3, in_channels=1, width=4)


def test_example_is_a_fixed_valid_architecture(space):
    example = space.example()
    assert example == space.example() and space.validate(example) == example


def test_draw_cell_writes_a_png(space, tmp_path):
    for i, arch in enumerate([space.example(), *_samples(space, n=2)]):
        path = space.draw_cell(arch, tmp_path / f"cell{i}.png")
        assert path == tmp_path / f"cell{i}.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ParseError):
        space.draw_cell("garbage", tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_supernet_where_the_space_has_one(space):
    assert space.has_supernet == (space.supernet_class is not None)
    kw = dict(num_classes=3, in_channels=1, mean=None, std=None, C=4, layers=3)
    if not space.has_supernet:
        with pytest.raises(UnknownNameError, match="has no supernet") as info:
            space.supernet(**kw)
        assert all(name in str(info.value) for name in supernet_spaces())
        return
    torch.manual_seed(0)
    net = space.supernet(**kw)
    assert isinstance(net, Supernet) and net.space == space.name and net.spec["space"] == space.name
    assert space.validate(net.derive()) == net.derive()
    assert net(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_size(space):
    size = space.size()
    assert size is None or size > 1


def test_malformed_strings_raise_parse_errors(space):
    for bad in ["", "garbage", FOREIGN[space.name], None]:
        for method in (space.validate, space.key, space.encode, space.to_vector, space.neighbours):
            with pytest.raises(ParseError) as info:
                method(bad)
            assert "\n" not in str(info.value)


def test_get_space_refuses_unknown_names_and_parameters():
    with pytest.raises(UnknownNameError, match="search space"):
        get_space("nb301")
    with pytest.raises(InvalidValueError, match="n_nodes"):
        get_space("nb201", n_nodes=4)
