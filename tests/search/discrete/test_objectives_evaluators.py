"""Objectives on a tiny trained network; the training evaluator's seeding and budget; tabular lookups."""

from __future__ import annotations

import pickle
import random

import pytest
import torch

from robnas.adversarial_sets import build_advset
from robnas.data import load_dataset
from robnas.errors import DataError, InvalidValueError, ParseError, UnknownNameError
from robnas.metrics import count_flops, count_params
from robnas.search.discrete.training_evaluator import TrainingEvaluator
from robnas.bench.search_runs import BenchmarkEvaluator
from robnas.search.discrete.evaluators import evaluation_seed, run_evaluation
from robnas.search.discrete.objectives import ObjectiveData, parse_objective, parse_objectives
from robnas.spaces import get_space
from robnas.train import train_model
from robnas.store.run_dir import RunDir

SPACE = get_space("nb201")
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
TINY = {"name": "digits", "train_size": 120, "test_size": 40}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from robnas.pipeline.config import TrainConfig

    data = load_dataset("digits", train_size=300, test_size=80, seed=0)
    torch.manual_seed(0)
    model = SPACE.build(ARCH, num_classes=10, in_channels=1, mean=data.mean, std=data.std, C=4, N=1)
    train_model(model, data.train, data.test, TrainConfig(epochs=3, batch_size=50, lr=0.1),
                RunDir(tmp_path_factory.mktemp("train"), quiet=True), quiet=True)
    return model.eval(), data


def test_objectives_measure_a_trained_model(trained):
    model, data = trained
    obj = ObjectiveData(data.test, (1, 8, 8), seed=3)
    clean = parse_objective("clean_error").compute(model, obj)
    fgsm = parse_objective("robust_error:fgsm@8/255").compute(model, obj)
    pgd = parse_objective("robust_error:pgd@16/255").compute(model, obj)
    assert clean < 60.0                      # trained: far better than chance (90%)
    assert clean <= fgsm <= 100.0 and fgsm <= pgd  # an attack only removes correct points; a bigger radius, more
    assert parse_objective("robust_error:fgsm@0/255").compute(model, obj) == clean
    assert parse_objective("flops").compute(model, obj) == count_flops(model, (1, 8, 8))
    assert parse_objective("params").compute(model, obj) == count_params(model)
    # the set is the model's own successful FGSM examples: it must get every one of them wrong
    advset = build_advset([("self", model)], data.test, ["fgsm"], [16.0], "digits")
    assert len(advset.labels) > 0
    assert parse_objective("advset_error").compute(model, ObjectiveData(data.test, (1, 8, 8), advset=advset)) == 100.0
    with pytest.raises(InvalidValueError, match="advset"):
        parse_objective("advset_error").compute(model, obj)


def test_objective_spellings_and_bad_input():
    assert parse_objective("robust_error:pgd@0.0313725490196").name == "robust_error:pgd@8/255"
    assert [o.needs_training for o in parse_objectives(["clean_error", "flops", "params"])] == [True, False, False]
    for bad, error in [("accuracy", UnknownNameError), ("robust_error", ParseError), ("robust_error:pgd", ParseError),
                       ("flops:x", ParseError), ("robust_error:pgd@-1/255", InvalidValueError),
                       ("robust_error:nope@8/255", UnknownNameError), ("robust_error:onepixel@1", InvalidValueError)]:
        with pytest.raises(error):
            parse_objective(bad)
    with pytest.raises(InvalidValueError, match="repeat"):
        parse_objectives(["flops", "flops"])


def test_training_evaluator_is_seeded_by_key_and_leaves_global_rng_alone():
    evaluator = TrainingEvaluator("nb201", ("clean_error", "flops"), data=TINY,
                                  train={"epochs": 1, "batch_size": 40, "lr": 0.1}, build_kwargs={"C": 4, "N": 1})
    assert pickle.loads(pickle.dumps(evaluator)) == evaluator
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = evaluator(ARCH)
    assert torch.equal(torch.get_rng_state(), before)
    assert evaluator(ARCH) == first  # same key, same seed, same numbers
    other = TrainingEvaluator("nb201", ("clean_error", "flops"), data=TINY,
                              train={"epochs": 1, "batch_size": 40, "lr": 0.1}, build_kwargs={"C": 4, "N": 1}, seed=1)
    assert evaluation_seed(0, SPACE.key(ARCH)) != evaluation_seed(1, SPACE.key(ARCH))
    assert other(ARCH)["flops"] == first["flops"]
    budget = evaluator.budget()
    assert budget["epochs"] == 1 and budget["adversarial"] is False and budget["objectives"] == ["clean_error", "flops"]
    cost_only = TrainingEvaluator("nb201", ("flops", "params"), data=TINY, build_kwargs={"C": 4, "N": 1})
    assert "train" not in cost_only.budget()  # nothing is trained, so the recipe is not part of the identity
    # a malformed arch is a stop-the-search error, not a failed evaluation
    with pytest.raises(ParseError):
        run_evaluation((cost_only, "|bogus~0|"))


def test_benchmark_evaluator_answers_from_an_imported_robustness_dataset(tmp_path):
    """The published layout, imported, answers errors in percent at any radius of its axes; a missing
    architecture or radius is a one-line error; the evaluator is plain picklable data."""
    from robnas.bench.layout import import_layout
    from robnas.spaces.nb201 import arch_str
    from tests.bench.layout_files import representative_ids, write_layout

    reps = representative_ids(5)
    written = write_layout(tmp_path / "rd", reps, dataset="digits", measures=("accuracy",))
    path = str(import_layout(tmp_path / "rd", tmp_path / "rd.sqlite"))
    evaluator = BenchmarkEvaluator(path, "nb201", ("clean_error", "robust_error:apgd-ce@8/255"))
    evaluator = pickle.loads(pickle.dumps(evaluator))
    got = evaluator(arch_str(reps[2]))
    assert got == pytest.approx({"clean_error": 100 * (1 - written[("clean", "accuracy")][str(reps[2])]),
                                 "robust_error:apgd-ce@8/255":
                                     100 * (1 - written[("aa_apgd-ce@Linf", "accuracy")][str(reps[2])][-1])})
    assert evaluator.budget() == {"evaluator": "benchmark", "benchmark": path,
                                  "objectives": ["clean_error", "robust_error:apgd-ce@8/255"]}
    missing = next(a for a in (SPACE.sample(random.Random(1)) for _ in range(100))
                   if SPACE.key(a) not in {SPACE.key(arch_str(i)) for i in reps})
    with pytest.raises(DataError, match="is not in benchmark"):
        evaluator(missing)
    with pytest.raises(InvalidValueError, match="not 5/255"):
        BenchmarkEvaluator(path, "nb201", ("robust_error:pgd@5/255",))(arch_str(reps[0]))
