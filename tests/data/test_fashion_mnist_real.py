"""Fashion-MNIST from the Debian package dataset-fashion-mnist (skipped when not installed)."""

import pytest
import torch

from nclab.data import find_idx_files, load_dataset

try:
    find_idx_files("fashion-mnist", "train")
    MISSING = None
except FileNotFoundError as exc:
    MISSING = str(exc)

pytestmark = pytest.mark.skipif(
    MISSING is not None,
    reason="Fashion-MNIST IDX files absent (apt-get install -y dataset-fashion-mnist)",
)


def test_train_split_matches_published_statistics():
    ds = load_dataset("fashion-mnist", dtype=torch.float64)
    assert (ds.N, ds.D, ds.K) == (60000, 784, 10)
    assert ds.class_counts.tolist() == [6000] * 10
    # widely quoted normalisation constants of Fashion-MNIST train: mean 0.2860, std 0.3530
    assert abs(float(ds.X.mean()) - 0.2860) < 1e-4
    assert abs(float(ds.X.std()) - 0.3530) < 1e-4
    assert ds.y[:4].tolist() == [9, 0, 0, 3]  # the first image is an ankle boot
    assert float(ds.X.min()) == 0.0 and float(ds.X.max()) == 1.0


def test_test_split_and_balanced_subsample():
    test = load_dataset("fashion-mnist", split="test")
    assert test.N == 10000 and test.class_counts.tolist() == [1000] * 10
    sub = load_dataset("fashion-mnist", split="test", n_per_class=7, seed=1, sort_by_class=True)
    assert sub.class_counts.tolist() == [7] * 10
    assert torch.equal(sub.y, torch.arange(10).repeat_interleave(7))
