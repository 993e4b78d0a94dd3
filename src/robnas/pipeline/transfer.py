"""``robnas transfer``: the source x target accuracy matrix of AdvRush Table 2 (first eps of ``[eval]``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from robnas.attacks import create_attack
from robnas.pipeline.config import RunConfig, written_config
from robnas.evaluation import SuiteSettings
from robnas.evaluation.transfer import transfer_matrix
from robnas.pipeline.models import gather_models, require_models
from robnas.report.transfer_report import write_transfer_report
from robnas.store.run_dir import RunDir


def run(cfg: RunConfig) -> Path:
    """Craft examples on every model with ``[transfer]``'s attack (full budget) and score every model on them."""
    t = cfg.transfer
    # The source attack's own iteration count ([transfer] steps) on top of the [eval] settings' rules.
    source = SuiteSettings.of(replace(cfg.eval, steps=t.steps)).threat_model(t.attack, (cfg.eval.eps[0],))
    params = {**source.parameters(cfg.eval.eps[0], cfg.seed), "early_stop": False}
    attack = create_attack(source.attack, **params)
    data, entries = gather_models(cfg)
    require_models(entries, "transfer", least=2)
    run_dir = RunDir.create(cfg.out, cfg.name, "transfer", quiet=cfg.quiet)
    run_dir.write_config(written_config(cfg))
    run_dir.log(f"transfer {t.attack} {params} between {[label for label, _ in entries]}")
    result = transfer_matrix(entries, data.test, attack, batch_size=cfg.eval.batch_size, quiet=cfg.quiet)
    for path in write_transfer_report(run_dir.results, result, {"dataset": data.name, "seed": cfg.seed}):
        run_dir.log(f"wrote {path}")
    return run_dir.results
