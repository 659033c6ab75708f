"""Balancedness, negativity, singular values, ranks, distances to low rank, stable rank."""

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m


# ---- balancedness --------------------------------------------------------------------------
@nv.PROPS
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(1, 8),
    st.booleans(),
    st.sampled_from(["op", "fro"]),
)
def test_balancedness_matches_naive(seed, n0, n1, n2, relative, norm):
    rng = np.random.default_rng(seed)
    W_l, W_next = rng.normal(size=(n1, n0)), rng.normal(size=(n2, n1))
    got = m.balancedness(W_l, W_next, relative, norm=norm)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.balancedness(W_l, W_next, relative, norm), rel=1e-10)


def test_balancedness_diagonal_closed_form():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 0.5])
    W_l, W_next = np.diag(a), np.diag(b)
    diff = np.abs(b**2 - a**2)
    assert m.balancedness(W_l, W_next, relative=False) == pytest.approx(diff.max(), rel=1e-14)
    assert m.balancedness(W_l, W_next) == pytest.approx(
        diff.max() / min((b**2).max(), (a**2).max()), rel=1e-14
    )
    assert m.balancedness(W_l, W_next, relative=False, norm="fro") == pytest.approx(
        np.linalg.norm(diff), rel=1e-14
    )
    assert m.balancedness(W_l, W_next, norm="fro") == pytest.approx(
        np.linalg.norm(diff) / min(np.linalg.norm(b**2), np.linalg.norm(a**2)), rel=1e-14
    )


@pytest.mark.parametrize("dims", [(5, 3, 7), (4, 4, 4), (9, 6, 2)])
def test_balanced_pairs_from_svd(dims):
    # W_l = U S V_l^T (n_l x n_{l-1}), W_{l+1} = V_{l+1} S U^T (n_{l+1} x n_l): both Gram
    # matrices equal U S^2 U^T, so the imbalance is exactly zero.
    n_prev, n_l, n_next = dims
    r = min(dims)
    rng = np.random.default_rng(sum(dims))
    U = nv.random_orthogonal(n_l, rng)[:, :r]
    V_l = nv.random_orthogonal(n_prev, rng)[:, :r]
    V_next = nv.random_orthogonal(n_next, rng)[:, :r]
    S = np.diag(rng.uniform(0.5, 3.0, size=r))
    W_l, W_next = U @ S @ V_l.T, V_next @ S @ U.T
    for norm in ("op", "fro"):
        assert m.balancedness(W_l, W_next, norm=norm) == pytest.approx(0.0, abs=1e-12)
        assert m.balancedness(W_l, W_next, relative=False, norm=norm) == pytest.approx(
            0.0, abs=1e-11
        )
    # and a 3-layer balanced chain: every consecutive pair balanced
    W3 = nv.random_orthogonal(4, rng)[:, :r] @ S @ V_next.T
    assert m.balancedness(W_next, W3) == pytest.approx(0.0, abs=1e-12)
    # breaking the balance is detected
    assert m.balancedness(W_l, 1.1 * W_next) == pytest.approx(0.21, rel=1e-10)


def test_balancedness_scale_invariance_of_relative():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    assert m.balancedness(3 * A, 3 * B) == pytest.approx(m.balancedness(A, B), rel=1e-12)
    assert m.balancedness(3 * A, 3 * B, relative=False) == pytest.approx(
        9 * m.balancedness(A, B, relative=False), rel=1e-12
    )


# ---- negativity ----------------------------------------------------------------------------
@nv.PROPS
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 10), st.floats(-2, 2))
def test_negativity_matches_naive(seed, N, n, shift):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, n)) + shift
    got = m.negativity(Z)
    assert got == pytest.approx(nv.negativity(Z), rel=1e-10)
    assert got >= 0.0
    assert m.negativity(Z.T) == pytest.approx(got, rel=1e-12)


def test_negativity_can_exceed_one():
    # The docstring's "In [0, 1] for ReLU" does not hold: entrywise truncation is not an
    # operator-norm contraction. Z = sqrt(5) x rotation, ||Z||_op = sqrt(5); its negative part
    # [[-2, 0], [-1, -2]] has ||.||_op = sqrt((9 + sqrt(17)) / 2) ~ 2.56.
    Z = np.array([[-2.0, 1.0], [-1.0, -2.0]])
    want = np.sqrt((9 + np.sqrt(17)) / 2) / np.sqrt(5)
    assert m.negativity(Z) == pytest.approx(want, rel=1e-12)
    assert m.negativity(Z) > 1.1


def test_negativity_known_values_and_custom_activation():
    rng = np.random.default_rng(0)
    Z = np.abs(rng.normal(size=(10, 4)))
    assert m.negativity(Z) == 0.0
    assert m.negativity(-Z) == pytest.approx(1.0, rel=1e-14)
    Zs = rng.normal(size=(10, 4))
    got = m.negativity(Zs, activation=torch.tanh)
    assert got == pytest.approx(nv.negativity(Zs, np.tanh), rel=1e-10)
    assert m.negativity(Zs, activation=lambda t: t) == 0.0


# ---- spectra and ranks ---------------------------------------------------------------------
@nv.PROPS
@given(st.integers(0, 2**32 - 1), st.integers(1, 9), st.integers(1, 9))
def test_spectral_functions_match_naive(seed, a, b):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(a, b)) @ np.diag(rng.exponential(size=b))
    s = m.singular_values(A)
    assert isinstance(s, np.ndarray) and s.dtype == np.float64
    np.testing.assert_allclose(s, nv.singular_values(A), rtol=1e-10, atol=1e-13 * s[0])
    assert m.stable_rank(A) == pytest.approx(nv.stable_rank(A), rel=1e-10)
    for k in range(0, min(a, b) + 2):
        assert m.rel_dist_to_rank(A, k) == pytest.approx(
            nv.rel_dist_to_rank(A, k), rel=1e-8, abs=1e-15
        )
    assert m.numerical_rank(A) == nv.numerical_rank(A)
    assert m.numerical_rank(A, 0.3) == nv.numerical_rank(A, 0.3)
    assert m.energy_rank(A, 0.2) == nv.energy_rank(A, 0.2)


def test_prescribed_singular_values():
    rng = np.random.default_rng(5)
    s = np.array([10.0, 5.0, 1.0, 1e-2, 1e-4, 1e-7, 0.0])
    A = nv.matrix_with_singular_values(s, 9, 7, rng)
    np.testing.assert_allclose(m.singular_values(A), s, atol=1e-13)
    assert m.numerical_rank(A, 1e-4) == 4  # s_i > 1e-3: 10, 5, 1, 1e-2
    assert m.numerical_rank(A, 1e-6) == 5
    assert m.numerical_rank(A, 0.05) == 3
    assert m.numerical_rank(A) == 6  # default ~ max(m, n) eps: 1e-7 kept, 0 dropped
    total = np.sum(s**2)
    assert m.stable_rank(A) == pytest.approx(total / 100, rel=1e-12)
    for k in range(len(s)):
        assert m.rel_dist_to_rank(A, k) == pytest.approx(
            np.sum(s[k:] ** 2) / total, rel=1e-6, abs=1e-26
        )
    # energy rank: smallest r with (sum_{j>r} s_j^2 / total)^(1/2) <= tol; sqrt(total) ~ 11.2
    assert m.energy_rank(A, 1e-5) == 4  # tail after 4: 1e-4/11.2 ~ 8.9e-6
    assert m.energy_rank(A, 1e-7) == 5  # tail after 5: 1e-7/11.2 ~ 8.9e-9
    assert m.energy_rank(A, 1e-9) == 6
    assert m.energy_rank(A, 1e-3) == 3  # tail after 3: 1e-2/11.2 ~ 8.9e-4
    assert m.energy_rank(A, 1e-2) == 3
    assert m.energy_rank(A, 0.5) == 1  # tail after 1: sqrt(26/126) ~ 0.45
    assert m.energy_rank(A, 0.4) == 2
    assert m.energy_rank(np.zeros((3, 4))) == 0
    assert m.numerical_rank(np.zeros((3, 4))) == 0


def test_rank_of_exact_low_rank_matrix():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 3)) @ rng.normal(size=(3, 10))
    assert m.numerical_rank(A) == 3
    assert m.energy_rank(A) == 3
    assert m.rel_dist_to_rank(A, 3) == pytest.approx(0.0, abs=1e-28)
    assert m.rel_dist_to_rank(A, 2) > 1e-6


def test_conv_kernel_is_flattened():
    rng = np.random.default_rng(1)
    Wc = rng.normal(size=(6, 3, 3, 3))
    flat = Wc.reshape(6, 27)
    np.testing.assert_allclose(m.singular_values(Wc), nv.singular_values(flat), rtol=1e-12)
    np.testing.assert_allclose(
        m.singular_values(torch.from_numpy(Wc)), nv.singular_values(flat), rtol=1e-12
    )
    assert m.stable_rank(Wc) == pytest.approx(nv.stable_rank(flat), rel=1e-12)
    assert m.numerical_rank(Wc) == 6
