"""Datasets as device-resident uint8 tensors, index-slice batches, and batched augmentation.

``load_dataset("digits")`` works everywhere (the data ships with scikit-learn); the other
registered datasets read the standard files from disk. See :mod:`robnas.data.registry`.
"""

from robnas.data.augment import Augment
from robnas.data.batches import iterate_batches
from robnas.data.registry import DATASETS, Dataset, list_datasets, load_dataset
from robnas.data.split import Split, split_train_val, subset

__all__ = ["DATASETS", "Augment", "Dataset", "Split", "iterate_batches", "list_datasets", "load_dataset",
           "split_train_val", "subset"]
