import numpy as np
import pytest
import torch

from nclab.data import (
    centred_labels,
    class_balanced_indices,
    class_counts,
    class_sorted_order,
    corrupt_labels,
    encode_targets,
    normalize_rows,
    one_hot,
    scale_to_unit_ball,
    select_classes,
    signed_labels,
    standardize,
)

Y = torch.tensor([2, 0, 1, 2, 2, 0, 1, 1, 0, 2, 1, 0, 2])  # counts 4, 4, 5


def test_balanced_indices_exact_counts_membership_and_seeding():
    idx = class_balanced_indices(Y, 3, seed=0)
    assert torch.equal(idx, torch.sort(idx).values)
    assert class_counts(Y[idx], 3).tolist() == [3, 3, 3]
    assert len(set(idx.tolist())) == 9
    assert torch.equal(idx, class_balanced_indices(Y, 3, seed=0))
    draws = {tuple(class_balanced_indices(Y, 3, seed=s).tolist()) for s in range(20)}
    assert len(draws) > 1
    # all samples of a class are taken when n_per_class equals its count
    assert (Y[class_balanced_indices(Y, 4, seed=5)] == 0).sum() == 4


def test_balanced_indices_errors_name_short_classes():
    with pytest.raises(ValueError, match="class 0: 4, class 1: 4"):
        class_balanced_indices(Y, 5)
    with pytest.raises(ValueError, match="n_per_class must be >= 1"):
        class_balanced_indices(Y, 0)
    with pytest.raises(ValueError, match="class 3: 0"):  # an empty class cannot provide any
        class_balanced_indices(Y, 1, K=4)
    with pytest.raises(ValueError, match="integer"):
        class_balanced_indices(Y.float(), 1)


def test_class_sorted_order_is_stable():
    order = class_sorted_order(Y)
    assert Y[order].tolist() == sorted(Y.tolist())
    for c in range(3):
        members = order[Y[order] == c]
        assert torch.equal(members, torch.sort(members).values)


def test_select_classes_relabels_in_given_order():
    idx, new = select_classes(Y, (2, 0))
    assert torch.equal(idx, torch.nonzero((Y == 2) | (Y == 0)).flatten())
    assert torch.equal(new, torch.where(Y[idx] == 2, 0, 1))
    with pytest.raises(ValueError, match="distinct"):
        select_classes(Y, (1, 1))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        select_classes(Y, (1, 3), K=3)


def test_corrupt_labels():
    y = torch.arange(10).repeat(500)
    assert torch.equal(corrupt_labels(y, 0.0, seed=1), y)
    c = corrupt_labels(y, 0.4, seed=1)
    assert torch.equal(c, corrupt_labels(y, 0.4, seed=1))
    changed = (c != y).float().mean().item()
    # 40 % are redrawn uniformly, 9/10 of those change: 0.36 expected, binomial sd ~ 0.007
    assert abs(changed - 0.36) < 0.03
    assert int(c.max()) < 10
    with pytest.raises(ValueError, match="fraction"):
        corrupt_labels(y, 1.5)


def test_standardize_and_reuse_of_statistics():
    g = torch.Generator().manual_seed(0)
    X = 3.0 + 2.0 * torch.randn(200, 4, generator=g, dtype=torch.float64)
    X[:, 2] = 7.0  # a constant feature (e.g. an always-black pixel)
    Z, mean, std = standardize(X)
    torch.testing.assert_close(Z.mean(0), torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(Z[:, [0, 1, 3]].std(0, unbiased=False), torch.ones(3).double())
    assert torch.all(Z[:, 2] == 0)
    Z2, _, _ = standardize(X[:10] + 1.0, mean, std)
    torch.testing.assert_close(Z2, Z[:10] + 1.0 / std)
    with pytest.raises(ValueError, match="shape"):
        standardize(X, mean[:2], std)


def test_unit_ball_scaling_and_row_normalisation():
    X = torch.tensor([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])
    Xs, scale = scale_to_unit_ball(X)
    assert scale == 5.0
    torch.testing.assert_close(Xs, X / 5.0)
    assert torch.equal(scale_to_unit_ball(X, 10.0)[0], X / 10.0)
    R = normalize_rows(X)
    torch.testing.assert_close(torch.linalg.vector_norm(R[:2], dim=1), torch.ones(2))
    assert torch.equal(R[2], X[2])
    with pytest.raises(ValueError, match="scale"):
        scale_to_unit_ball(torch.zeros(3, 2))


def test_label_encodings():
    y = torch.tensor([0, 2, 1, 2])
    assert torch.equal(one_hot(y, 3), torch.eye(3)[y])
    E = centred_labels(y, 3, dtype=torch.float64)
    assert torch.equal(E[1], torch.tensor([-0.5, -0.5, 1.0], dtype=torch.float64))
    torch.testing.assert_close(E.sum(1), torch.zeros(4, dtype=torch.float64))
    # Xu et al. §5.2: centred one-hot (e_c - 1/K) rescaled so that the maximum entry is 1
    K = 5
    yy = torch.arange(K)
    expected = (torch.eye(K) - 1.0 / K) * K / (K - 1)
    torch.testing.assert_close(centred_labels(yy, K), expected)
    assert signed_labels(torch.tensor([0, 1, 1])).tolist() == [-1.0, 1.0, 1.0]
    assert torch.equal(encode_targets(y, 3, "centred"), centred_labels(y, 3))
    with pytest.raises(ValueError, match="binary"):
        signed_labels(y)
    with pytest.raises(ValueError, match="K >= 2"):
        centred_labels(torch.zeros(3, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="kind"):
        encode_targets(y, 3, "softmax")


def test_numpy_labels_accepted():
    assert class_counts(np.array([0, 1, 1])).tolist() == [1, 2]
