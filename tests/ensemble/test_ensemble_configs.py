"""The shipped ensemble configs: the digits one is `robnas ensemble`'s default, the CIFAR-10 one the paper's."""

from __future__ import annotations

from types import SimpleNamespace

from robnas.cli import build_parser, resolve_config
from robnas.ensembles.plan import check_plan, make_plan, member_epochs
from robnas.pipeline.ensemble import experiment


def test_bare_ensemble_is_the_digits_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = resolve_config(build_parser().parse_args(["ensemble"]))
    assert cfg.data.name == "digits" and cfg.ensemble.cells == (3, 2, 1) and cfg.ensemble.total_cells == 6
    assert list(cfg.eval.attacks) == ["pgd", "apgd-ce"]


def test_cifar10_config_has_the_papers_settings_and_every_network_builds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = resolve_config(build_parser().parse_args(["ensemble", "--config", "cifar10_ensemble"]))
    ens = cfg.ensemble
    # Devaguptapu et al. 4.4: 12 + 6 + 2 cells of 20, 600 DARTS epochs shared by cells, four runs, combiner 2 epochs.
    assert (ens.cells, ens.total_cells, ens.runs, ens.combiner_epochs) == ((12, 6, 2), 20, 4, 2)
    assert cfg.data.name == "cifar10" and cfg.train.epochs == 600 and ens.kwargs["C"] == 36
    assert member_epochs(ens.cells, cfg.train.epochs) == (360, 180, 60)
    plan = make_plan(experiment(cfg))
    assert [n.label for n in plan.published] == ["DARTS_V2", "PDARTS", "PC_DARTS"] and len(plan.singles) == 4
    assert all(n.kwargs["layers"] == 20 and n.epochs == 600 for n in plan.singles + plan.published)
    check_plan(experiment(cfg), plan, SimpleNamespace(num_classes=10, in_channels=3))  # builds each kind of network once


def test_runs_sample_different_cells_and_the_draw_is_seeded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = resolve_config(build_parser().parse_args(["ensemble"]))
    plan, again = make_plan(experiment(cfg)), make_plan(experiment(cfg))
    def drawn(p):
        members = [m.kwargs["genotype"] for e in p.ensembles for m in e.members]
        return members + [n.kwargs["genotype"] for n in p.singles]

    genotypes = drawn(plan)
    assert genotypes == drawn(again)
    assert len(set(genotypes)) == len(genotypes) == 4 * 3 + 4
    other = resolve_config(build_parser().parse_args(["ensemble", "--seed", "1"]))
    assert make_plan(experiment(other)).ensembles[0].members[0].kwargs["genotype"] != genotypes[0]
