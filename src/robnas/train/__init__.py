"""Standard and PGD-adversarial training with atomic per-epoch checkpoints and exact resume."""

from robnas.train.checkpoint import load_checkpoint, load_model, save_checkpoint
from robnas.train.trainer import TrainResult, train_model

__all__ = ["train_model", "TrainResult", "save_checkpoint", "load_checkpoint", "load_model"]
