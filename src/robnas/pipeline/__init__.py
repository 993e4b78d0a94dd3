"""Jobs: one module per command, each ``run(cfg: RunConfig) -> Path`` (where its results are).

``train``, ``evaluate`` (robnas eval), ``run`` (the main job), ``search``, ``transfer``, ``landscape``
and ``advset``; shared pieces: ``models`` (building, loading and validating a job's models),
``records`` (a model's evaluation record, the unit of resume), ``candidates`` (the evaluator that
trains and measures search candidates), ``search_stage`` (the search inside ``robnas run``).
"""
