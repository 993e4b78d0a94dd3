"""The random-cell ensemble as one network: gradients reach every member, members frozen, weights exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robnas.attacks.gradient import QueryCounter, cross_entropy_gradient
from robnas.errors import CheckpointError, InvalidValueError
from robnas.models import create_model
from robnas.models.ensemble import LinearCombiner, check_cells, load_member_weights
from robnas.ensembles import member_epochs
from robnas.spaces.darts import GENOTYPES
from robnas.train import load_model
from robnas.train.checkpoint import save_checkpoint

GENOS = [GENOTYPES["DARTS_V2"].to_str(), GENOTYPES["PDARTS"].to_str(), GENOTYPES["PC_DARTS"].to_str()]
CELLS = [3, 2, 1]
SHAPE = {"num_classes": 10, "in_channels": 1, "mean": [0.5], "std": [0.25]}


def tiny_ensemble(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("random_ensemble", genotypes=GENOS, cells=CELLS, C=4, hidden=8, **SHAPE).eval()


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(6, 1, 8, 8, generator=gen), torch.arange(6) % 10


def attack_gradient(model: nn.Module) -> torch.Tensor:
    x, y = batch()
    return cross_entropy_gradient(model, x, y, QueryCounter()).grad


def test_the_attack_gradient_depends_on_every_member():
    model = tiny_ensemble()
    before = attack_gradient(model)
    assert before.abs().sum() > 0
    for i in range(len(CELLS)):
        changed = tiny_ensemble()
        with torch.no_grad():
            for p in changed.net.members[i].parameters():
                p.mul_(1.5)
        after = attack_gradient(changed)
        assert not torch.allclose(before, after), f"the input gradient ignores member {i + 1}"


def test_every_member_receives_a_gradient_through_the_ensemble_loss():
    model = tiny_ensemble()
    x, y = batch()
    x.requires_grad_(True)
    nn.functional.cross_entropy(model(x), y).backward()
    for i, member in enumerate(model.net.members):
        total = sum(p.grad.abs().sum() for p in member.parameters() if p.grad is not None)
        assert total > 0, f"member {i + 1} got no gradient"
    assert x.grad.abs().sum() > 0


def test_ensemble_is_the_combiner_over_the_trained_members_logits():
    torch.manual_seed(3)
    members = [create_model("ensemble_member", genotype=g, layers=c, C=4, **SHAPE).eval() for g, c in zip(GENOS, CELLS)]
    model = tiny_ensemble()
    load_member_weights(model, [m.state_dict() for m in members])
    x, _ = batch()
    with torch.no_grad():
        expected = model.net.combiner(torch.cat([m(x) for m in members], dim=1))
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_members_stay_frozen_in_training_mode():
    model = tiny_ensemble().train()
    assert all(not m.training for m in model.net.members) and model.net.combiner.training
    stats = [b.clone() for b in model.net.members.buffers()]
    model(batch()[0])
    assert all(torch.equal(a, b) for a, b in zip(stats, model.net.members.buffers()))


def test_combiner_is_the_papers_two_linear_layers_with_batch_norm_then_a_classifier():
    combiner = tiny_ensemble().net.combiner
    assert isinstance(combiner, LinearCombiner)
    kinds = [type(m) for m in combiner.layers]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.Linear, nn.BatchNorm1d, nn.Linear]
    assert combiner.layers[0].in_features == len(CELLS) * 10 and combiner.layers[-1].out_features == 10


@pytest.mark.parametrize("layers", [1, 2])
def test_members_may_have_fewer_cells_than_a_published_network(layers):
    model = create_model("ensemble_member", genotype=GENOS[0], layers=layers, C=4, **SHAPE).eval()
    assert model(batch()[0]).shape == (6, 10)


def test_epochs_follow_the_papers_rule():
    # Devaguptapu et al.: 600 epochs for 20 cells, so members of 12, 6 and 2 cells train 360, 180, 60.
    assert member_epochs((12, 6, 2), 600) == (360, 180, 60)
    assert member_epochs((3, 2, 1), 10) == (5, 3, 2)
    assert sum(member_epochs((7, 7, 6), 10)) == 10


@pytest.mark.parametrize(("cells", "total", "words"), [((12, 6, 3), 20, "sums to 21"),
                                                      ((20, 0), 20, "at least one cell"),
                                                      ((), 20, "positive integers")])
def test_bad_splits_say_what_is_wrong(cells, total, words):
    with pytest.raises(InvalidValueError, match=words):
        check_cells(cells, total)


def test_an_ensemble_checkpoint_missing_a_member_names_it(tmp_path):
    model = tiny_ensemble()
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("net.members.1.")}
    path = tmp_path / "ensemble.pt"
    save_checkpoint(path, {"model_spec": model.spec, "model_state": state})
    with pytest.raises(CheckpointError, match="member 2 of 3"):
        load_model(path)
    save_checkpoint(path, {"model_spec": model.spec, "model_state": model.state_dict()})
    loaded, _ = load_model(path)
    x, _ = batch()
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
