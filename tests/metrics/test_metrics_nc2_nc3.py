"""NC2 (cond, ETF, Gram, class means), NC3 (cosine, self-duality) and NC4 (NCC agreement)."""

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m

ETF_KEYS = ("equinorm", "equiangularity", "etf_gram_dist", "cos_mean", "cos_std_over_mean")


# ---- NC2 -----------------------------------------------------------------------------------
@nv.PROPS
@given(nv.datasets(), st.booleans(), st.booleans(), st.sampled_from(["sample", "class"]))
def test_nc2_cond_matches_naive(data, centered, nonzero, kind):
    H, y, K, _ = data
    got = m.nc2_cond(H, y, centered=centered, nonzero=nonzero, global_mean=kind)
    want = nv.nc2_cond(H, y, centered=centered, nonzero=nonzero, kind=kind)
    assert isinstance(got, float)
    if np.isinf(want):
        assert got == np.inf
    else:
        assert got == pytest.approx(want, rel=1e-8)


def test_nc2_cond_rank_deficient_means():
    # D = 2 < K = 4: the uncentred mean matrix has rank 2; kappa_K = inf, kappa_nz finite.
    H, y, _ = nv.make_data(1, K=4, D=2)
    assert m.nc2_cond(H, y, nonzero=False) == np.inf
    assert m.nc2_cond(H, y) == pytest.approx(nv.nc2_cond(H, y), rel=1e-10)
    assert np.isfinite(m.nc2_cond(H, y))


def test_nc2_cond_rtol():
    rng = np.random.default_rng(0)
    M = np.diag([1.0, 0.1, 1e-5])
    y = nv.make_labels(3, [3, 3, 3], rng)
    H = M[y]
    assert m.nc2_cond(H, y, rtol=1e-3) == pytest.approx(10.0, rel=1e-10)
    assert m.nc2_cond(H, y, rtol=1e-8) == pytest.approx(1e5, rel=1e-8)
    assert m.nc2_cond(H, y, nonzero=False) == pytest.approx(1e5, rel=1e-8)


@nv.PROPS
@given(nv.datasets(min_K=3, max_K=6, min_D=3), st.sampled_from(["sample", "class"]))
def test_nc2_etf_matches_naive(data, kind):
    H, y, K, _ = data
    got = m.nc2_etf(H, y, global_mean=kind)
    want = nv.nc2_etf(H, y, kind)
    assert set(ETF_KEYS) <= set(got)
    for key in ETF_KEYS:
        assert isinstance(got[key], float)
        assert got[key] == pytest.approx(want[key], rel=1e-8, abs=1e-12), key


def test_nc2_etf_two_classes_is_antipodal():
    H, y, _ = nv.make_data(3, K=2, D=5, sizes=[3, 9])
    e = m.nc2_etf(H, y)
    assert e["cos_mean"] == pytest.approx(-1.0, abs=1e-12)
    assert e["equiangularity"] == pytest.approx(0.0, abs=1e-12)


def test_gram_matches_naive():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(5, 7))
    G = m.gram(M)
    assert isinstance(G, np.ndarray) and G.shape == (5, 5)
    np.testing.assert_allclose(G, nv.gram(M), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.gram(M, normalize=False), nv.gram(M, False), rtol=1e-12)
    np.testing.assert_allclose(m.gram(torch.from_numpy(M)), G, rtol=1e-14)


def test_gram_known_frames():
    rng = np.random.default_rng(1)
    np.testing.assert_allclose(m.gram(nv.orthogonal_means(4, 6, rng)), np.eye(4), atol=1e-12)
    etf = m.gram(nv.simplex_etf(5, 6, rng))
    want = np.full((5, 5), -1 / 4)
    np.fill_diagonal(want, 1.0)
    np.testing.assert_allclose(etf, want, atol=1e-12)


def test_class_means_matches_naive_and_zero_rows_for_empty_classes():
    H, y, _ = nv.make_data(2, K=3, D=4, sizes=[2, 3, 4])
    M = m.class_means(H, y)
    assert isinstance(M, np.ndarray) and M.shape == (3, 4)
    np.testing.assert_allclose(M, nv.means_matrix(H, y), rtol=1e-13)
    y_gap = np.where(y == 2, 3, y)
    M5 = m.class_means(H, y_gap, K=5)
    assert M5.shape == (5, 4)
    np.testing.assert_allclose(M5[[0, 1, 3]], M, rtol=1e-13)
    assert np.all(M5[[2, 4]] == 0)


# ---- NC3 / NC4 -----------------------------------------------------------------------------
def _classifier(K, D, rng, M=None, noise=1.0):
    W = rng.normal(size=(K, D))
    return W if M is None else M + noise * W


@nv.PROPS
@given(nv.datasets(), st.booleans())
def test_nc3_cos_matches_naive(data, means):
    H, y, K, rng = data
    W = _classifier(K, H.shape[1], rng, nv.means_matrix(H, y), 0.7)
    got = m.nc3_cos(H, y, W, means=means)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.nc3_cos(H, y, W, means=means), rel=1e-10, abs=1e-13)


def test_nc3_cos_zero_feature_contributes_zero():
    H, y, _ = nv.make_data(4, K=3, D=4)
    H[0] = 0.0
    W = np.random.default_rng(0).normal(size=(3, 4))
    assert m.nc3_cos(H, y, W) == pytest.approx(nv.nc3_cos(H, y, W), rel=1e-12)


@nv.PROPS
@given(nv.datasets(), st.booleans(), st.sampled_from(["sample", "class"]))
def test_nc3_duality_matches_naive(data, centered, kind):
    H, y, K, rng = data
    W = _classifier(K, H.shape[1], rng)
    got = m.nc3_duality(H, y, W, centered=centered, global_mean=kind)
    assert isinstance(got, float)
    want = nv.nc3_duality(H, y, W, centered=centered, kind=kind)
    assert got == pytest.approx(want, rel=1e-10)
    assert 0.0 <= got <= 2.0 + 1e-12


@nv.PROPS
@given(nv.datasets(), st.booleans(), st.booleans())
def test_nc4_ncc_matches_naive(data, use_eval, use_bias):
    H, y, K, rng = data
    D = H.shape[1]
    W = _classifier(K, D, rng, nv.means_matrix(H, y), 2.0)
    H_eval = rng.normal(size=(17, D)) * 2 if use_eval else None
    b = rng.normal(size=K) if use_bias else None
    got = m.nc4_ncc(H, y, W, H_eval=H_eval, b=b)
    assert isinstance(got, float)
    assert got == pytest.approx(nv.nc4_ncc(H, y, W, H_eval=H_eval, b=b), abs=1e-15)


def test_nc4_ncc_bias_changes_the_prediction():
    # 1-D features, classes at -1 and +1; W = [[-1], [1]]: classifier = nearest centre (NC4 = 1).
    # A bias of +3 on class 0 makes the classifier always predict 0: agreement = half.
    H = np.array([[-1.0], [-1.1], [1.0], [1.1]])
    y = np.array([0, 0, 1, 1])
    W = np.array([[-1.0], [1.0]])
    assert m.nc4_ncc(H, y, W) == 1.0
    assert m.nc4_ncc(H, y, W, b=np.array([3.0, 0.0])) == 0.5
    assert m.nc4_ncc(H, y, W, H_eval=np.array([[0.5], [-0.2], [4.0]])) == 1.0


# ---- known cases ---------------------------------------------------------------------------
def _collapsed_orthogonal(K=4, D=6, n=5, seed=0):
    rng = np.random.default_rng(seed)
    M = nv.orthogonal_means(K, D, rng)
    y = nv.make_labels(K, [n] * K, rng)
    return M[y], y, M


def test_orthogonal_collapse_known_values():
    H, y, M = _collapsed_orthogonal()
    assert m.nc2_cond(H, y) == pytest.approx(1.0, abs=1e-12)
    assert m.nc2_cond(H, y, nonzero=False) == pytest.approx(1.0, abs=1e-12)
    assert m.nc3_cos(H, y, M) == pytest.approx(1.0, abs=1e-12)
    assert m.nc3_cos(H, y, 5.0 * M, means=True) == pytest.approx(1.0, abs=1e-12)
    assert m.nc3_duality(H, y, M, centered=False) == pytest.approx(0.0, abs=1e-12)
    assert m.nc4_ncc(H, y, M) == 1.0
    np.testing.assert_allclose(m.gram(m.class_means(H, y)), np.eye(4), atol=1e-12)


@pytest.mark.parametrize("K", [2, 3, 5])
def test_simplex_etf_collapse_known_values(K):
    rng = np.random.default_rng(K)
    M = nv.simplex_etf(K, K + 2, rng, radius=2.5)
    y = nv.make_labels(K, [4] * K, rng)
    H = M[y]
    e = m.nc2_etf(H, y)
    for key in ("equinorm", "equiangularity", "etf_gram_dist"):
        assert e[key] == pytest.approx(0.0, abs=1e-12), key
    assert e["cos_mean"] == pytest.approx(-1.0 / (K - 1), abs=1e-12)
    assert m.nc2_cond(H, y, centered=True) == pytest.approx(1.0, abs=1e-10)
    assert m.nc2_cond(H, y, centered=True, nonzero=False) == pytest.approx(1.0, abs=1e-10)
    assert m.nc3_duality(H, y, M) == pytest.approx(0.0, abs=1e-12)
    assert m.nc3_cos(H, y, M) == pytest.approx(1.0, abs=1e-12)
    assert m.nc4_ncc(H, y, M) == 1.0


@pytest.mark.parametrize("offset", [0.0, 1.0, 100.0, 1e4])
def test_translated_simplex_etf_centred_cond_is_one(offset):
    # The centred condition number only sees mu_c - mu_G, so a common translation of an ETF
    # must still give kappa = 1 (and all ETF deviations 0).
    rng = np.random.default_rng(11)
    K, D = 4, 6
    M = nv.simplex_etf(K, D, rng) + offset * rng.normal(size=D)
    y = nv.make_labels(K, [3] * K, rng)
    H = M[y]
    e = m.nc2_etf(H, y)
    assert e["etf_gram_dist"] == pytest.approx(0.0, abs=1e-8)
    assert m.nc2_cond(H, y, centered=True, nonzero=False) == pytest.approx(1.0, abs=1e-8)
    assert m.nc2_cond(H, y, centered=True) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("offset", [0.0, 100.0])
def test_centred_nc2_cond_is_translation_invariant(offset):
    H, y, _ = nv.make_data(0, K=4, D=8, n=20, noise=0.3)
    c = offset * np.random.default_rng(1).normal(size=8)
    assert m.nc2_cond(H + c, y, centered=True) == pytest.approx(
        m.nc2_cond(H, y, centered=True), rel=1e-8
    )


def test_nc3_empty_class_with_K_given():
    H, y, _ = nv.make_data(5, K=3, D=4)
    rng = np.random.default_rng(2)
    W = rng.normal(size=(3, 4))
    y_gap = np.where(y == 2, 3, y)  # classes 0, 1, 3 of K = 4
    W4 = np.zeros((4, 4))
    W4[[0, 1, 3]] = W  # the absent class's row may even be zero
    assert m.nc3_cos(H, y_gap, W4, K=4) == pytest.approx(m.nc3_cos(H, y, W), rel=1e-12)
    assert m.nc3_cos(H, y_gap, W4, K=4, means=True) == pytest.approx(
        m.nc3_cos(H, y, W, means=True), rel=1e-12
    )
    W4[2] = rng.normal(size=4)
    assert m.nc3_duality(H, y_gap, W4, K=4) == pytest.approx(m.nc3_duality(H, y, W), rel=1e-12)
    b4 = np.zeros(4)
    b4[2] = -1e6  # the absent class can never win the argmax
    assert m.nc4_ncc(H, y_gap, W4, K=4, b=b4) == pytest.approx(m.nc4_ncc(H, y, W), abs=0)
    for fn in (m.nc2_cond, m.nc2_etf):
        a, b = fn(H, y_gap, K=4), fn(H, y)
        assert a == pytest.approx(b, rel=1e-12)
