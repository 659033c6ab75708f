"""Hypothesis properties: invariance to rotations, positive scalings, relabelling, translations
and (for nc1_pinv) invertible linear maps of feature space."""

import metrics_naive as nv
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m


def _metrics(H, y, W):
    """Every rotation/scale/relabel-invariant metric as a flat dict of floats."""
    out = {
        "nc1_trace": m.nc1_trace(H, y),
        "nc1_trace_class": m.nc1_trace(H, y, global_mean="class"),
        "nc1_pinv": m.nc1_pinv(H, y),
        "cdnv": m.cdnv(H, y),
        "nc2_cond": m.nc2_cond(H, y),
        "nc2_cond_K": m.nc2_cond(H, y, nonzero=False),
        "nc2_cond_centred_K": m.nc2_cond(H, y, centered=True, nonzero=False),
        "nc3_cos": m.nc3_cos(H, y, W),
        "nc3_cos_means": m.nc3_cos(H, y, W, means=True),
        "nc3_duality": m.nc3_duality(H, y, W),
        "nc3_duality_uncentred": m.nc3_duality(H, y, W, centered=False),
        "nc4_ncc": m.nc4_ncc(H, y, W),
    }
    for key, val in m.nc2_etf(H, y).items():
        if key != "cos_std_over_mean":
            out[f"etf_{key}"] = val
    return out


def _assert_same(a, b, rel=1e-8, abs_=1e-12):
    assert set(a) == set(b)
    for key in a:
        if np.isinf(a[key]) or np.isinf(b[key]):
            assert a[key] == b[key], key
        else:
            assert a[key] == pytest.approx(b[key], rel=rel, abs=abs_), key


def _W(H, y, K, rng):
    return nv.means_matrix(H, y) + 1.5 * rng.normal(size=(K, H.shape[1]))


@nv.PROPS
@given(nv.datasets())
def test_invariance_to_rotation(data):
    H, y, K, rng = data
    W = _W(H, y, K, rng)
    Q = nv.random_orthogonal(H.shape[1], rng)
    _assert_same(_metrics(H @ Q, y, W @ Q), _metrics(H, y, W))


@nv.PROPS
@given(nv.datasets(), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_invariance_to_positive_scaling(data, a, b):
    H, y, K, rng = data
    W = _W(H, y, K, rng)
    _assert_same(_metrics(a * H, y, b * W), _metrics(H, y, W))


@nv.PROPS
@given(nv.datasets(), st.randoms(use_true_random=False))
def test_invariance_to_relabelling(data, rnd):
    H, y, K, rng = data
    W = _W(H, y, K, rng)
    perm = list(range(K))
    rnd.shuffle(perm)
    perm = np.array(perm)
    W_new = np.empty_like(W)
    W_new[perm] = W  # class c is now called perm[c]; its classifier row moves along
    _assert_same(_metrics(H, perm[y], W_new), _metrics(H, y, W))


@nv.PROPS
@given(nv.datasets(), st.floats(-10, 10))
def test_translation_invariance_of_nc1_and_etf(data, shift):
    H, y, K, rng = data
    c = shift * rng.normal(size=H.shape[1])
    a, b = H + c, H
    for fn in (m.nc1_trace, m.nc1_pinv, m.cdnv, m.trace_sigma_w):
        assert fn(a, y) == pytest.approx(fn(b, y), rel=1e-8), fn.__name__
    assert m.nc2_cond(a, y, centered=True, nonzero=False) == pytest.approx(
        m.nc2_cond(b, y, centered=True, nonzero=False), rel=1e-7
    )
    ea, eb = m.nc2_etf(a, y), m.nc2_etf(b, y)
    for key in ("equinorm", "equiangularity", "etf_gram_dist", "cos_mean"):
        assert ea[key] == pytest.approx(eb[key], rel=1e-7, abs=1e-10), key


def _well_conditioned(D, rng, lo=0.3, hi=3.0):
    U, V = nv.random_orthogonal(D, rng), nv.random_orthogonal(D, rng)
    return U @ np.diag(rng.uniform(lo, hi, size=D)) @ V.T


@nv.PROPS
@given(nv.datasets(min_K=3, max_K=8, max_D=7), st.booleans())
def test_nc1_pinv_invariant_to_invertible_maps_when_sigma_b_is_full_rank(data, div):
    # D <= K - 1: Sigma_B is invertible and tr(A S_W A^T (A S_B A^T)^-1) = tr(S_W S_B^-1).
    H, y, K, rng = data
    D = H.shape[1]
    if D > K - 1:
        H = H[:, : K - 1]
        D = K - 1
    A = _well_conditioned(D, rng)
    assert m.nc1_pinv(H @ A.T, y, divide_by_K=div) == pytest.approx(
        m.nc1_pinv(H, y, divide_by_K=div), rel=1e-7
    )


@nv.PROPS
@given(nv.datasets(max_K=5, min_D=6, max_D=12))
def test_nc1_pinv_invariant_to_maps_preserving_the_mean_span(data):
    # D >= K: an invertible A that maps span(centred means) and its orthogonal complement each
    # to itself leaves nc1_pinv unchanged (Sigma_B^+ only sees the span).
    H, y, K, rng = data
    D = H.shape[1]
    Mc = nv.means_matrix(H, y) - H.mean(0)
    _, s, Vt = np.linalg.svd(Mc)
    r = int(np.sum(s > 1e-10 * s[0]))
    B = np.concatenate([Vt[:r].T, nv.random_orthogonal(D, rng)], axis=1)
    basis, _ = np.linalg.qr(B)  # first r columns span the means, rest the complement
    blocks = np.zeros((D, D))
    blocks[:r, :r] = _well_conditioned(r, rng)
    blocks[r:, r:] = _well_conditioned(D - r, rng)
    A = basis @ blocks @ basis.T
    assert m.nc1_pinv(H @ A.T, y) == pytest.approx(m.nc1_pinv(H, y), rel=1e-7)


def test_nc1_pinv_under_a_shear_into_the_mean_span():
    # A = I + U B^T P_perp maps span(U) (the centred means) onto itself but shears the
    # complement into it: nc1_pinv follows the naive definition and *changes*, so "invariant to
    # any invertible map that preserves the class means' span" (docstring) needs the
    # complement preserved too.
    rng = np.random.default_rng(2)
    H, y, _ = nv.make_data(2, K=3, D=6, noise=0.5)
    Mc = nv.means_matrix(H, y) - H.mean(0)
    U = np.linalg.svd(Mc)[2][:2].T  # (D, 2) orthonormal basis of the span
    P_perp = np.eye(6) - U @ U.T
    A = np.eye(6) + U @ rng.normal(size=(2, 6)) @ P_perp
    HA = H @ A.T
    assert m.nc1_pinv(HA, y) == pytest.approx(nv.nc1_pinv(HA, y), rel=1e-8)
    assert abs(m.nc1_pinv(HA, y) / m.nc1_pinv(H, y) - 1) > 1e-2


def test_nc1_trace_is_not_invariant_to_anisotropic_maps():
    # Appendix 2: NC1_tr is invariant to rotations/scaling only; nc1_pinv to invertible maps.
    H, y, _ = nv.make_data(0, K=6, D=4)
    A = np.diag([1.0, 10.0, 0.1, 3.0])
    assert m.nc1_pinv(H @ A.T, y) == pytest.approx(m.nc1_pinv(H, y), rel=1e-8)
    assert abs(m.nc1_trace(H @ A.T, y) / m.nc1_trace(H, y) - 1) > 1e-2


@nv.PROPS
@given(nv.datasets(), st.integers(0, 3))
def test_nc4_eval_set_permutation(data, k):
    # NC4 on an evaluation set is an average over its rows: row order does not matter and
    # duplicating the set leaves it unchanged.
    H, y, K, rng = data
    W = _W(H, y, K, rng)
    E = rng.normal(size=(11 + k, H.shape[1])) * 2
    v = m.nc4_ncc(H, y, W, H_eval=E)
    assert m.nc4_ncc(H, y, W, H_eval=E[rng.permutation(len(E))]) == pytest.approx(v, abs=1e-15)
    assert m.nc4_ncc(H, y, W, H_eval=np.concatenate([E, E])) == pytest.approx(v, abs=1e-15)


@nv.PROPS
@given(nv.datasets(), st.sampled_from([1.0, 1e2, 1e4]))
def test_nc4_with_offset_and_compensating_bias(data, scale):
    # h -> h + c with b = -W c leaves the logits and the nearest centre unchanged.
    H, y, K, rng = data
    W = _W(H, y, K, rng)
    c = scale * rng.normal(size=H.shape[1])
    assert m.nc4_ncc(H + c, y, W, b=-W @ c) == pytest.approx(m.nc4_ncc(H, y, W), abs=1e-15)
