"""Streaming ``ClassStats`` / ``ResidualPass`` against the in-memory functions."""

import metrics_naive as nv
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nclab import metrics as m


def _batches(H, y, rng, n_batches):
    """Split (H, y) into n_batches contiguous pieces at random cut points (pieces non-empty)."""
    N = len(y)
    n_batches = min(n_batches, N)
    cuts = np.sort(rng.choice(np.arange(1, N), size=n_batches - 1, replace=False))
    bounds = [0, *cuts.tolist(), N]
    return [(H[a:b], y[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _stream(K, batches, **kw):
    stats = m.ClassStats(K, **kw)
    for Hb, yb in batches:
        stats.update(Hb, yb)
    return stats


def _sharded(K, batches, rng, n_shards, **kw):
    """Each batch to a random shard; shards merged in a random order into an empty ClassStats."""
    shards = [m.ClassStats(K, **kw) for _ in range(n_shards)]
    for Hb, yb in batches:
        shards[int(rng.integers(n_shards))].update(Hb, yb)
    total = m.ClassStats(K, **kw)
    for i in rng.permutation(n_shards):
        total.merge(shards[i])
    return total


def _classifier(H, y, K, rng):
    return nv.means_matrix(H, y) + 0.8 * rng.normal(size=(K, H.shape[1]))


def _check_first_pass(stats, H, y, W, kind, rel=1e-10):
    assert stats.nc1_trace() == pytest.approx(m.nc1_trace(H, y, global_mean=kind), rel=rel)
    assert stats.trace_sigma_w() == pytest.approx(m.trace_sigma_w(H, y), rel=rel)
    assert stats.cdnv() == pytest.approx(m.cdnv(H, y), rel=rel)
    np.testing.assert_allclose(stats.class_means(), m.class_means(H, y), rtol=rel, atol=1e-12)
    for centered in (False, True):
        a = stats.nc2_cond(centered=centered, nonzero=False)
        b = m.nc2_cond(H, y, centered=centered, nonzero=False, global_mean=kind)
        assert a == b or a == pytest.approx(b, rel=1e-8)
    assert stats.nc2_cond() == pytest.approx(m.nc2_cond(H, y), rel=1e-8)
    etf, want = stats.nc2_etf(), m.nc2_etf(H, y, global_mean=kind)
    for key in ("equinorm", "equiangularity", "etf_gram_dist", "cos_mean"):
        assert etf[key] == pytest.approx(want[key], rel=1e-8, abs=1e-12), key
    assert stats.nc3_cos(W) == pytest.approx(m.nc3_cos(H, y, W), rel=rel, abs=1e-14)
    assert stats.nc3_duality(W) == pytest.approx(m.nc3_duality(H, y, W, global_mean=kind), rel=rel)
    assert stats.nc3_duality(W, centered=False) == pytest.approx(
        m.nc3_duality(H, y, W, centered=False), rel=rel
    )


@nv.PROPS
@given(
    nv.datasets(),
    st.integers(1, 12),
    st.sampled_from(["sample", "class"]),
    st.booleans(),
    st.booleans(),
)
def test_streaming_updates_equal_batch(data, n_batches, kind, use_torch, scatter):
    H, y, K, rng = data
    W = _classifier(H, y, K, rng)
    batches = _batches(H, y, rng, n_batches)
    if use_torch:
        batches = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    stats = _stream(K, batches, scatter=scatter, global_mean=kind)
    assert stats.N == len(y)
    _check_first_pass(stats, H, y, W, kind)
    want_pinv = m.nc1_pinv(H, y, global_mean=kind)
    if scatter:
        assert stats.nc1_pinv() == pytest.approx(want_pinv, rel=1e-9)
        assert stats.nc1_pinv(divide_by_K=False) == pytest.approx(
            m.nc1_pinv(H, y, global_mean=kind, divide_by_K=False), rel=1e-9
        )
    second = stats.second_pass(W)
    for Hb, yb in _batches(H, y, rng, n_batches):  # different split in the second pass
        second.update(Hb, yb)
    assert second.nc1_pinv() == pytest.approx(want_pinv, rel=1e-9)
    assert second.nc4_ncc() == pytest.approx(m.nc4_ncc(H, y, W), abs=1e-15)


@nv.PROPS
@given(nv.datasets(), st.integers(1, 12), st.integers(1, 4))
def test_sharded_merge_equals_batch(data, n_batches, n_shards):
    H, y, K, rng = data
    W = _classifier(H, y, K, rng)
    b = rng.normal(size=K)
    stats = _sharded(K, _batches(H, y, rng, n_batches), rng, n_shards, scatter=True)
    _check_first_pass(stats, H, y, W, "sample")
    assert stats.nc1_pinv() == pytest.approx(m.nc1_pinv(H, y), rel=1e-9)
    # second pass sharded too, merged
    parts = [stats.second_pass(W, b) for _ in range(n_shards)]
    for Hb, yb in _batches(H, y, rng, n_batches):
        parts[int(rng.integers(n_shards))].update(Hb, yb)
    total = parts[0]
    for p in parts[1:]:
        total.merge(p)
    assert total.nc1_pinv() == pytest.approx(m.nc1_pinv(H, y), rel=1e-9)
    assert total.nc4_ncc() == pytest.approx(m.nc4_ncc(H, y, W, b=b), abs=1e-15)


@nv.PROPS
@given(nv.datasets(min_K=3), st.integers(1, 10))
def test_streaming_with_large_offset(data, n_batches):
    # +1e4 on every feature: offset-invariant metrics must match the in-memory values of the
    # same data without the offset. The data as given is Hoff (rounded at 1e4's ulp, ~1.8e-12),
    # so the reference is Hoff - 1e4, which is exact (Sterbenz: |H| < 5e3); comparing with H
    # instead would charge the input's own rounding to the metric (two class means 5.6e-4 apart
    # move by ~4e-9 relative in squared distance when rounded at +1e4).
    H, y, K, rng = data
    Hoff = H + 1e4
    H = Hoff - 1e4
    batches = _batches(Hoff, y, rng, n_batches)
    one = _stream(K, batches, scatter=True)
    sharded = _sharded(K, batches, rng, 3, scatter=True)
    want = {
        "nc1_trace": m.nc1_trace(H, y),
        "cdnv": m.cdnv(H, y),
        "trace_sigma_w": m.trace_sigma_w(H, y),
        "nc1_pinv": m.nc1_pinv(H, y),
    }
    for stats in (one, sharded):
        for key, val in want.items():
            assert nv.rel_err(getattr(stats, key)(), val) <= 1e-9, key
        second = stats.second_pass()
        for Hb, yb in batches:
            second.update(Hb, yb)
        assert nv.rel_err(second.nc1_pinv(), want["nc1_pinv"]) <= 1e-9
        etf = stats.nc2_etf()
        assert etf["etf_gram_dist"] == pytest.approx(m.nc2_etf(H, y)["etf_gram_dist"], abs=1e-9)
    # the in-memory functions themselves on the offset data
    for key, val in want.items():
        assert nv.rel_err(getattr(m, key)(Hoff, y), val) <= 1e-9, key


def test_never_seen_classes_are_skipped():
    H, y, _ = nv.make_data(0, K=3, D=5)
    y5 = np.array([0, 2, 4])[y]  # classes 1 and 3 of K = 5 never appear
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 5))
    stats = _stream(5, _batches(H, y5, rng, 4), scatter=True)
    assert stats.nc1_trace() == pytest.approx(m.nc1_trace(H, y5, K=5), rel=1e-10)
    assert stats.nc1_trace() == pytest.approx(m.nc1_trace(H, y), rel=1e-10)
    assert stats.nc1_pinv() == pytest.approx(m.nc1_pinv(H, y5, K=5), rel=1e-9)
    assert stats.cdnv() == pytest.approx(m.cdnv(H, y), rel=1e-10)
    assert stats.nc2_cond() == pytest.approx(m.nc2_cond(H, y5, K=5), rel=1e-9)
    assert stats.nc3_cos(W) == pytest.approx(m.nc3_cos(H, y5, W, K=5), rel=1e-10)
    second = stats.second_pass(W).update(H, y5)
    assert second.nc4_ncc() == m.nc4_ncc(H, y5, W, K=5)


def test_float32_batches_are_accumulated_in_float64():
    H, y, _ = nv.make_data(1, K=3, D=4)
    H32 = H.astype(np.float32)
    stats = m.ClassStats(3).update(torch.from_numpy(H32), torch.from_numpy(y))
    assert stats.nc1_trace() == pytest.approx(m.nc1_trace(H32.astype(np.float64), y), rel=1e-12)


def test_two_pass_nc4_with_a_single_sample_class():
    # nc4_ncc is defined with single-sample classes (in memory it works); the two-pass
    # accumulator should give the same value.
    H, y, _ = nv.make_data(2, K=3, D=4, sizes=[5, 1, 6])
    W = nv.means_matrix(H, y)
    want = m.nc4_ncc(H, y, W)
    stats = m.ClassStats(3).update(H, y)
    second = stats.second_pass(W).update(H, y)
    assert second.nc4_ncc() == want


# ---- state dict ---------------------------------------------------------------------------
@pytest.mark.parametrize("scatter", [False, True])
def test_state_dict_round_trip(scatter):
    H, y, _ = nv.make_data(3, K=4, D=5, n=7)
    rng = np.random.default_rng(3)
    W = rng.normal(size=(4, 5))
    first, rest = _batches(H, y, rng, 2)
    stats = m.ClassStats(4, scatter=scatter).update(*first)
    state = stats.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert ("scatter" in state) == scatter
    restored = m.ClassStats.from_state_dict(state)
    assert restored.K == 4 and restored.N == stats.N and restored.scatter == scatter
    assert restored.nc1_trace() == stats.nc1_trace()
    assert restored.nc3_cos(W) == stats.nc3_cos(W)
    # continuing on either gives the in-memory values, and they do not share state
    restored.update(*rest)
    stats_before = stats.nc1_trace()
    assert stats.N == len(first[1])
    assert stats.nc1_trace() == stats_before
    assert restored.nc1_trace() == pytest.approx(m.nc1_trace(H, y), rel=1e-10)
    assert restored.cdnv() == pytest.approx(m.cdnv(H, y), rel=1e-10)
    if scatter:
        assert restored.nc1_pinv() == pytest.approx(m.nc1_pinv(H, y), rel=1e-9)
    stats.update(*rest)
    assert stats.nc1_trace() == pytest.approx(restored.nc1_trace(), rel=1e-12)


def test_state_dict_round_trip_class_global_mean():
    H, y, _ = nv.make_data(4, K=3, D=4, sizes=[2, 5, 9])
    stats = m.ClassStats(3, global_mean="class").update(H, y)
    restored = m.ClassStats.from_state_dict(stats.state_dict(), global_mean="class")
    assert restored.nc1_trace() == pytest.approx(m.nc1_trace(H, y, global_mean="class"), rel=1e-10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensors_give_the_cpu_values():
    H, y, _ = nv.make_data(8, K=4, D=6, n=9)
    rng = np.random.default_rng(8)
    W = rng.normal(size=(4, 6))
    Hc, yc, Wc = (torch.from_numpy(a).cuda() for a in (H, y, W))
    assert m.nc1_trace(Hc, yc) == pytest.approx(m.nc1_trace(H, y), rel=1e-12)
    assert m.nc1_pinv(Hc, yc) == pytest.approx(m.nc1_pinv(H, y), rel=1e-9)
    assert m.nc3_cos(Hc, yc, Wc) == pytest.approx(m.nc3_cos(H, y, W), rel=1e-12)
    assert m.nc4_ncc(Hc, yc, Wc) == m.nc4_ncc(H, y, W)
    stats = _stream(4, _batches(Hc, yc, rng, 3), scatter=True)
    assert stats.nc1_pinv() == pytest.approx(m.nc1_pinv(H, y), rel=1e-9)
    second = stats.second_pass(Wc).update(Hc, yc)
    assert second.nc4_ncc() == m.nc4_ncc(H, y, W)
    assert m.tcv(Hc, 4) == pytest.approx(m.tcv(H, 4), rel=1e-12)
