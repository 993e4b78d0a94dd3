"""Jobs: one module per command, each ``run(cfg: RunConfig) -> Path`` (where its results are).

``train``, ``evaluate`` (robnas eval), ``run`` (the main job), ``search``, ``ensemble``, ``transfer``,
``landscape``, ``advset`` and the ``bench`` actions. A job turns its command's settings into library
calls; no job imports another. Besides ``config`` (the ``RunConfig``), the jobs share one glue
module, ``models``: a job's ``[[models]]`` entries and ``--checkpoint`` paths turned into networks.
"""
