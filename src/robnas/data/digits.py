"""The embedded default dataset: scikit-learn's bundled 8x8 handwritten digits (no files needed).

1797 grey images with values 0..16, rescaled to 0..255. The train/test split is stratified and
drawn with a fixed internal seed, so it is the same on every machine: 1437 train / 360 test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robnas.data.split import LoadedSplits, Split, split_train_val

TEST_SIZE = 360
_SPLIT_SEED = 0  # part of the dataset's definition; the user's seed only picks subsets
CLASS_NAMES = tuple(str(digit) for digit in range(10))


def load_digits_dataset(root: Path | None = None) -> LoadedSplits:
    """The digits train and test splits; ``root`` is ignored (the data ships with scikit-learn)."""
    # Imported here: scikit-learn takes seconds to import and only this loader needs it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # [1797, 8, 8], 16 -> 255
    everything = Split(torch.from_numpy(pixels).unsqueeze(1), torch.from_numpy(bunch.target.astype(np.int64)))
    train, test = split_train_val(everything, TEST_SIZE, seed=_SPLIT_SEED)
    return LoadedSplits(train, test, CLASS_NAMES)
