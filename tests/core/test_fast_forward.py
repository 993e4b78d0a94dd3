"""The faster forwards and the attack path: exact where used, refused where not, chosen by the start-up rule."""

from __future__ import annotations

import tempfile

import pytest
import torch
from torch import nn

from robnas.data.split import Split
from robnas.models import create_model
from robnas.nn import inference, onnx_runtime
from robnas.nn.attack_path import frozen_parameters, gradient_model, prefers_channels_last
from robnas.nn.onnx_graph import Untranslatable, onnx_model_bytes
from robnas.spaces import get_space

NB201 = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
         "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]


def _randomised(model: nn.Module) -> nn.Module:
    """Batch-norm statistics that are not the identity, as a trained network's are not."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _networks() -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        nets = [(f"nb201 {a}", get_space("nb201").build(a, num_classes=10, in_channels=1, mean=[0.3], std=[0.3],
                                                         C=8, N=1), (1, 8, 8)) for a in NB201]
        nets.append(("darts_v2", get_space("darts").build(get_space("darts").example(), num_classes=10, in_channels=3, C=4, layers=3),
                     (3, 16, 16)))
        nets.append(("lenet", create_model("lenet", num_classes=10, in_channels=1), (1, 28, 28)))
        nets.append(("cnn", nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1), nn.Linear(128, 10)),
                     (1, 8, 8)))
    return [(name, _randomised(net), shape) for name, net, shape in nets]


@pytest.mark.parametrize("name, model, shape", _networks(), ids=lambda v: v if isinstance(v, str) else "")
def test_onnx_runtime_gives_the_models_logits(name, model, shape):
    pytest.importorskip("onnxruntime")
    x = torch.rand(50, *shape, generator=torch.Generator().manual_seed(1))
    fast = onnx_runtime.onnx_forward(model, x[:8])
    if fast is None:  # a network the translator refuses is fine, as long as it says so
        with pytest.raises(Untranslatable):
            onnx_model_bytes(model, x[:8])
        return
    with torch.no_grad():
        want = model(x)
    got = fast(x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5) and torch.equal(got.argmax(1), want.argmax(1))


def test_the_translator_covers_the_nb201_space():
    pytest.importorskip("onnx")
    for arch in NB201:
        model = get_space("nb201").build(arch, num_classes=10, in_channels=1, C=8, N=1).eval()
        assert onnx_model_bytes(model, torch.rand(2, 1, 8, 8))


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] if x.sum() > 0 else -x.flatten(1)[:, :10]


def test_untranslatable_models_are_refused():
    pytest.importorskip("onnx")
    with pytest.raises(Untranslatable):
        onnx_model_bytes(DataDependent().eval(), torch.rand(2, 1, 8, 8))
    with pytest.raises(Untranslatable):
        onnx_model_bytes(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).train(), torch.rand(2, 1, 8, 8))
    with pytest.raises(Untranslatable):  # a layer without a translation
        onnx_model_bytes(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.GELU()).eval(), torch.rand(2, 1, 8, 8))


def test_the_start_up_rule():
    # A runtime is built only when the images it will answer repay its start-up; the one saving most first.
    assert inference.choose(10, runtime_installed=True) == []
    assert inference.choose(100 * 50, runtime_installed=True)[0] == "onnxruntime"  # 50 queries on 100 points
    assert inference.choose(None, runtime_installed=False) == ["frozen"]
    assert inference.choose(100, runtime_installed=False) == []
    startup = inference.ONNX_RUNTIME.startup + (0 if "onnxruntime" in __import__("sys").modules
                                                else inference.ONNX_RUNTIME_IMPORT)
    assert inference.choose(int(startup / inference.ONNX_RUNTIME.saving) + 1, runtime_installed=True)


def test_without_the_runtime_the_frozen_graph_answers(monkeypatch):
    model = _networks()[0][1]
    x = torch.rand(40, 1, 8, 8)
    monkeypatch.setattr(onnx_runtime, "available", lambda: False)
    fast = inference.inference_forward(model, x)
    with torch.no_grad():
        assert torch.allclose(fast(x), model(x), rtol=1e-4, atol=1e-5)
    assert inference.choose(None) == ["frozen"]
    few = inference.inference_forward(model, x, images=20)  # not worth any start-up: the model itself
    assert few.__qualname__.startswith("_no_grad")


def test_attack_path_leaves_the_callers_model_alone():
    model = _networks()[0][1]
    for p in list(model.parameters())[:3]:
        p.requires_grad_(False)  # a caller's own mix of flags comes back as it was
    flags = [p.requires_grad for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with frozen_parameters(model):
        assert not any(p.requires_grad for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == flags
    copy = gradient_model(model)
    assert copy is not model and prefers_channels_last(model)
    assert all(p.is_contiguous() for p in model.parameters())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    x = torch.rand(30, 1, 8, 8, requires_grad=True)
    (g_model,) = torch.autograd.grad(model(x).logsumexp(1).sum(), [x])
    (g_copy,) = torch.autograd.grad(copy(x).logsumexp(1).sum(), [x])
    assert torch.allclose(g_copy, g_model, rtol=1e-4, atol=1e-7)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    assert not prefers_channels_last(mlp) and gradient_model(mlp) is mlp


def test_training_without_checkpoints_gives_the_same_weights():
    from robnas.store.run_dir import RunDir
    from robnas.train import train_model
    from robnas.train.recipes import get_recipe

    recipe = get_recipe("digits-tiny", {"train": {"epochs": 2, "select_best": "clean"}})
    gen = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (128, 1, 8, 8), dtype=torch.uint8, generator=gen),
                  torch.randint(0, 10, (128,), generator=gen))
    weights = []
    for checkpoints in (True, False):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = get_space("nb201").build(NB201[0], num_classes=10, in_channels=1, C=4, N=1)
        with tempfile.TemporaryDirectory() as tmp:
            result = train_model(model, split, split, recipe.train, RunDir(tmp, quiet=True), seed=0, quiet=True,
                                 checkpoints=checkpoints)
            assert (result.best_path is not None) == checkpoints
            assert any((result.last_path or RunDir(tmp).checkpoints).parent.rglob("*.pt")) == checkpoints
        weights.append(model.state_dict())
    assert all(torch.equal(v, weights[1][k]) for k, v in weights[0].items())
