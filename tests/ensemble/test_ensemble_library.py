"""The random-cell ensemble experiment from Python, without the CLI: settings in, plan and rows out."""

from __future__ import annotations

from robnas.data.prepare import DataConfig, prepare_data
from robnas.ensembles import EnsembleConfig, Experiment, check_experiment, run_experiment
from robnas.evaluation.settings import EvalConfig
from robnas.report.ensemble_report import write_ensemble_report
from robnas.store.run_dir import RunDir
from robnas.train.settings import TrainConfig


def test_table6_runs_from_python(tmp_path):
    exp = Experiment(EnsembleConfig(cells=(1, 1), total_cells=2, runs=1, kwargs={"C": 2}, hidden=4, single=False,
                                    published=(), backend="inprocess"),
                     DataConfig("digits", train_size=40, test_size=10), TrainConfig(epochs=2, batch_size=20),
                     EvalConfig(attacks=("fgsm",), hrs_attack="fgsm", reliability=False))
    plan = check_experiment(exp, prepare_data(exp.data, "cpu", exp.seed))
    assert plan.labels == ["ENSEMBLE-1"] and [m.epochs for m in plan.ensembles[0].members] == [1, 1]
    run = RunDir.create(tmp_path, "table6", "ensemble", quiet=True)
    planned, rows = run_experiment(exp, run)
    assert planned == plan and set(rows) == {"ENSEMBLE-1"}
    row = rows["ENSEMBLE-1"]
    assert row["cells"] == [1, 1] and row["model"] == "random_ensemble" and row["evaluation"].n == 10
    assert (run.results / "records" / "ENSEMBLE-1.json").exists()  # kept for a resume
    page = write_ensemble_report(run.results, exp, plan, rows, "digits").read_text()
    assert "| ENSEMBLE† | 1+1 |" in page
    # Resuming reads the finished row back: nothing is trained or attacked again.
    again = run_experiment(exp, run, resume=True)[1]
    assert again["ENSEMBLE-1"]["evaluation"].to_json() == row["evaluation"].to_json()
