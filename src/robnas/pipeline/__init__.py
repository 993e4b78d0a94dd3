"""End-to-end jobs built from the library pieces: train -> evaluate -> report."""

from robnas.pipeline.study import evaluate_checkpoints, prepare_data, run_study, train_one

__all__ = ["run_study", "train_one", "evaluate_checkpoints", "prepare_data"]
