"""Objectives on a tiny trained network; the training evaluator's seeding and budget; tabular lookups."""

from __future__ import annotations

import json
import pickle
import random

import pytest
import torch

from robnas.advsets import build_advset
from robnas.data import load_dataset
from robnas.errors import DataError, InvalidValueError, ParseError, UnknownNameError
from robnas.metrics import count_flops, count_params
from robnas.pipeline.candidates import TrainingEvaluator
from robnas.search.discrete.evaluators import TableEvaluator, evaluation_seed, run_evaluation
from robnas.search.discrete.objectives import ObjectiveData, parse_objective, parse_objectives
from robnas.spaces import get_space
from robnas.store.benchmark_tables import keyed_rows, read_table
from robnas.store.results_db import ResultsDB
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


def _robustness_dataset(root, archs, bad_arch=None):
    folder = root / "digits"
    folder.mkdir(parents=True)
    ids = {str(i): {"nb201-string": a, "isomorph": i} for i, a in enumerate(archs)}
    if bad_arch:
        ids[str(len(archs))] = {"nb201-string": bad_arch, "isomorph": len(archs)}
    clean = {str(i): 90.0 - i for i in range(len(ids))}
    pgd = {str(i): [80.0 - i, 50.0 - i] for i in range(len(ids))}
    (folder / "meta.json").write_text(json.dumps({"ids": ids, "epsilons": {"pgd@Linf": [1, 8]}}))
    (folder / "clean_accuracy.json").write_text(json.dumps({"digits": {"clean": {"accuracy": clean}}}))
    (folder / "pgd@Linf_accuracy.json").write_text(json.dumps({"digits": {"pgd@Linf": {"accuracy": pgd}}}))


def test_table_evaluator_answers_from_an_imported_robustness_dataset(tmp_path):
    rng = random.Random(0)
    archs = [SPACE.sample(rng) for _ in range(5)]
    _robustness_dataset(tmp_path / "rd", archs)
    rows = keyed_rows(SPACE, read_table(tmp_path / "rd", "digits"), "rd")
    evaluator = TableEvaluator(str(tmp_path / "r.db"), "nb201", "digits", "rd",
                               ("clean_error", "robust_error:pgd@8/255"))
    with ResultsDB(tmp_path / "r.db") as db:
        assert db.import_table(evaluator.slot, rows, source="rd") == len({k for k, _, _ in rows})
    assert evaluator(archs[2]) == {"clean_error": 12.0, "robust_error:pgd@8/255": 52.0}
    missing = next(a for a in (SPACE.sample(rng) for _ in range(100)) if SPACE.key(a) not in {k for k, _, _ in rows})
    with pytest.raises(DataError, match="is not in benchmark table"):
        evaluator(missing)
    with pytest.raises(DataError, match="has no robust_error:pgd@2/255"):
        TableEvaluator(evaluator.db, "nb201", "digits", "rd", ("robust_error:pgd@2/255",))(archs[0])
    _robustness_dataset(tmp_path / "bad", archs, bad_arch="|nor_conv_3x3~0|+|oops~0|none~1|")
    with pytest.raises(ParseError, match="row 6"):
        keyed_rows(SPACE, read_table(tmp_path / "bad", "digits"), "bad")
