"""NC1 family (nc1_trace, nc1_pinv, cdnv, trace_sigma_w) against naive float64 references."""

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m


# ---- against the naive references ----------------------------------------------------------
@nv.PROPS
@given(nv.datasets(), st.sampled_from(["sample", "class"]))
def test_nc1_trace_matches_naive(data, kind):
    H, y, K, _ = data
    got = m.nc1_trace(H, y, global_mean=kind)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.nc1_trace(H, y, kind), rel=1e-10)


@nv.PROPS
@given(nv.datasets())
def test_trace_sigma_w_matches_naive(data):
    H, y, K, _ = data
    got = m.trace_sigma_w(H, y)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.trace_sigma_w(H, y), rel=1e-10)


@nv.PROPS
@given(nv.datasets(), st.sampled_from(["sample", "class"]), st.booleans())
def test_nc1_pinv_matches_naive(data, kind, divide):
    H, y, K, _ = data
    got = m.nc1_pinv(H, y, global_mean=kind, divide_by_K=divide)
    assert isinstance(got, float)
    want = nv.nc1_pinv(H, y, kind=kind, divide_by_K=divide)
    assert got == pytest.approx(want, rel=1e-7)


def test_nc1_pinv_divide_by_K_is_the_factor_K():
    H, y, _ = nv.make_data(3, K=5, D=7)
    assert m.nc1_pinv(H, y, divide_by_K=False) == pytest.approx(5 * m.nc1_pinv(H, y), rel=1e-12)


@nv.PROPS
@given(nv.datasets())
def test_cdnv_matches_naive(data):
    H, y, K, _ = data
    got = m.cdnv(H, y)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.cdnv(H, y), rel=1e-10)


def test_global_mean_variants_agree_for_balanced_and_differ_for_unbalanced():
    H, y, _ = nv.make_data(0, K=3, D=4, n=6)
    assert m.nc1_trace(H, y, global_mean="class") == pytest.approx(m.nc1_trace(H, y), rel=1e-12)
    H, y, _ = nv.make_data(0, K=3, D=4, sizes=[2, 5, 20])
    a, b = m.nc1_trace(H, y), m.nc1_trace(H, y, global_mean="class")
    assert a == pytest.approx(nv.nc1_trace(H, y, "sample"), rel=1e-10)
    assert b == pytest.approx(nv.nc1_trace(H, y, "class"), rel=1e-10)
    assert abs(a - b) > 1e-6 * abs(a)


def test_nc1_pinv_low_rank_means_full_rank_sigma_b_case():
    # D < K - 1: Sigma_B is invertible and the pseudo-inverse is the inverse.
    H, y, _ = nv.make_data(5, K=7, D=3, noise=0.7)
    SW, SB = nv.sigma_w(H, y), nv.sigma_b(H, y)
    want = float(np.trace(SW @ np.linalg.inv(SB))) / 7
    assert m.nc1_pinv(H, y) == pytest.approx(want, rel=1e-9)


def test_nc1_pinv_rtol_drops_weak_between_class_directions():
    # Centred class means with singular values (1, 1e-4) relative: rtol=1e-3 on the singular
    # values of Mc / sqrt(K) must drop the weak direction, rtol=1e-6 must keep it.
    rng = np.random.default_rng(1)
    K, D = 3, 5
    Q = nv.random_orthogonal(D, rng)
    base = np.array([[1.0, 0.0], [-1.0, 1e-4], [0.0, -1e-4]])  # columns = 2 directions
    M = base @ Q[:2]
    y = nv.make_labels(K, [6, 6, 6], rng)
    H = M[y] + 1e-7 * rng.normal(size=(len(y), D))
    SW, SB = nv.sigma_w(H, y), nv.sigma_b(H, y)
    for rtol in (1e-3, 1e-6):
        want = float(np.trace(SW @ np.linalg.pinv(SB, rcond=rtol**2, hermitian=True))) / K
        assert m.nc1_pinv(H, y, rtol=rtol) == pytest.approx(want, rel=1e-6)
    assert m.nc1_pinv(H, y, rtol=1e-6) > 100 * m.nc1_pinv(H, y, rtol=1e-3)


# ---- known cases --------------------------------------------------------------------------
def _collapsed(K=4, D=6, n=5, seed=0):
    rng = np.random.default_rng(seed)
    M = nv.orthogonal_means(K, D, rng)
    y = nv.make_labels(K, [n] * K, rng)
    return M[y], y, M


@pytest.mark.parametrize("fn", [m.nc1_trace, m.nc1_pinv, m.cdnv, m.trace_sigma_w])
def test_perfect_collapse_gives_zero(fn):
    H, y, _ = _collapsed()
    assert 0.0 <= fn(H, y) <= 1e-20


@pytest.mark.parametrize(
    "fn", [m.nc1_trace, m.nc1_pinv, m.cdnv], ids=["nc1_trace", "nc1_pinv", "cdnv"]
)
def test_nc1_scales_as_noise_squared(fn):
    # Noise with zero class means, so the class means stay fixed: NC1(s) = s^2 * NC1(1).
    rng = np.random.default_rng(7)
    K, D, n = 4, 6, 8
    M = nv.orthogonal_means(K, D, rng)
    y = nv.make_labels(K, [n] * K, rng)
    E = rng.normal(size=(K * n, D))
    for c in range(K):
        E[y == c] -= E[y == c].mean(0)
    scales = np.logspace(-6, -1, 6)
    vals = np.array([fn(M[y] + s * E, y) for s in scales])
    slope, _ = np.polyfit(np.log(scales), np.log(vals), 1)
    assert slope == pytest.approx(2.0, abs=1e-6)
    assert vals[-1] == pytest.approx(scales[-1] ** 2 * fn(M[y] + E, y), rel=1e-8)


def test_nc1_noise_slope_with_plain_noise():
    # Ordinary (not mean-corrected) noise: slope 2 up to the O(s^2) drift of the means.
    rng = np.random.default_rng(8)
    K, D = 3, 5
    M = nv.orthogonal_means(K, D, rng)
    y = nv.make_labels(K, [10] * K, rng)
    E = rng.normal(size=(len(y), D))
    scales = np.logspace(-5, -2, 4)
    vals = [m.nc1_trace(M[y] + s * E, y) for s in scales]
    slope, _ = np.polyfit(np.log(scales), np.log(vals), 1)
    assert slope == pytest.approx(2.0, abs=1e-3)


def test_cdnv_two_classes_closed_form():
    # Class 0: points 0 and 2 on a line (mean 1, var 1); class 1: points 10, 12, 14 (mean 12,
    # var 8/3). CDNV = (1 + 8/3) / (2 * 11^2).
    H = np.array([[0.0], [2.0], [10.0], [12.0], [14.0]])
    y = np.array([0, 0, 1, 1, 1])
    assert m.cdnv(H, y) == pytest.approx((1 + 8 / 3) / (2 * 121), rel=1e-14)
    # nc1_trace: tr Sigma_W = (2 + 8)/5 = 2; mu_G = 38/5, tr Sigma_B = ((1-7.6)^2+(12-7.6)^2)/2
    tr_b = ((1 - 7.6) ** 2 + (12 - 7.6) ** 2) / 2
    assert m.nc1_trace(H, y) == pytest.approx(2.0 / tr_b, rel=1e-14)
    assert m.trace_sigma_w(H, y) == pytest.approx(2.0, rel=1e-14)
    # global_mean="class": mu_G = 6.5, tr Sigma_B = 5.5^2
    assert m.nc1_trace(H, y, global_mean="class") == pytest.approx(2.0 / 30.25, rel=1e-14)


# ---- empty classes with K given are skipped -----------------------------------------------
@pytest.mark.parametrize("fn", [m.nc1_trace, m.nc1_pinv, m.cdnv, m.trace_sigma_w])
def test_empty_class_with_K_given_is_skipped(fn):
    H, y, _ = nv.make_data(2, K=3, D=5)
    y_gap = np.where(y == 2, 4, y)  # classes 0, 1, 4 present out of K = 6
    assert fn(H, y_gap, K=6) == pytest.approx(fn(H, y), rel=1e-12)
    assert fn(H, y_gap, K=6) == pytest.approx(
        {
            m.nc1_trace: nv.nc1_trace,
            m.nc1_pinv: nv.nc1_pinv,
            m.cdnv: nv.cdnv,
            m.trace_sigma_w: nv.trace_sigma_w,
        }[fn](H, y),
        rel=1e-8,
    )


def test_torch_input_on_requires_grad_tensor():
    H, y, _ = nv.make_data(4)
    Ht = torch.tensor(H, requires_grad=True)
    assert m.nc1_trace(Ht, torch.from_numpy(y)) == pytest.approx(m.nc1_trace(H, y), rel=1e-14)
