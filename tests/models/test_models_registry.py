"""Every registered model, in its tiny variant: shapes, finite logits, gradients, spec round trip."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from robnas.errors import InvalidValueError, ParseError, UnknownNameError
from robnas.models import (
    MODELS,
    Normalize,
    NormalizedClassifier,
    count_parameters,
    create_model,
    list_models,
    model_from_spec,
    register_model,
    set_drop_path_prob,
)
from robnas.spaces.darts import GENOTYPES

NUM_CLASSES = 5


def variants() -> list:
    """Each model's tiny kwargs, plus an auxiliary-head + drop-path variant where supported."""
    out = []
    for name in list_models():
        entry = MODELS.get(name)
        out.append(pytest.param(name, dict(entry.tiny), id=name))
        if "auxiliary" in entry.kwargs:
            out.append(pytest.param(name, dict(entry.tiny, auxiliary=True, drop_path_prob=0.2), id=f"{name}-aux"))
    return out


def tiny_variants() -> list:
    """Each model's tiny kwargs plus one auxiliary variant (all DARTS models share the head code)."""
    return [p for p in variants() if not p.id.endswith("-aux") or p.id == "darts_v2-aux"]


def test_registry_has_every_required_model():
    required = {"resnet18", "resnet34", "resnet50", "preact_resnet18", "wide_resnet", "wrn_28_10", "wrn_34_10",
                "densenet121", "densenet169", "vgg16_bn", "mobilenet_v2", "darts_v1", "darts_v2", "pdarts",
                "pc_darts", "advrush", "racl", "rnas_h", "rnas_l", "darts", "nb201"}
    assert required <= set(list_models())
    assert MODELS.kind == "model"
    assert list_models("*resnet*") == ["preact_resnet18", "resnet18", "resnet34", "resnet50", "wide_resnet"]


@pytest.mark.parametrize(("name", "kwargs"), variants())
def test_train_step_gives_every_parameter_a_finite_gradient(name, kwargs):
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES, in_channels=3, mean=[0.5, 0.4, 0.3],
                         std=[0.2, 0.25, 0.3], **kwargs).train()
    x = torch.rand(2, 3, 16, 16)
    y = torch.tensor([0, 3])
    out = model(x)
    if kwargs.get("auxiliary"):
        assert isinstance(out, tuple) and len(out) == 2
        logits, aux = out
        assert aux.shape == (2, NUM_CLASSES)
        loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    else:
        assert isinstance(out, torch.Tensor)
        logits = out
        loss = F.cross_entropy(logits, y)
    assert logits.shape == (2, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    non_finite = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not missing, f"{name}: no gradient for {missing[:5]}"
    assert not non_finite, f"{name}: non-finite gradient for {non_finite[:5]}"
    # The conv weights right after the input must actually learn something from this batch.
    first = next(p for n, p in model.named_parameters() if p.dim() == 4)
    assert first.grad.abs().sum() > 0


@pytest.mark.parametrize(("name", "kwargs"), tiny_variants())
def test_eval_forward_on_grey_8x8_returns_logits_only(name, kwargs):
    model = create_model(name, num_classes=NUM_CLASSES, in_channels=1, **kwargs).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 8, 8))
    assert isinstance(out, torch.Tensor)
    assert out.shape == (2, NUM_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["resnet18", "vgg16_bn", "darts_v2", "nb201", "densenet121", "mobilenet_v2"])
def test_mnist_sized_input_works(name):
    model = create_model(name, num_classes=10, in_channels=1, **MODELS.get(name).tiny).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize(("name", "kwargs"), tiny_variants())
def test_spec_is_json_and_rebuilds_the_same_architecture(name, kwargs):
    model = create_model(name, num_classes=NUM_CLASSES, in_channels=3, mean=[0.5, 0.5, 0.5],
                         std=[0.25, 0.25, 0.25], **kwargs)
    spec = json.loads(json.dumps(model.spec))  # what a checkpoint stores
    assert spec["name"] == name and spec["num_classes"] == NUM_CLASSES and spec["in_channels"] == 3
    assert {k: spec["kwargs"][k] for k in kwargs} == json.loads(json.dumps(kwargs))  # list kwargs too
    rebuilt = model_from_spec(spec)
    assert isinstance(rebuilt, NormalizedClassifier)
    assert rebuilt.spec == model.spec
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == shapes
    rebuilt.load_state_dict(model.state_dict())  # strict: the checkpoint path


def test_rebuilt_model_computes_the_same_function_once_weights_are_loaded():
    model = create_model("darts_v2", mean=[0.4, 0.4, 0.4], std=[0.2, 0.2, 0.2], **MODELS.get("darts_v2").tiny)
    rebuilt = model_from_spec(model.spec)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), rebuilt.eval()(x))


def test_normalize_is_the_first_layer_and_has_no_parameters():
    model = create_model("resnet18", width=4, mean=[0.5, 0.5, 0.5], std=[0.5, 0.25, 0.125])
    assert isinstance(model.normalize, Normalize)
    assert list(model.normalize.parameters()) == []
    assert {n for n, _ in model.normalize.named_buffers()} == {"mean", "std"}
    x = torch.rand(1, 3, 4, 4)
    expected = (x - 0.5) / torch.tensor([0.5, 0.25, 0.125]).view(1, 3, 1, 1)
    assert torch.allclose(model.normalize(x), expected)
    assert model.spec["mean"] == [0.5, 0.5, 0.5] and model.spec["std"] == [0.5, 0.25, 0.125]


def test_without_statistics_normalize_is_the_identity():
    model = create_model("resnet18", width=4)
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(model.normalize(x), x)
    assert model.spec["mean"] is None and model.spec["std"] is None


@pytest.mark.parametrize(
    ("mean", "std"),
    [([0.5, 0.5], [0.2, 0.2, 0.2]), ([0.5] * 3, [0.2, 0.0, 0.2]), ([0.5] * 3, None), (["a", 0, 0], [1, 1, 1]),
     ([float("nan")] * 3, [1.0] * 3)],
)
def test_bad_normalisation_statistics_are_rejected(mean, std):
    with pytest.raises(InvalidValueError):
        create_model("resnet18", width=4, mean=mean, std=std)


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(UnknownNameError, match="resnet18"):
        create_model("resnet19")


def test_unknown_kwarg_names_the_model_and_its_kwargs():
    with pytest.raises(InvalidValueError, match=r"'wide_resnet'.*widen_factor"):
        create_model("wide_resnet", widen=2)


def test_missing_required_kwarg_is_reported():
    with pytest.raises(InvalidValueError, match="nb201.*arch"):
        create_model("nb201")


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("wide_resnet", {"depth": 27}), ("resnet18", {"width": 0}), ("resnet18", {"width": 2.5}),
     ("darts_v2", {"layers": 2}), ("darts_v2", {"drop_path_prob": 1.0}), ("darts_v2", {"auxiliary": "yes"}),
     ("mobilenet_v2", {"width_mult": -1.0})],
)
def test_bad_kwarg_values_are_rejected(name, kwargs):
    with pytest.raises(InvalidValueError):
        create_model(name, **kwargs)


@pytest.mark.parametrize(("name", "kwargs"), [("nb201", {"arch": "|nor_conv_3x3~0|"}), ("darts", {"genotype": "x"})])
def test_bad_architecture_text_is_a_parse_error(name, kwargs):
    with pytest.raises(ParseError):
        create_model(name, **kwargs)


@pytest.mark.parametrize("num_classes", [0, -1, 2.0, True])
def test_bad_num_classes_is_rejected(num_classes):
    with pytest.raises(InvalidValueError, match="num_classes"):
        create_model("resnet18", num_classes=num_classes, width=4)


@pytest.mark.parametrize("spec", [{}, {"name": "resnet18"}, "resnet18", None])
def test_malformed_spec_is_rejected(spec):
    with pytest.raises(InvalidValueError):
        model_from_spec(spec)


def test_spec_names_the_model_in_lower_case_and_stores_defaults():
    model = create_model("ResNet18", width=4)
    assert model.spec["name"] == "resnet18"
    assert model.spec["kwargs"] == {"width": 4}
    assert create_model("darts_v2", C=4, layers=3).spec["kwargs"] == {
        "C": 4, "layers": 3, "auxiliary": False, "drop_path_prob": 0.0}


def test_register_model_rejects_a_factory_without_the_common_arguments():
    with pytest.raises(TypeError):
        @register_model("never_registered")
        def bad(width: int = 3):  # pragma: no cover - never called
            raise AssertionError

    assert "never_registered" not in list_models()


def test_tiny_kwargs_must_be_parameters_of_the_factory():
    with pytest.raises(TypeError):
        @register_model("never_registered_either", tiny=dict(widht=2))
        def bad(num_classes: int, in_channels: int, width: int = 3):  # pragma: no cover - never called
            raise AssertionError

    assert "never_registered_either" not in list_models()


def test_set_drop_path_prob_reaches_the_darts_network_only():
    darts = create_model("darts_v2", C=4, layers=3)
    assert set_drop_path_prob(darts, 0.3) == 1
    assert darts.net.drop_path_prob == 0.3
    assert set_drop_path_prob(create_model("resnet18", width=4), 0.3) == 0
    with pytest.raises(InvalidValueError):
        set_drop_path_prob(darts, 1.5)


def test_count_parameters_excludes_the_auxiliary_head():
    plain = create_model("darts_v2", C=4, layers=3)
    with_aux = create_model("darts_v2", C=4, layers=3, auxiliary=True)
    head = sum(p.numel() for p in with_aux.net.auxiliary_head.parameters())
    assert head > 0
    assert count_parameters(with_aux) == count_parameters(plain)
    assert count_parameters(with_aux, exclude_auxiliary=False) == count_parameters(plain) + head


def test_architecture_objects_are_stored_as_their_text():
    model = create_model("darts", genotype=GENOTYPES["PDARTS"], C=4, layers=3)
    assert model.spec["kwargs"]["genotype"] == GENOTYPES["PDARTS"].to_str()
    assert model_from_spec(model.spec).spec == model.spec


def test_nb201_requires_the_arch_string():
    with pytest.raises(ParseError):
        create_model("nb201", arch=[[["none", 0]]])


def test_lenet_has_the_classic_parameter_counts():
    from robnas.models import count_parameters, create_model

    assert count_parameters(create_model("lenet", num_classes=10, in_channels=3)) == 62006   # CIFAR-10 LeNet
    assert count_parameters(create_model("lenet", num_classes=10, in_channels=1)) == 61706   # LeNet-5, 28x28
    for shape, kw in (((1, 3, 32, 32), {"in_channels": 3}), ((1, 1, 28, 28), {"in_channels": 1}),
                      ((1, 1, 8, 8), {"in_channels": 1, "padding": 2})):
        assert create_model("lenet", num_classes=10, **kw)(torch.rand(*shape)).shape == (1, 10)
