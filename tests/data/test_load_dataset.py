import numpy as np
import pytest
import torch

from nclab.data import (
    DATASETS,
    class_sorted_labels,
    gaussian_mixture,
    load_dataset,
    make_mnist1d,
    mixture_means,
    mnist1d_templates,
)
from nclab.data.digits import digits_split_indices


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        load_dataset("imagenet")
    for name in DATASETS:
        assert name in str(err.value)


def test_unknown_option_and_bad_dtype():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['sigma'\] for digits"):
        load_dataset("digits", sigma=0.1)
    with pytest.raises(ValueError, match="dtype"):
        load_dataset("digits", dtype=torch.int32)


def test_digits_splits_are_a_fixed_stratified_partition():
    full = load_dataset("digits", split="all", dtype=torch.float64)
    assert (full.N, full.D, full.K, full.image_shape) == (1797, 64, 10, (1, 8, 8))
    assert float(full.X.min()) == 0.0 and float(full.X.max()) == 1.0
    train, test = load_dataset("digits"), load_dataset("digits", split="test", seed=7)
    assert train.N + test.N == 1797
    assert torch.equal(torch.sort(torch.cat([train.y, test.y])).values, torch.sort(full.y).values)
    frac = test.class_counts.double() / full.class_counts.double()
    assert torch.all((frac > 0.19) & (frac < 0.22))
    labels = full.y.numpy()
    tr, te = digits_split_indices(labels, "train"), digits_split_indices(labels, "test")
    assert len(np.intersect1d(tr, te)) == 0 and len(np.union1d(tr, te)) == 1797
    torch.testing.assert_close(train.X, full.X[tr].float())
    assert torch.equal(load_dataset("digits", split="test", seed=0).X, test.X)


def test_digits_subsample_balanced_and_seeded():
    a = load_dataset("digits", split="all", n_per_class=50, seed=1, dtype=torch.float64)
    b = load_dataset("digits", split="all", n_per_class=50, seed=1, dtype=torch.float64)
    c = load_dataset("digits", split="all", n_per_class=50, seed=2, dtype=torch.float64)
    assert a.N == 500 and a.class_counts.tolist() == [50] * 10
    assert torch.equal(a.X, b.X) and not torch.equal(a.X, c.X)
    assert a.X.dtype == torch.float64


def test_mnist1d_reproduces_reference_generator():
    # reference values from mnist1d 0.0.2.post1: make_dataset(get_dataset_args())
    ds = load_dataset("mnist1d", dtype=torch.float64)
    assert (ds.N, ds.D, ds.K) == (4000, 40, 10)
    assert ds.class_counts.tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
    assert ds.y[:10].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]
    expected = [-0.33200566736939013, -0.4719103656557236, -0.778697076293495]
    np.testing.assert_allclose(ds.X[0, :3].numpy(), expected, rtol=0, atol=1e-12)
    assert float(ds.X.sum()) == pytest.approx(-51.78746787509559, abs=1e-9)
    test = load_dataset("mnist1d", split="test", dtype=torch.float64)
    np.testing.assert_allclose(
        test.X[-1, -3:].numpy(), [0.6598756470890784, 0.8777343497528006, 1.1931518368352758],
        atol=1e-12,
    )
    assert test.N == 1000


def test_mnist1d_options_and_determinism():
    x1, y1 = make_mnist1d("all", num_samples=200, seed=3)
    x2, y2 = make_mnist1d("all", num_samples=200, seed=3)
    x3, _ = make_mnist1d("all", num_samples=200, seed=4)
    assert x1.shape == (200, 40) and np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert abs(x1.mean()) < 1e-12 and abs(x1.std() - 1) < 1e-12
    x1[0, 0] = 99.0  # returned arrays are copies: the cache is not affected
    assert make_mnist1d("all", num_samples=200, seed=3)[0][0, 0] != 99.0
    ds = load_dataset("mnist1d", num_samples=300, final_seq_length=20, dataset_seed=1)
    assert (ds.N, ds.D) == (240, 20)
    t = mnist1d_templates()
    assert t.shape == (10, 12) and np.allclose(t[:, 0], 0.0)
    with pytest.raises(ValueError, match="train_split"):
        make_mnist1d(train_split=1.5)
    with pytest.raises(ValueError, match="split"):
        make_mnist1d("val")


def test_gaussian_mixture_statistics_and_fixed_means():
    X, y, means = gaussian_mixture(4, 8, 2000, sigma=0.3, seed=1)
    assert X.shape == (8000, 8) and np.array_equal(y, class_sorted_labels(4, 2000))
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 3.0)
    for k in range(4):
        Xk = X[y == k]
        assert np.abs(Xk.mean(0) - means[k]).max() < 0.04  # sd of a mean: 0.3/sqrt(2000)
        assert abs(Xk.std(0).mean() - 0.3) < 0.01
    # means do not depend on sigma or seed; the noise does depend on seed and split
    X2, _, means2 = gaussian_mixture(4, 8, 2000, sigma=0.0, seed=5)
    assert np.array_equal(means, means2) and np.array_equal(X2, means[y])
    Xtr, _, _ = gaussian_mixture(4, 8, 10, seed=1)
    Xte, _, _ = gaussian_mixture(4, 8, 10, seed=1, split="test")
    assert not np.array_equal(Xtr, Xte)
    assert np.array_equal(mixture_means(4, 8, seed=0), means)
    with pytest.raises(ValueError, match="means must have shape"):
        gaussian_mixture(4, 8, 10, means=np.zeros((3, 8)))
    with pytest.raises(ValueError, match="sigma"):
        gaussian_mixture(sigma=-1.0)


def test_gaussian_mixture_through_load_dataset():
    ds = load_dataset("gaussian-mixture", K=3, dim=5, sigma=0.0, n_per_class=4, seed=2)
    assert (ds.N, ds.D, ds.K) == (12, 5, 3) and ds.is_balanced
    torch.testing.assert_close(ds.X, ds.meta["means"][ds.y].float())
    again = load_dataset("gaussian-mixture", K=3, dim=5, sigma=0.0, n_per_class=4, seed=2)
    assert torch.equal(ds.X, again.X)
    assert load_dataset("gaussian_mixture").N == 500


def test_classes_out_of_range():
    with pytest.raises(ValueError, match=r"classes must be in \[0, 10\)"):
        load_dataset("digits", classes=(1, 10))


def test_load_dataset_pipeline_order():
    ds = load_dataset(
        "digits", split="all", classes=(3, 5), n_per_class=20, seed=0, sort_by_class=True,
        standardize=True, unit_ball=True, dtype=torch.float64,
    )
    assert ds.K == 2 and ds.classes == ("3", "5") and ds.class_counts.tolist() == [20, 20]
    assert torch.equal(ds.y, torch.arange(2).repeat_interleave(20))
    assert abs(float(ds.X.norm(dim=1).max()) - 1.0) < 1e-12
    assert ds.meta["transforms"] == (
        "select_classes([3, 5])",
        "subsample(n_per_class=20, seed=0)",
        "sort_by_class",
        "standardize",
        f"scale_to_unit_ball(scale={ds.meta['input_scale']:.6g})",
    )
