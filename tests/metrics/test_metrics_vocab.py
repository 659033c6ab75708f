"""Vocabulary scale (issue 16): sparse O(B D) updates, min_count exclusion, tiled pairwise metrics
against dense computations, NC1/NC4 with K - 1 >= D, memory estimates. Toy sizes: K = 2 000, D = 16.
"""

import metrics_naive as nv
import numpy as np
import pytest
import torch

from nclab import metrics as m
from nclab.metrics import _memory, pairwise

K, D = 2000, 16


def _data(seed, *, rare=False, n_extra=2000, offset=0.0):
    """K = 2000 Gaussian classes in D = 16. ``rare``: Zipf(1.1) labels (many classes with 0 or 1
    samples); else every class has >= 2 samples."""
    rng = np.random.default_rng(seed)
    means = 3.0 * rng.normal(size=(K, D))
    if rare:
        p = 1.0 / np.arange(1, K + 1) ** 1.1
        y = rng.choice(K, size=6000, p=p / p.sum())
    else:
        y = np.concatenate([np.repeat(np.arange(K), 2), rng.integers(K, size=n_extra)])
        rng.shuffle(y)
    H = means[y] + rng.normal(size=(len(y), D)) + offset
    return H, y.astype(np.int64), rng


def _stream(H, y, n_batches=7, **kw):
    stats = m.ClassStats(K, **kw)
    for Hb, yb in zip(np.array_split(H, n_batches), np.array_split(y, n_batches), strict=True):
        stats.update(Hb, yb)
    return stats


def _means_vars(H, y):
    """Class means (rows) and variances ``mean ||h - mu_c||^2`` of the present classes, numpy
    float64 (vectorised: the loop references of metrics_naive are O(K^2 N) at K = 2000)."""
    cls, pos, counts = np.unique(y, return_inverse=True, return_counts=True)
    mu = np.zeros((len(cls), H.shape[1]))
    np.add.at(mu, pos, H)
    mu /= counts[:, None]
    var = np.bincount(pos, ((H - mu[pos]) ** 2).sum(1)) / counts
    return mu, var


def _dense_cdnv_values(H, y):
    """Every pairwise CDNV from explicit differences of the class means (float64, no tiling)."""
    mu, var = _means_vars(H, y)
    vals = [(var[i] + var[i + 1 :]) / (2 * ((mu[i + 1 :] - mu[i]) ** 2).sum(1))
            for i in range(len(mu) - 1)]
    return np.concatenate(vals)


def _dense_etf(Mc):
    """The former dense implementation: the full K x K cosine and Gram matrices. The Gram
    distance in extended precision: the former float64 value is off by 7e-12 at K = 2000
    (rounding of the K x K norms), the tiled one agrees with this to 1e-15."""
    L = np.asarray(Mc, dtype=np.longdouble)
    Mc = torch.as_tensor(Mc)
    k = Mc.shape[0]
    norms = Mc.norm(dim=1)
    U = Mc / norms.unsqueeze(1)
    off = (U @ U.T)[~torch.eye(k, dtype=torch.bool)]
    G, E = L @ L.T, np.eye(k) - 1.0 / k
    gram_dist = np.sqrt(((G / np.sqrt((G**2).sum()) - E / np.sqrt((E**2).sum())) ** 2).sum())
    return {
        "equinorm": float(norms.std(unbiased=False) / norms.mean()),
        "equiangularity": float((off + 1.0 / (k - 1)).abs().mean()),
        "etf_gram_dist": float(gram_dist),
        "cos_mean": float(off.mean()),
        "cos_std_over_mean": float(off.std(unbiased=False)) / abs(float(off.mean())),
    }


# ---- sparse updates ---------------------------------------------------------------------------
def test_sparse_updates_and_shard_merges_equal_the_whole_data():
    H, y, rng = _data(0, rare=True)
    stats = _stream(H, y, 11)
    want = m.class_means(H, y, K=K)
    np.testing.assert_allclose(stats.class_means(), want, rtol=1e-12, atol=1e-12)
    counts = np.bincount(y, minlength=K)
    np.testing.assert_array_equal(stats.state_dict()["counts"].numpy(), counts)
    assert stats.trace_sigma_w() == pytest.approx(m.trace_sigma_w(H, y, K=K), rel=1e-12)
    # shards over disjoint, interleaved pieces, merged in a shuffled order
    shards = [m.ClassStats(K) for _ in range(3)]
    pieces = list(zip(np.array_split(H, 9), np.array_split(y, 9), strict=True))
    for i, (Hb, yb) in enumerate(pieces):
        shards[i % 3].update(Hb, yb)
    total = m.ClassStats(K)
    for i in rng.permutation(3):
        total.merge(shards[i])
    np.testing.assert_allclose(total.class_means(), want, rtol=1e-12, atol=1e-12)
    assert total.N == len(y)
    assert total.trace_sigma_w() == pytest.approx(stats.trace_sigma_w(), rel=1e-12)


def test_update_leaves_classes_absent_from_the_batch_untouched():
    H, y, _ = _data(1)
    stats = m.ClassStats(K).update(H[:500], y[:500])
    before = stats.state_dict()
    batch = y[500:520]
    stats.update(H[500:520], batch)
    after = stats.state_dict()
    untouched = np.setdiff1d(np.arange(K), batch)
    assert torch.equal(after["origin"], before["origin"])
    for key in ("counts", "offsets", "sq_dev", "unit_sums"):
        assert torch.equal(after[key][untouched], before[key][untouched]), key


# ---- min_count ---------------------------------------------------------------------------------
def test_min_count_equals_the_metrics_of_the_kept_samples():
    H, y, rng = _data(2, rare=True)
    W = 3.0 * rng.normal(size=(K, D))
    stats = _stream(H, y, 5, scatter=True)
    counts = np.bincount(y, minlength=K)
    with pytest.raises(ValueError, match="fewer than 2 samples"):
        stats.nc1_trace()  # strict default unchanged
    for mc in (2, 5):
        keep = counts[y] >= mc
        Hk, yk = H[keep], y[keep]
        sel = stats.selection(mc)
        small = np.flatnonzero((counts > 0) & (counts < mc))
        assert sel.excluded == tuple(small.tolist())
        assert sel.kept == int((counts >= mc).sum()) and sel.empty == int((counts == 0).sum())
        assert sel.excluded_share == pytest.approx(counts[small].sum() / len(y), rel=1e-15)
        assert sel.as_row()["classes_excluded"] == len(small)
        assert stats.nc1_trace(min_count=mc) == pytest.approx(m.nc1_trace(Hk, yk, K=K), rel=1e-10)
        assert stats.trace_sigma_w(min_count=mc) == pytest.approx(
            m.trace_sigma_w(Hk, yk, K=K), rel=1e-10)
        assert stats.cdnv(min_count=mc) == pytest.approx(m.cdnv(Hk, yk, K=K), rel=1e-10)
        assert stats.nc2_cond(min_count=mc) == pytest.approx(m.nc2_cond(Hk, yk, K=K), rel=1e-8)
        etf, want = stats.nc2_etf(min_count=mc), m.nc2_etf(Hk, yk, K=K)
        for key in want:
            assert etf[key] == pytest.approx(want[key], rel=1e-9), key
        assert stats.nc3_cos(W, min_count=mc) == pytest.approx(m.nc3_cos(Hk, yk, W, K=K), rel=1e-10)
        assert stats.nc3_duality(W, min_count=mc) == pytest.approx(
            m.nc3_duality(Hk, yk, W, K=K), rel=1e-10)
        second = stats.second_pass(W, min_count=mc)
        for Hb, yb in zip(np.array_split(H, 3), np.array_split(y, 3), strict=True):
            second.update(Hb, yb)  # rows of excluded classes are skipped
        assert second.N == len(yk)
        assert second.nc1_pinv() == pytest.approx(m.nc1_pinv(Hk, yk, K=K), rel=1e-9)
        assert second.nc4_ncc() == m.nc4_ncc(Hk, yk, W, K=K)
        cs = stats.cdnv_stats(min_count=mc)
        assert cs["classes_kept"] == sel.kept and cs["excluded_share"] == sel.excluded_share
    # one pass: excluding single-sample classes is exact (they add no scatter) ...
    keep = counts[y] >= 2
    assert stats.nc1_pinv(min_count=2) == pytest.approx(
        m.nc1_pinv(H[keep], y[keep], K=K), rel=1e-9)
    # ... classes with 2..4 samples cannot be removed from the pooled scatter
    with pytest.raises(ValueError, match="second_pass"):
        stats.nc1_pinv(min_count=5)


def test_constructor_min_count_is_every_metrics_default():
    H, y, rng = _data(13, rare=True)
    W = rng.normal(size=(K, D))
    strict, lenient = _stream(H, y, 3), _stream(H, y, 3, min_count=2)
    assert lenient.selection() == strict.selection(2)
    assert lenient.nc1_trace() == strict.nc1_trace(min_count=2)
    assert lenient.cdnv_stats() == strict.cdnv_stats(min_count=2)
    assert lenient.nc2_etf() == strict.nc2_etf(min_count=2)
    assert lenient.nc3_duality(W) == strict.nc3_duality(W, min_count=2)
    assert lenient.nc1_trace(min_count=3) == strict.nc1_trace(min_count=3)  # override
    second = lenient.second_pass(W).update(H, y)
    assert second.nc4_ncc() == strict.second_pass(W, min_count=2).update(H, y).nc4_ncc()
    restored = m.ClassStats.from_state_dict(lenient.state_dict(), min_count=2)
    assert restored.cdnv() == lenient.cdnv()


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2"])
def test_min_count_is_validated(bad):
    H, y, _ = _data(3)
    stats = m.ClassStats(K).update(H, y)
    with pytest.raises(ValueError, match="min_count"):
        stats.nc1_trace(min_count=bad)
    with pytest.raises(ValueError, match="min_count"):
        m.ClassStats(K, min_count=bad)
    with pytest.raises(ValueError, match="min_count"):
        m.layer_report({"h": H}, y, K=K, min_count=bad)


def test_min_count_keeping_fewer_than_two_classes_is_an_error():
    H, y, _ = _data(4)
    stats = m.ClassStats(K).update(H, y)
    with pytest.raises(ValueError, match="only 0 class"):
        stats.cdnv(min_count=10_000)


def test_layer_report_min_count_rows_and_excluded_ids():
    H, y, rng = _data(5, rare=True)
    W = rng.normal(size=(K, D))
    counts = np.bincount(y, minlength=K)
    keep = counts[y] >= 2
    kw = {"K": K, "classifier": W, "classifier_input": "h"}
    strict = m.layer_report({"h": H}, y, **kw)
    assert ("h", "features", "nc1_trace") in strict.skipped
    rep = m.layer_report({"h": H}, y, min_count=2, **kw)
    want = m.layer_report({"h": H[keep]}, y[keep], **kw)
    row, ref = rep.rows[0], want.rows[0]
    assert not rep.skipped
    assert rep.excluded_classes == tuple(np.flatnonzero(counts == 1).tolist())
    assert row["classes_excluded"] == int((counts == 1).sum())
    assert row["excluded_share"] == pytest.approx((counts == 1).sum() / len(y))
    for key, value in ref.items():
        if key not in ("layer", "kind"):
            assert row[key] == pytest.approx(value, rel=1e-9, abs=1e-14), key


# ---- tiled pairwise metrics vs dense -------------------------------------------------------------
@pytest.mark.parametrize("tile", [None, 37, 1])
def test_tiled_cdnv_equals_dense(tile):
    H, y, _ = _data(6)
    vals = _dense_cdnv_values(H, y)
    mu, var = (torch.from_numpy(a) for a in _means_vars(H, y))
    edges = np.geomspace(vals.min() * 1.5, vals.max() / 1.5, 9)
    got = pairwise.cdnv_pairs(mu, var, bins=edges, tile=tile)
    assert got["pairs"] == K * (K - 1) // 2 == len(vals)
    assert got["mean"] == pytest.approx(vals.mean(), rel=1e-12)
    assert got["std"] == pytest.approx(vals.std(), rel=1e-12)
    assert got["min"] == pytest.approx(vals.min(), rel=1e-12)
    assert got["max"] == pytest.approx(vals.max(), rel=1e-12)
    want_counts = np.bincount(np.searchsorted(edges, vals, side="right"), minlength=len(edges) + 1)
    np.testing.assert_array_equal(got["histogram"]["counts"], want_counts)
    assert m.ClassStats(K).update(H, y).cdnv() == pytest.approx(vals.mean(), rel=1e-12)


def test_tiled_cdnv_is_exact_for_close_pairs_and_large_offsets():
    # a common offset of 1e4 and a pair of means 1e-6 apart: the Gram expansion alone would lose
    # every digit of that pair's distance; the exact recomputation keeps it.
    H, y, _ = _data(7, offset=1e4)
    mu = _means_vars(H, y)[0]
    mu[1] = mu[0] + 1e-6
    var = np.ones(K)
    vals = [(var[i] + var[i + 1 :]) / (2 * ((mu[i + 1 :] - mu[i]) ** 2).sum(1)) for i in range(K - 1)]
    vals = np.concatenate(vals)
    got = pairwise.cdnv_pairs(torch.from_numpy(mu), torch.from_numpy(var), tile=64)
    assert got["max"] == pytest.approx(vals.max(), rel=1e-9)
    assert got["mean"] == pytest.approx(vals.mean(), rel=1e-9)


def test_coinciding_means_are_named():
    H, y, _ = _data(8)
    H[(y == 3) | (y == 7)] = np.arange(D)  # both means exactly (0, 1, ..., D-1)
    stats = m.ClassStats(K).update(H, y)
    with pytest.raises(ValueError, match="class means 3 and 7 coincide"):
        stats.cdnv()


@pytest.mark.parametrize("value", [0.0, 0.1])
def test_classes_of_identical_features_coincide_exactly(value):
    # e.g. dead classes whose features are all 0: means accumulated relative to an origin (a
    # random sample) must still coincide exactly, in memory, streamed, and (for 0) sharded.
    H, y, _ = _data(8)
    H[(y == 3) | (y == 7)] = value
    with pytest.raises(ValueError, match="class means 3 and 7 coincide"):
        m.cdnv(H, y)
    stream = m.ClassStats(K)
    shards = [m.ClassStats(K), m.ClassStats(K)]
    for a in range(0, len(y), 97):
        stream.update(H[a : a + 97], y[a : a + 97])
        shards[(a // 97) % 2].update(H[a : a + 97], y[a : a + 97])
    merged = m.ClassStats(K).merge(shards[1]).merge(shards[0])
    for stats in (stream, merged) if value == 0.0 else (stream,):
        with pytest.raises(ValueError, match="class means 3 and 7 coincide"):
            stats.cdnv()


@pytest.mark.parametrize("tile", [None, 37])
def test_tiled_etf_equals_dense(tile):
    H, y, _ = _data(9)
    Mc = _means_vars(H, y)[0] - H.mean(0)
    got = pairwise.etf_stats_from_centered(torch.from_numpy(Mc), tile=tile)
    want = _dense_etf(Mc)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12), key


def test_tiled_etf_of_a_simplex_etf():
    Mc = torch.from_numpy(nv.simplex_etf(300, 320, np.random.default_rng(0)))
    Mc = Mc - Mc.mean(0)
    got = pairwise.etf_stats_from_centered(Mc, tile=17)
    assert got["cos_mean"] == pytest.approx(-1 / 299, rel=1e-12)
    for key in ("equinorm", "equiangularity", "etf_gram_dist"):
        assert abs(got[key]) < 1e-12, key


def test_histogram_bins_are_validated():
    mu, var = torch.randn(5, 3, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    for bins in ([1.0], [2.0, 1.0], [0.0, float("inf")]):
        with pytest.raises(ValueError, match="bins"):
            pairwise.cdnv_pairs(mu, var, bins=bins)


# ---- K - 1 >= D: NC1 through the D x D whitening, NC4 without a K x K matrix --------------------
def test_nc1_pinv_and_nc4_with_more_classes_than_dimensions():
    H, y, rng = _data(10)
    mu = _means_vars(H, y)[0]
    W = mu + 2.0 * rng.normal(size=(K, D))
    R = H - mu[y]
    Mc = mu - H.mean(0)  # explicit D x D Sigma_W, Sigma_B and np.linalg.pinv
    want = np.trace(R.T @ R / len(y) @ np.linalg.pinv(Mc.T @ Mc / K, hermitian=True)) / K
    stats = _stream(H, y, 4, scatter=True)
    assert stats.nc1_pinv() == pytest.approx(want, rel=1e-9)
    assert m.nc1_pinv(H, y) == pytest.approx(want, rel=1e-9)
    second = stats.second_pass(W)
    for Hb, yb in zip(np.array_split(H, 5), np.array_split(y, 5), strict=True):
        second.update(Hb, yb)
    assert second._ncc_gram is None  # no K x K matrix
    assert second.nc1_pinv() == pytest.approx(want, rel=1e-9)
    # nearest mean from explicit differences, 200 rows at a time
    ncc = np.concatenate([((H[a : a + 200, None, :] - mu[None]) ** 2).sum(-1).argmin(1)
                          for a in range(0, len(y), 200)])
    want_ncc = float(np.mean((H @ W.T).argmax(1) == ncc))
    assert second.nc4_ncc() == want_ncc
    assert m.nc4_ncc(H, y, W) == want_ncc


# ---- memory estimates --------------------------------------------------------------------------
def test_requests_that_cannot_fit_name_their_size(monkeypatch):
    H, y, _ = _data(11)
    stats = m.ClassStats(K).update(H, y)
    monkeypatch.setattr(_memory, "available_bytes", lambda device: 1 << 20)
    monkeypatch.setattr(_memory, "SMALL", 0)  # a 1 MiB machine: every request is checked
    with pytest.raises(ValueError, match=r"CDNV over K=2000 classes .* needs about .* GiB"):
        stats.cdnv()
    with pytest.raises(ValueError, match="ETF"):
        stats.nc2_etf()
    with pytest.raises(ValueError, match=r"ClassStats\(K=50000\) state .* needs about 0\.01 GiB"):
        m.ClassStats(50_000).update(H, y)


def test_small_requests_do_not_read_the_free_memory(monkeypatch):
    def fail(device):
        raise AssertionError("read /proc/meminfo for a small request")

    monkeypatch.setattr(_memory, "available_bytes", fail)
    _memory.check_fits(_memory.SMALL - 1, "a small request", "cpu")
    with pytest.raises(AssertionError):
        _memory.check_fits(_memory.SMALL, "a large request", "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vocab_path_on_cuda_gives_the_cpu_values():
    H, y, rng = _data(12, rare=True)
    W = rng.normal(size=(K, D))
    cpu = _stream(H, y, 4, scatter=True)
    gpu = m.ClassStats(K, scatter=True)
    for Hb, yb in zip(np.array_split(H, 4), np.array_split(y, 4), strict=True):
        gpu.update(torch.from_numpy(Hb).cuda(), torch.from_numpy(yb).cuda())
    assert gpu.device.type == "cuda"
    for name in ("nc1_trace", "cdnv", "nc1_pinv"):
        assert getattr(gpu, name)(min_count=2) == pytest.approx(
            getattr(cpu, name)(min_count=2), rel=1e-9), name
    assert gpu.nc2_etf(min_count=2)["equiangularity"] == pytest.approx(
        cpu.nc2_etf(min_count=2)["equiangularity"], rel=1e-9)
    second = gpu.second_pass(torch.from_numpy(W).cuda(), min_count=2).update(
        torch.from_numpy(H).cuda(), torch.from_numpy(y).cuda())
    want = cpu.second_pass(W, min_count=2).update(H, y)
    assert second.nc4_ncc() == want.nc4_ncc()
