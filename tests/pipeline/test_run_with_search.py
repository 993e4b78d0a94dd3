"""`robnas run` with a search on a tiny budget: search -> train the derived cell and the baselines -> attack -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import robnas.pipeline.run as study
from robnas.config.loading import load_config
from robnas.pipeline.config import EvalConfig, RunConfig
from robnas.eps import Eps
from robnas.errors import UnknownNameError
from robnas.evaluation import protocol_for
from robnas.search.differentiable.resumable import check_search
from tests.pipeline.conftest import EMPTY_CONFIG, TINY_RUN


SEARCH_RUN = [
    *TINY_RUN, "--epochs", "1", "--attacks", "fgsm,pgd,pgd-3", "--baseline", "ResNet-18",
    "--set", "search.space=darts", "--set", "search.method=advrush",
    "--set", "search.differentiable.epochs=2", "--set", "search.differentiable.train_size=64",
    "--set", "search.differentiable.batch_size=32", "--set", "search.differentiable.C=2",
    "--set", "searched.enabled=true", "--set", "searched.kwargs={C=2, layers=3}",
    "--set", "landscape.enabled=true", "--set", "landscape.points=8", "--set", "landscape.resolution=3",
    "--set", 'models=[{name="darts_v2", label="DARTS_V2", kwargs={C=2, layers=3}}, '
             '{name="resnet18", label="ResNet-18", kwargs={width=2}}]',
]
LABELS = ["searched (advrush)", "DARTS_V2", "ResNet-18"]


def _refuse(*_args, **_kwargs):
    raise AssertionError("a resumed, finished run must not search or train again")


def test_run_searches_trains_attacks_reports_and_resumes(cli, tmp_path, monkeypatch):
    cli("run", "--config", EMPTY_CONFIG, *SEARCH_RUN, "--name", "s", check=True)
    run = tmp_path / "runs" / "s"
    results = run / "results"
    genotype = (results / "genotype.txt").read_text().strip()
    assert genotype.startswith("Genotype(normal=[")
    report = json.loads((results / "results.json").read_text())
    assert [m["label"] for m in report["models"]] == LABELS
    searched = report["models"][0]
    assert searched["model"] == "darts" and searched["kwargs"]["genotype"] == genotype
    assert searched["kwargs"]["C"] == 2 and searched["kwargs"]["layers"] == 3
    for m in report["models"]:
        ev = m["evaluation"]
        assert set(ev["threat_models"]) == {"fgsm", "pgd", "pgd-3"} and m["landscape"]["resolution"] == 3
        assert ev["worst_case"]["Linf"]["8/255"] <= ev["clean"]["accuracy"]
    table = (results / "table.md").read_text()
    assert all(f"| {label} |" in table for label in LABELS)
    md = (results / "report.md").read_text()
    assert genotype in md and "searched (advrush)" in md and "PP-HRS" in md
    for png in ("cells.png", "alphas.png", "clean_vs_pgd.png", "landscape.png"):
        assert f"({png})" in md
        assert (results / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert set(json.loads((results / "landscape.json").read_text())["models"]) == set(LABELS)

    # --resume after a finished run redoes nothing: no search, no training; the same results
    before = {p.name: p.read_text() for p in results.glob("*.json")}
    monkeypatch.setattr(study, "search_in_run", _refuse)
    monkeypatch.setattr(study, "train_one", _refuse)
    cli("run", "--config", EMPTY_CONFIG, *SEARCH_RUN, "--name", "s", "--resume", check=True)
    after = {p.name: p.read_text() for p in results.glob("*.json")}
    assert after == before

    # a lost model record is the unit of resume: only that model is evaluated again (from its finished checkpoint)
    (results / "records" / "ResNet-18.json").unlink()
    monkeypatch.setattr(study, "train_one", lambda cfg, mc, data, child: study.build_model(
        mc, data.dataset, cfg.seed) if mc.label == "ResNet-18" else _refuse())
    cli("run", "--config", EMPTY_CONFIG, *SEARCH_RUN, "--name", "s", "--resume", check=True)
    assert (results / "records" / "ResNet-18.json").exists()
    assert [m["label"] for m in json.loads((results / "results.json").read_text())["models"]] == LABELS


@pytest.mark.parametrize("override, needle", [
    ("search.method=nsga2", "differentiable"),
    ("search.space=macro", "space"),
    ('searched.kwargs={genotype="x"}', "derives"),
    ("searched.label=ResNet-18", "unique"),
    ("search.differentiable.epochs=0", "epochs"),
])
def test_bad_search_settings_fail_before_the_run_directory(cli, tmp_path, override, needle):
    proc = cli("run", "--config", EMPTY_CONFIG, *SEARCH_RUN, "--set", override, "--name", "bad")
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and needle in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "runs" / "bad").exists()


def test_iterative_attacks_take_their_own_step_count():
    cfg = EvalConfig(attacks=("fgsm", "pgd-20", "pgd-100", "pgd"), hrs_attack="pgd-20", steps=10)
    protocol = protocol_for(cfg)
    eps = Eps.parse(0.031)
    assert protocol.threat_model("pgd-100").parameters(eps, 0)["steps"] == 100
    assert protocol.threat_model("pgd").parameters(eps, 0)["steps"] == 10
    assert protocol.threat_model("pgd-100").title == "PGD-100" and protocol.hrs == "pgd-20"
    with pytest.raises(UnknownNameError):
        protocol_for(EvalConfig(attacks=("pgd", "fgsm-3")))


@pytest.mark.parametrize("name", ["digits", "fashion_mnist", "cifar10_advrush", "cifar10_rnas"])
def test_shipped_configs_search_and_validate(name):
    cfg = load_config(RunConfig, name)
    protocol_for(cfg.eval)
    check_search(cfg.search.space, cfg.search.method, cfg.search.differentiable)
    assert cfg.searched.enabled and cfg.eval.baseline in [m.label for m in cfg.models]
    assert {m.name for m in cfg.models} >= {"resnet18", "darts_v2"}


def test_cifar10_configs_hold_the_papers_settings():
    adv = load_config(RunConfig, "cifar10_advrush")
    d = adv.search.differentiable
    assert (adv.search.method, d.C, d.layers, d.batch_size, d.epochs) == ("advrush", 16, 8, 32, 60)
    assert (d.advrush.warmup_epochs, d.advrush.gamma, d.advrush.h) == (50, 0.01, 1.5)
    assert adv.searched.kwargs == {"C": 36, "layers": 20}
    t = adv.train.adversarial
    assert (t.enabled, t.eps, t.alpha, t.steps) == (True, Eps.parse("0.031"), Eps.parse("0.01"), 7)
    assert adv.eval.attacks == ("fgsm", "pgd-20", "pgd-100", "apgd-ce", "autoattack")
    assert adv.eval.eps == (Eps.parse("0.031"),) and float(adv.eval.eps[0]) == 0.031
    rnas = load_config(RunConfig, "cifar10_rnas")
    d = rnas.search.differentiable
    assert (rnas.search.method, d.layers, d.batch_size, d.epochs, d.lr, d.arch_lr) == ("rnas", 8, 128, 60, 0.01, 6e-4)
    assert (d.rnas.bound, d.rnas.warmup_epochs, rnas.train.epochs, rnas.train.adversarial.steps) == (1e-4, 15, 300, 7)


def test_the_searched_row_builds_the_network_of_its_space():
    from robnas.config import config_from_dict
    from robnas.models import create_model
    from robnas.pipeline.run import searched_model

    arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    cfg = config_from_dict(RunConfig, {"search": {"space": "nb201", "method": "darts"},
                                       "searched": {"enabled": True, "kwargs": {"C": 4, "N": 1}}})
    mc = searched_model(cfg, arch)
    assert (mc.name, mc.label, mc.kwargs) == ("nb201", "searched (darts)", {"arch": arch, "C": 4, "N": 1})
    assert create_model(mc.name, num_classes=10, in_channels=1, **mc.kwargs).spec["kwargs"]["arch"] == arch
