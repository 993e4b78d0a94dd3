"""Random-cell ensembles (Devaguptapu et al. 2021, section 4.4, Table 6) as a library.

* :mod:`~robnas.ensembles.settings` -- :class:`EnsembleConfig` (the ``[ensemble]`` section) and
  :class:`Experiment` (it, with the data, training and evaluation settings);
* :mod:`~robnas.ensembles.plan` -- which cells are sampled and how long each network trains;
* :mod:`~robnas.ensembles.networks` -- training the networks (each in its own directory) and combining them;
* :mod:`~robnas.ensembles.experiment` -- the whole experiment: :func:`run_experiment`.

The ensemble model itself (members and combiner as one network) is :mod:`robnas.models.ensemble`;
Table 6 is written by :mod:`robnas.report.ensemble_report`. From Python::

    from robnas.ensembles import EnsembleConfig, Experiment, run_experiment
    from robnas.store.run_dir import RunDir

    exp = Experiment(EnsembleConfig(cells=(3, 2, 1), total_cells=6, runs=2, kwargs={"C": 8}))
    plan, rows = run_experiment(exp, RunDir.create("runs", "table6", "ensemble"))
"""

from robnas.ensembles.experiment import check_experiment, run_experiment
from robnas.ensembles.plan import ExperimentPlan, Network, PlannedEnsemble, make_plan, member_epochs
from robnas.ensembles.settings import EnsembleConfig, Experiment

__all__ = ["EnsembleConfig", "Experiment", "ExperimentPlan", "Network", "PlannedEnsemble", "check_experiment",
           "make_plan", "member_epochs", "run_experiment"]
