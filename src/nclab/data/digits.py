"""scikit-learn's 8x8 handwritten digits (``sklearn.datasets.load_digits``), bundled, no files.

1797 samples, 64 pixels with values 0..16, 10 classes (178-183 per class). The data has no
official train/test split; :func:`load_digits_arrays` defines a fixed stratified one (20 % of
every class held out, chosen with a constant seed so it never depends on the run's seed).
"""

from __future__ import annotations

import numpy as np

DIGITS_TEST_FRACTION = 0.2
_SPLIT_SEED = 20240601


def digits_split_indices(y: np.ndarray, split: str) -> np.ndarray:
    """Ascending indices of ``split`` ("train", "test" or "all") of the fixed stratified split."""
    if split == "all":
        return np.arange(len(y))
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train', 'test' or 'all' for digits, got {split!r}")
    rng = np.random.default_rng(_SPLIT_SEED)
    test = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[: int(np.ceil(DIGITS_TEST_FRACTION * len(members)))])
    is_test = np.zeros(len(y), dtype=bool)
    is_test[np.concatenate(test)] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def load_digits_arrays(split: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Digits as float64 pixels scaled to [0, 1] (N, 64) and int64 labels (N,)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    idx = digits_split_indices(y, split)
    return X[idx], y[idx]
