"""Cutoffs follow the precision of the features as given (issue 12 part 1).

Features whose class means and within-class variation lie exactly in an r-dimensional subspace
(r < K-1) are stored in float32 / bf16 / f16 / float64 after a random rotation and offset. The
exact NC1 is computed independently in float64 in the r subspace coordinates (there Sigma_B is
invertible); the NC1 of the rounded data with the pseudo-inverse restricted to the known rank r
(``oracle``) is computed independently too, from explicit loops and an SVD.
"""

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m

EPS = {torch.float64: 2.0**-52, torch.float32: 2.0**-23, torch.float16: 2.0**-10,
       torch.bfloat16: 2.0**-7}


def low_rank_case(K=10, r=5, D=64, n=100, sw=0.01, offset=0.0, seed=0, s_min=None):
    """(H float64 (N, D), y, exact NC1). Centred means span r directions with singular values
    (of Mc / sqrt(K)) from 1 down to ``s_min`` (random when None); within-class noise of
    std ``sw`` and zero class means in the same span; random rotation into R^D; offset of norm ``offset``."""
    g = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), n)
    Mr = g.standard_normal((K, r))
    if s_min is not None:
        U, _, Vt = np.linalg.svd(Mr - Mr.mean(0), full_matrices=False)
        Mr = U @ np.diag(np.geomspace(1.0, s_min, r)) @ Vt * K**0.5
    G = g.standard_normal((K * n, r))
    G -= np.stack([G[y == c].mean(0) for c in range(K)])[y]  # the class means are exactly Mr
    Z = Mr[y] + sw * G
    Q = np.linalg.qr(g.standard_normal((D, r)))[0]
    shift = g.standard_normal(D)
    H = Z @ Q.T + offset * shift / np.linalg.norm(shift)
    return H, y, _exact_nc1(Z, y, K)


def _exact_nc1(Z, y, K):
    """tr(Sigma_W Sigma_B^-1) / K in the r subspace coordinates, where Sigma_B is invertible."""
    mu = np.stack([Z[y == c].mean(0) for c in range(K)])
    Mc = mu - Z.mean(0)
    _, s, Vt = np.linalg.svd(Mc / K**0.5)  # Sigma_B^-1 = V S^-2 V^T (no squared condition)
    return float(np.sum(((Z - mu[y]) @ Vt.T / s) ** 2)) / len(y) / K


def oracle(H, y, k):
    """NC1 pinv of the data as given (exactly in float64) with Sigma_B^+ restricted to its k
    leading directions: explicit-loop means, SVD of the centred means."""
    H = nv.f64(H.double() if isinstance(H, torch.Tensor) else H)
    M = nv.means_matrix(H, y)
    K = M.shape[0]
    _, s, Vt = np.linalg.svd((M - nv.global_mean(H, y)) / K**0.5)
    R = H - M[nv.labels(y)]
    P = Vt[:k].T / s[:k]
    return float(np.sum((R @ P) ** 2)) / H.shape[0] / K


def rounding_rtol(H, y, eps):
    """The documented default cutoff, re-derived naively: (eps sqrt(K) rho + max(K, D) eps64
    max(s1, sqrt(K) rho)) / s1 with s1 of the centred means and rho the largest class RMS norm."""
    H, y = nv.f64(H), nv.labels(y)
    M = nv.means_matrix(H, y)
    K, D = M.shape
    s1 = np.linalg.svd(M - nv.global_mean(H, y), compute_uv=False)[0]
    rho = max(np.sqrt(np.mean(np.sum(H[y == c] ** 2, 1))) for c in range(K))
    level = K**0.5 * rho
    return (eps * level + max(K, D) * 2.0**-52 * max(s1, level)) / s1


def stored(H, dtype):
    return torch.from_numpy(H).to(dtype)


# ---- the issue's case ------------------------------------------------------------------------
def test_issue_12_float32_low_rank_means_regression():
    # Before: the cutoff max(K, D) * eps64 kept the ~1e-9 s_1 rounding directions of the float32
    # input and inverted them: nc1_pinv = 14.21 where the exact value is 3.04e-4.
    H, y, exact = low_rank_case(D=64, sw=0.012, offset=1.0, seed=0)
    assert exact == pytest.approx(3.04e-4, rel=1e-2)
    assert m.nc1_pinv(H, y) == pytest.approx(exact, rel=1e-12)
    assert m.nc1_pinv(H.astype(np.float32), y) == pytest.approx(exact, rel=1e-4)
    assert m.nc1_pinv(stored(H, torch.float32), y) == pytest.approx(exact, rel=1e-4)


# ---- known exact values under rotations and offsets ------------------------------------------
CASES = {  # dtype: (within-class std, max offset, smallest genuine singular value)
    torch.float64: (0.01, 1e4, 1e-3),
    torch.float32: (0.01, 1e2, 1e-2),
    torch.float16: (0.1, 2.0, 0.2),
    torch.bfloat16: (0.3, 1.0, 0.3),
}


@given(
    dtype=st.sampled_from(list(CASES)),
    seed=st.integers(0, 10_000),
    r=st.integers(1, 6),
    D=st.integers(8, 80),
    frac=st.floats(0.0, 1.0),
)
@nv.PROPS
def test_low_rank_means_known_value(dtype, seed, r, D, frac):
    sw, max_offset, s_min = CASES[dtype]
    H, y, exact = low_rank_case(K=9, r=r, D=D, n=30, sw=sw, offset=frac * max_offset,
                                seed=seed, s_min=s_min)
    Hs = stored(H, dtype)
    value = m.nc1_pinv(Hs, y)
    # the cut falls between the r genuine directions and the rounding ones
    assert value == pytest.approx(oracle(Hs, y, r), rel=1e-9)
    if dtype in (torch.float64, torch.float32):
        # rounding moves the value by ~ eps * rho / (sw * s_min) relative: far below 1e-3 here
        assert value == pytest.approx(exact, rel=1e-3)
    else:
        assert value == pytest.approx(exact, rel=0.5)
    # the same in streaming, batches in any split
    stats = m.ClassStats(9, scatter=True)
    cut = np.random.default_rng(seed).integers(1, len(y))
    stats.update(Hs[:cut], y[:cut]).update(Hs[cut:], y[cut:])
    second = stats.second_pass().update(Hs, y)
    assert second.nc1_pinv() == pytest.approx(value, rel=1e-9)
    assert stats.nc1_pinv() == pytest.approx(value, rel=1e-7)
    assert second.rtol == pytest.approx(rounding_rtol(Hs.double(), y, EPS[dtype]), rel=1e-9)


def test_float64_keeps_genuine_small_directions():
    # A genuine direction at 1e-8 s_1 is resolved by float64 (default keeps it: the exact value);
    # float32's rounding level is ~1e-7 s_1 here, so there it is dropped (the rank-(r-1) value).
    H, y, exact = low_rank_case(K=8, r=4, D=32, n=40, sw=0.01, s_min=1e-8, seed=3)
    assert m.nc1_pinv(H, y) == pytest.approx(exact, rel=1e-6)
    assert m.nc1_pinv(H, y) == pytest.approx(oracle(H, y, 4), rel=1e-8)
    H32 = stored(H, torch.float32)
    assert m.nc1_pinv(H32, y) == pytest.approx(oracle(H32, y, 3), rel=1e-9)
    assert m.nc1_pinv(H32, y, rtol=0.0) > 1e3 * m.nc1_pinv(H32, y)


def test_default_cutoff_scales_with_the_input_precision():
    H, y, _ = low_rank_case(D=64, seed=1)
    for dtype, eps in EPS.items():
        rtol = m.ClassStats(10).update(stored(H, dtype), y).rounding_rtol(centered=True)
        assert rtol == pytest.approx(rounding_rtol(stored(H, dtype).double(), y, eps), rel=1e-9)
    f32 = m.ClassStats(10).update(stored(H, torch.float32), y).rounding_rtol(centered=True)
    bf16 = m.ClassStats(10).update(stored(H, torch.bfloat16), y).rounding_rtol(centered=True)
    assert bf16 / f32 == pytest.approx(2.0**16, rel=1e-2)
    # integer features are exact: the float64 working precision's
    Hi = np.round(H * 100).astype(np.int64)
    assert m.ClassStats(10).update(Hi, y).rounding_rtol(centered=True) == pytest.approx(
        rounding_rtol(Hi, y, 2.0**-52), rel=1e-9)


def test_unresolved_means_raise():
    # bf16 with an offset of 1000 has a resolution of 4: class means of norm ~1 are not resolved.
    H, y, _ = low_rank_case(K=6, r=3, D=16, n=20, offset=1000.0, seed=2)
    with pytest.raises(ValueError, match="rtol"):
        m.nc1_pinv(stored(H, torch.bfloat16), y)
    assert np.isfinite(m.nc1_pinv(stored(H, torch.bfloat16), y, rtol=1e-3))


# ---- Papyan's truncation ----------------------------------------------------------------------
def test_papyan_rank_K_minus_1_variant():
    H, y, exact = low_rank_case(D=64, sw=0.012, offset=1.0, seed=0)
    H32 = stored(H, torch.float32)
    papyan = m.nc1_pinv(H32, y, rank="papyan")
    assert papyan == pytest.approx(oracle(H32, y, 9), rel=1e-5)
    assert papyan > 1.0 > 1e3 * exact  # inverts the rounding directions
    assert m.nc1_pinv(H32, y, rank=5) == pytest.approx(m.nc1_pinv(H32, y), rel=1e-12)
    # generic (full-rank) means: Papyan's truncation is the plain pseudo-inverse
    rng = np.random.default_rng(4)
    y2 = np.repeat(np.arange(6), 20)
    H2 = rng.normal(size=(6, 12))[y2] + 0.3 * rng.normal(size=(120, 12))
    assert m.nc1_pinv(H2, y2, rank="papyan") == pytest.approx(nv.nc1_pinv(H2, y2), rel=1e-9)
    assert m.nc1_pinv(H2, y2, rank="papyan") == pytest.approx(m.nc1_pinv(H2, y2), rel=1e-12)
    # streaming: one second pass gives both variants; scatter mode too
    stats = m.ClassStats(10, scatter=True).update(H32[:500], y[:500]).update(H32[500:], y[500:])
    second = stats.second_pass().update(H32, y)
    assert second.nc1_pinv(rank="papyan") == pytest.approx(papyan, rel=1e-5)
    assert stats.nc1_pinv(rank="papyan") == pytest.approx(papyan, rel=1e-4)
    assert stats.second_pass(rank="papyan").update(H32, y).nc1_pinv() == pytest.approx(
        papyan, rel=1e-5)
    assert second.nc1_pinv() == pytest.approx(exact, rel=1e-4)


def test_cutoff_argument_errors():
    H, y, _ = low_rank_case(K=4, r=2, D=8, n=10, seed=5)
    with pytest.raises(ValueError, match="either rtol or rank"):
        m.nc1_pinv(H, y, rtol=1e-3, rank="papyan")
    with pytest.raises(ValueError, match="rank must be"):
        m.nc1_pinv(H, y, rank="pap")
    with pytest.raises(ValueError, match="exceeds"):
        m.nc1_pinv(H, y, rank=4)
    with pytest.raises(ValueError, match="rtol must be"):
        m.nc1_pinv(H, y, rtol=-1.0)
    with pytest.raises(ValueError, match="rtol must be"):
        m.ClassStats(4).update(H, y).second_pass(rtol=float("nan"))


# ---- streaming keeps the lowest precision seen ----------------------------------------------
@pytest.mark.parametrize("order", ["f32_first", "bf16_first"])
def test_merging_shards_of_different_precision_keeps_the_lowest(order):
    H, y, _ = low_rank_case(K=6, r=3, D=24, n=40, sw=0.3, offset=0.5, seed=6)
    half = len(y) // 2
    a = m.ClassStats(6).update(stored(H[:half], torch.float32), y[:half])
    b = m.ClassStats(6).update(stored(H[half:], torch.bfloat16), y[half:])
    total = a.merge(b) if order == "f32_first" else b.merge(a)
    # the data actually seen: float32 rows and bf16-rounded rows, as float64
    seen = np.concatenate([nv.f64(stored(H[:half], torch.float32)),
                           nv.f64(stored(H[half:], torch.bfloat16).float())])
    want = rounding_rtol(seen, y, 2.0**-7)
    assert total.rounding_rtol(centered=True) == pytest.approx(want, rel=1e-9)
    second = total.second_pass().update(seen, y)  # second pass inherits the precision
    assert second.rtol == pytest.approx(want, rel=1e-9)
    assert second.nc1_pinv() == pytest.approx(m.nc1_pinv(seen, y, rtol=want), rel=1e-9)
    # one stream fed both precisions, and the state dict round trip, agree
    mixed = m.ClassStats(6).update(stored(H[:half], torch.float32), y[:half])
    mixed.update(stored(H[half:], torch.bfloat16), y[half:])
    assert mixed.rounding_rtol(centered=True) == pytest.approx(want, rel=1e-9)
    again = m.ClassStats.from_state_dict(total.state_dict())
    assert again.rounding_rtol(centered=True) == pytest.approx(want, rel=1e-9)


# ---- nc2_cond and numerical ranks -------------------------------------------------------------
def test_nc2_cond_and_ranks_of_low_rank_float32_means():
    H, y, _ = low_rank_case(K=10, r=5, D=64, sw=0.01, offset=1.0, seed=7)
    M = nv.means_matrix(H, y)
    s = np.linalg.svd(M, compute_uv=False)  # uncentred: rank 6 (5 + the offset)
    s_c = np.linalg.svd(M - nv.global_mean(H, y), compute_uv=False)
    H32 = stored(H, torch.float32)
    assert m.nc2_cond(H32, y) == pytest.approx(s[0] / s[5], rel=1e-5)
    assert m.nc2_cond(H32, y, centered=True) == pytest.approx(s_c[0] / s_c[4], rel=1e-5)
    assert m.nc2_cond(H32, y, nonzero=False) == float("inf")
    assert m.nc2_cond(H32, y, rtol=0.0) > 1e6  # every non-zero singular value: rounding noise
    # numerical_rank of the matrix as given
    A = np.random.default_rng(8).normal(size=(64, 5)) @ np.random.default_rng(9).normal(size=(5, 48))
    assert m.numerical_rank(A) == 5
    assert m.numerical_rank(A.astype(np.float32)) == 5
    assert m.numerical_rank(torch.from_numpy(A).bfloat16()) == 5
    assert m.numerical_rank(A.astype(np.float32), rtol=0.0) == 48  # override: rounding counted


def test_layer_report_reports_the_cutoffs_used():
    H, y, exact = low_rank_case(K=10, r=5, D=64, sw=0.012, offset=1.0, seed=0)
    feats = {"a": stored(H, torch.float32), "b": stored(H, torch.bfloat16), "c": H}
    report = m.layer_report(feats, y)
    rows = {r["layer"]: r for r in report.rows}
    for name, eps in (("a", 2.0**-23), ("b", 2.0**-7), ("c", 2.0**-52)):
        row, Hd = rows[name], nv.f64(feats[name].double() if name == "b" else feats[name])
        assert row["nc1_pinv_rtol"] == pytest.approx(rounding_rtol(Hd, y, eps), rel=1e-9)
        stats = m.ClassStats(10).update(feats[name], y)
        assert row["nc2_cond_rtol"] == pytest.approx(stats.rounding_rtol(), rel=1e-12)
        assert row["means_rank_rtol"] == max(1e-3, row["nc2_cond_rtol"])
        assert row["means_rank"] == 6
    assert rows["a"]["nc1_pinv"] == pytest.approx(exact, rel=1e-4)
    assert rows["c"]["nc1_pinv"] == pytest.approx(exact, rel=1e-12)
    assert rows["b"]["nc1_pinv"] == pytest.approx(m.nc1_pinv(feats["b"], y), rel=1e-9)


def test_energy_rank_refuses_a_tolerance_below_the_rounding_level():
    A = np.random.default_rng(10).normal(size=(32, 3)) @ np.random.default_rng(11).normal(size=(3, 20))
    assert m.energy_rank(A.astype(np.float32)) == 3
    with pytest.raises(ValueError, match="rounding level"):
        m.energy_rank(torch.from_numpy(A).bfloat16())  # tol 1e-5 < 2^-8
    assert m.energy_rank(torch.from_numpy(A).bfloat16(), tol=1e-2) == 3


def test_residual_passes_of_different_first_passes_do_not_merge():
    H, y, _ = low_rank_case(K=6, r=3, D=16, n=10, seed=12)
    a = m.ClassStats(6).update(H, y).second_pass()
    c = m.ClassStats(6).update(H[y < 3], y[y < 3]).second_pass()
    with pytest.raises(ValueError, match="same first pass"):
        a.merge(c)


@pytest.mark.parametrize("seed", range(5))
def test_close_class_means_under_a_large_offset(seed):
    """Two class means 5.6e-4 apart, all features at +1e4 (D = 1, K = 3): the CDNV and NC1 of
    the data as given (``Hoff - 1e4``, exact by Sterbenz) are reproduced to ~1e-12, in memory and
    streamed in batches of 3 (class means accumulated relative to a sample; with raw sums at the
    offset's scale the relative error was 1e-7)."""
    g = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), g.integers(2, 9, size=3))
    M = np.array([[0.3], [0.3 + 5.6e-4], [-1.2]])
    Hoff = M[y] + 1e-4 * g.standard_normal((len(y), 1)) + 1e4
    H = Hoff - 1e4
    for key in ("cdnv", "nc1_trace", "nc1_pinv"):
        want = getattr(nv, key)(H, y)
        stats = m.ClassStats(3, scatter=True)
        for a in range(0, len(y), 3):
            stats.update(Hoff[a : a + 3], y[a : a + 3])
        for got in (getattr(m, key)(Hoff, y), getattr(stats, key)()):
            assert nv.rel_err(got, want) <= 1e-10, key
