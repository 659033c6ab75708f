"""WCSS and the k-means upper bound of the total cluster variation (Zangrando et al.)."""

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.cluster import KMeans

from nclab import metrics as m


@nv.PROPS
@given(nv.datasets(max_K=5, max_D=6), st.integers(1, 5))
def test_wcss_matches_naive_for_any_partition(data, n_clusters):
    H, y, K, rng = data
    part = rng.integers(0, n_clusters, size=len(y))
    got = m.wcss(H, part)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.wcss(H, part), rel=1e-10)
    Y = nv.one_hot(y, K)
    X = np.concatenate([H, Y], axis=1)
    assert m.wcss(H, part, Y) == pytest.approx(nv.wcss(X, part), rel=1e-10)


@nv.PROPS
@given(nv.datasets(max_K=5, max_D=6))
def test_wcss_class_partition_label_part_is_zero(data):
    H, y, K, _ = data
    Y = nv.one_hot(y, K)
    assert m.wcss(H, y, Y) == pytest.approx(m.wcss(H, y), rel=1e-12)
    # for the class partition, WCSS = tr(Sigma_W)
    assert m.wcss(H, y) == pytest.approx(nv.trace_sigma_w(H, y), rel=1e-10)


def test_wcss_with_general_targets_and_noncontiguous_clusters():
    rng = np.random.default_rng(0)
    H, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    part = np.array([0, 5, 5, 2, 0, 2, 5, 0, 2, 2, 5, 0])
    X = np.concatenate([H, Y], 1)
    assert m.wcss(H, part, Y) == pytest.approx(nv.wcss(X, part), rel=1e-12)
    assert m.wcss(torch.from_numpy(H), torch.from_numpy(part)) == pytest.approx(
        nv.wcss(H, part), rel=1e-12
    )


@nv.PROPS
@given(nv.datasets(max_K=4, max_D=5), st.booleans())
def test_tcv_is_never_above_the_class_partition(data, with_Y):
    H, y, K, _ = data
    Y = nv.one_hot(y, K) if with_Y else None
    t = m.tcv(H, K, Y, y=None if with_Y else y)
    assert t <= m.wcss(H, y, Y) * (1 + 1e-12) + 1e-300
    assert t >= 0.0


@nv.PROPS
@given(nv.datasets(max_K=4, max_D=5), st.booleans())
def test_tcv_1_is_the_total_variance(data, with_Y):
    H, y, K, _ = data
    Y = nv.one_hot(y, K) if with_Y else None
    X = H if Y is None else np.concatenate([H, Y], 1)
    want = float(np.sum((X - X.mean(0)) ** 2)) / X.shape[0]
    assert m.tcv(H, 1, Y, restarts=2) == pytest.approx(want, rel=1e-10)


def test_tcv_same_seed_same_value():
    H, _, _ = nv.make_data(3, K=5, D=4, n=12, noise=1.5)
    a = m.tcv(H, 5, seed=123)
    assert m.tcv(H, 5, seed=123) == a
    assert m.tcv(torch.from_numpy(H), 5, seed=123) == a


def test_tcv_accepts_numpy_integer_k():
    # k computed from numpy labels (y.max() + 1) is a numpy integer; K is accepted as one
    # everywhere else (nc1_trace(K=...), ClassStats(K)), so tcv should accept it too.
    H, y, _ = nv.make_data(1, K=3, D=4)
    k = y.max() + 1
    assert isinstance(k, np.integer)
    assert m.tcv(H, k) == m.tcv(H, 3)


def test_tcv_exact_for_collapsed_features():
    rng = np.random.default_rng(0)
    M = nv.orthogonal_means(4, 5, rng)
    y = nv.make_labels(4, [5, 3, 6, 2], rng)
    assert m.tcv(M[y], 4) == pytest.approx(0.0, abs=1e-25)
    assert m.tcv(M[y], 4, nv.one_hot(y, 4)) == pytest.approx(0.0, abs=1e-25)
    # more clusters than distinct points: still 0
    assert m.tcv(M[y], 6) == pytest.approx(0.0, abs=1e-25)


def test_tcv_matches_sklearn_on_well_separated_blobs():
    rng = np.random.default_rng(4)
    centers = 20.0 * rng.normal(size=(4, 3))
    y = nv.make_labels(4, [15, 20, 10, 25], rng)
    X = centers[y] + rng.normal(size=(len(y), 3))
    km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(X)
    assert m.tcv(X, 4) == pytest.approx(km.inertia_ / len(y), rel=1e-9)
    assert m.tcv(X, 4) == pytest.approx(nv.wcss(X, y), rel=1e-9)


def test_tcv_equals_brute_force_on_a_separable_tiny_case():
    X = np.array([[0.0, 0.0], [0.3, 0.1], [0.1, 0.4], [5.0, 5.0], [5.2, 4.9], [4.8, 5.3]])
    assert m.tcv(X, 2) == pytest.approx(nv.brute_force_tcv(X, 2), rel=1e-12)


def test_tcv_equals_brute_force_on_tiny_random_cases():
    # experiments.md Appendix 3: "exact on tiny brute-forceable cases (N <= 8, K = 2)".
    failures = []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        N, D = int(rng.integers(3, 9)), int(rng.integers(1, 4))
        X = rng.normal(size=(N, D)) * rng.exponential(size=D)
        got, best = m.tcv(X, 2), nv.brute_force_tcv(X, 2)
        assert got >= best * (1 - 1e-12)  # an upper bound in any case
        if got > best * (1 + 1e-10):
            failures.append((seed, N, D, got, best))
    assert not failures, f"tcv above the exact TCV_2 (seed, N, D, got, exact): {failures}"


def test_tcv_brute_force_counterexample_explicit():
    # seed 39 of the sweep above: 8 points in R^2. Exact TCV_2 = 4.365318696348058 with the
    # clusters {0, 2, 3, 4, 5} and {1, 6, 7}; every k-means++/Lloyd restart (and scikit-learn's
    # KMeans) stops at the local optimum 4.469033313369055.
    X = np.array(
        [
            [0.7988990678982179, 0.21973687227449337],
            [-2.357863911860876, -1.4042836847683973],
            [0.933818072704486, 0.516935712335686],
            [5.161770583339711, -0.7338104653498341],
            [1.1123249542289555, 0.2082551417240879],
            [-0.5901859253868266, -1.5426415814223653],
            [-3.9979799047608693, 2.344656799875538],
            [-1.3152005050813056, 2.4359590188205074],
        ]
    )
    exact = nv.brute_force_tcv(X, 2)
    assert exact == pytest.approx(4.365318696348058, rel=1e-12)
    assert m.tcv(X, 2) == pytest.approx(exact, rel=1e-10)
