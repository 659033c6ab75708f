import dataclasses

import pytest
import torch

from nclab.data import Dataset


def make(N_per=(6, 4, 5), D=3, dtype=torch.float32, **kw):
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(N_per)])
    g = torch.Generator().manual_seed(0)
    X = torch.randn(len(y), D, generator=g).to(dtype)
    return Dataset(X, y, len(N_per), "toy", **kw)


def test_sizes_counts_and_summary():
    ds = make()
    assert (ds.N, ds.D, ds.K) == (15, 3, 3)
    assert ds.class_counts.tolist() == [6, 4, 5] and not ds.is_balanced
    s = ds.summary()
    for part in ("toy[train]", "N=15", "D=3", "K=3", "float32", "[6, 4, 5]"):
        assert part in s
    assert "balanced, 4 per class" in ds.subsample(4).summary()
    assert "Dataset(" in repr(ds)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(X=torch.zeros(3, 2, dtype=torch.long)), "floating"),
        (dict(y=torch.zeros(3, dtype=torch.int32)), "int64"),
        (dict(y=torch.zeros(4, dtype=torch.long)), "3 rows but y has 4"),
        (dict(y=torch.tensor([0, 1, 2])), r"labels must lie in \[0, K=2\)"),
        (dict(K=0), "K must be >= 1"),
        (dict(classes=("a",)), "classes has 1 names"),
        (dict(image_shape=(1, 3, 3)), "image_shape"),
    ],
)
def test_validation(kwargs, message):
    base = dict(X=torch.zeros(3, 2), y=torch.tensor([0, 1, 1]), K=2)
    with pytest.raises(ValueError, match=message):
        Dataset(**{**base, **kwargs})


def test_immutable_and_meta_read_only():
    ds = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.K = 4
    with pytest.raises(TypeError):
        ds.meta["x"] = 1


def test_subsample_is_balanced_seeded_and_recorded():
    ds = make()
    a, b, c = ds.subsample(3, seed=1), ds.subsample(3, seed=1), ds.subsample(3, seed=2)
    assert a.class_counts.tolist() == [3, 3, 3] and a.is_balanced
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not all(torch.equal(ds.subsample(3, seed=s).X, a.X) for s in range(2, 8))
    assert a.meta["transforms"] == ("subsample(n_per_class=3, seed=1)",)
    assert c.sort_by_class().meta["transforms"][-1] == "sort_by_class"
    # every row of the subsample is a row of the original with the same label
    for x, y in zip(a.X, a.y, strict=True):
        match = (ds.X == x).all(1)
        assert match.any() and ds.y[match][0] == y


def test_sort_by_class_gives_kronecker_labels():
    ds = make((3, 3, 3)).shuffle(seed=4).sort_by_class()
    assert torch.equal(ds.y, torch.arange(3).repeat_interleave(3))


def test_standardize_with_reference_and_unit_ball():
    train, test = make(D=4, dtype=torch.float64), make(D=4, dtype=torch.float64).subsample(2)
    st = train.standardize()
    torch.testing.assert_close(st.X.mean(0), torch.zeros(4, dtype=torch.float64))
    te = test.standardize(reference=st)
    torch.testing.assert_close(
        te.X, (test.X - st.meta["standardize_mean"]) / st.meta["standardize_std"]
    )
    assert test.standardize(reference=train).X.allclose(te.X)
    ub = train.scale_to_unit_ball()
    assert abs(float(ub.X.norm(dim=1).max()) - 1.0) < 1e-12
    assert ub.meta["input_scale"] == pytest.approx(float(train.X.norm(dim=1).max()))


def test_select_classes_targets_images_and_to():
    ds = make(image_shape=(1, 3, 1), classes=("a", "b", "c"))
    two = ds.select_classes([2, 0])
    assert two.K == 2 and two.classes == ("c", "a") and two.class_counts.tolist() == [5, 6]
    assert two.targets("centred").shape == (11, 2)
    assert ds.targets().dtype == torch.float32 and ds.targets().sum() == ds.N
    assert ds.images().shape == (15, 1, 3, 1)
    with pytest.raises(ValueError, match="no image_shape"):
        make().images()
    d64 = ds.to(dtype=torch.float64)
    assert d64.X.dtype == torch.float64 and d64.targets().dtype == torch.float64
    with pytest.raises(ValueError, match="floating"):
        ds.to(dtype=torch.int64)
    noisy = ds.corrupt_labels(1.0, seed=0)
    assert noisy.N == ds.N and "corrupt_labels" in noisy.meta["transforms"][-1]
