"""Every error path raises ValueError naming the problem; torch/numpy parity; dtype handling."""

import metrics_naive as nv
import numpy as np
import pytest
import torch

from nclab import metrics as m

K0, D0 = 3, 4


def _W(K=K0, D=D0):
    return np.random.default_rng(0).normal(size=(K, D))


# Every metric of (H, y[, W]) as a callable f(H, y, K=None, W=None).
LABELLED = {
    "nc1_trace": lambda H, y, K=None, W=None: m.nc1_trace(H, y, K),
    "nc1_pinv": lambda H, y, K=None, W=None: m.nc1_pinv(H, y, K),
    "cdnv": lambda H, y, K=None, W=None: m.cdnv(H, y, K),
    "trace_sigma_w": lambda H, y, K=None, W=None: m.trace_sigma_w(H, y, K),
    "nc2_cond": lambda H, y, K=None, W=None: m.nc2_cond(H, y, K),
    "nc2_etf": lambda H, y, K=None, W=None: m.nc2_etf(H, y, K),
    "class_means": lambda H, y, K=None, W=None: m.class_means(H, y, K),
    "nc3_cos": lambda H, y, K=None, W=None: m.nc3_cos(H, y, _W() if W is None else W, K),
    "nc3_cos_means": lambda H, y, K=None, W=None: m.nc3_cos(
        H, y, _W() if W is None else W, K, means=True
    ),
    "nc3_duality": lambda H, y, K=None, W=None: m.nc3_duality(H, y, _W() if W is None else W, K),
    "nc4_ncc": lambda H, y, K=None, W=None: m.nc4_ncc(H, y, _W() if W is None else W, K),
}
NEEDS_TWO = ["nc1_trace", "nc1_pinv", "cdnv"]  # within-class variance needs >= 2 samples
WITH_W = ["nc3_cos", "nc3_cos_means", "nc3_duality", "nc4_ncc"]


def _data(seed=0):
    H, y, _ = nv.make_data(seed, K=K0, D=D0, n=4)
    return H, y


@pytest.fixture(params=sorted(LABELLED))
def metric(request):
    return LABELLED[request.param]


# ---- shapes --------------------------------------------------------------------------------
def test_H_wrong_ndim(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"H.*dimension"):
        metric(H[:, 0], y)
    with pytest.raises(ValueError, match=r"H.*dimension"):
        metric(H[:, :, None], y)


def test_y_wrong_ndim(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"y.*1-D|y.*dimension"):
        metric(H, y[:, None])


def test_length_mismatch(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"y.*(rows|samples|features)"):
        metric(H, y[:-1])


def test_empty_input(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"empty"):
        metric(H[:0], y[:0])


@pytest.mark.parametrize("name", WITH_W)
def test_W_wrong_shape(name):
    H, y = _data()
    with pytest.raises(ValueError, match=r"W.*shape"):
        LABELLED[name](H, y, W=_W(K0 + 1, D0))
    with pytest.raises(ValueError, match=r"W.*shape"):
        LABELLED[name](H, y, W=_W(K0, D0 + 1))
    with pytest.raises(ValueError, match=r"W.*(dimension|shape)"):
        LABELLED[name](H, y, W=_W()[0])


# ---- labels --------------------------------------------------------------------------------
def test_label_out_of_range_for_given_K(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"out of range|label"):
        metric(H, y, K=2)


def test_negative_labels(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"negative"):
        metric(H, y - 1)


@pytest.mark.parametrize("kind", ["float_np", "float_torch", "bool_np", "bool_torch"])
def test_float_and_bool_labels(metric, kind):
    H, y = _data()
    bad = {
        "float_np": y.astype(np.float64),
        "float_torch": torch.from_numpy(y).double(),
        "bool_np": y > 0,
        "bool_torch": torch.from_numpy(y > 0),
    }[kind]
    with pytest.raises(ValueError, match=r"integer"):
        metric(H, bad)


def test_fewer_than_two_classes(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"2 (non-empty )?classes"):
        metric(H, np.zeros_like(y))
    with pytest.raises(ValueError, match=r"2 (non-empty )?classes"):
        metric(H, np.zeros_like(y), K=1)


def test_only_one_present_class_with_K_given(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"2 (non-empty )?classes"):
        metric(H, np.zeros_like(y), K=3)


def test_K_not_an_integer(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"K"):
        metric(H, y, K=3.0)


def test_empty_class_inferred_is_an_error(metric):
    H, y = _data()
    y_gap = np.where(y == 1, 3, y)  # classes 0, 2, 3: class 1 empty
    with pytest.raises(ValueError, match=r"no samples|empty"):
        metric(H, y_gap, W=_W(4, D0))


@pytest.mark.parametrize("name", sorted(set(LABELLED) - {"nc4_ncc"}))
def test_empty_class_with_K_given_equals_present_classes(name):
    H, y = _data(1)
    y_gap = np.where(y == 1, 3, y)  # classes 0, 2, 3 of K = 4
    y_rel = np.array([0, 0, 1, 2])[y_gap]  # the same partition relabelled 0, 1, 2
    W4 = _W(4, D0)
    got = LABELLED[name](H, y_gap, K=4, W=W4)
    want = LABELLED[name](H, y_rel, W=W4[[0, 2, 3]])
    if name == "class_means":
        np.testing.assert_allclose(got[[0, 2, 3]], want, rtol=1e-14)
        assert np.all(got[1] == 0)
    else:
        assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", NEEDS_TWO)
def test_single_sample_class(name):
    H, y = _data()
    y1 = y.copy()
    y1[np.flatnonzero(y == 2)[1:]] = 1  # class 2 keeps one sample
    with pytest.raises(ValueError, match=r"samples"):
        LABELLED[name](H, y1)


@pytest.mark.parametrize(
    "name", ["trace_sigma_w", "nc2_cond", "nc2_etf", "nc3_cos", "nc3_duality", "nc4_ncc"]
)
def test_single_sample_class_is_fine_where_defined(name):
    H, y = _data()
    y1 = y.copy()
    y1[np.flatnonzero(y == 2)[1:]] = 1
    LABELLED[name](H, y1)


# ---- non-finite, wrong types ---------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_H(metric, bad):
    H, y = _data()
    H[3, 1] = bad
    with pytest.raises(ValueError, match=r"H.*(NaN|Inf|finite)"):
        metric(H, y)


@pytest.mark.parametrize("name", WITH_W)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_W(name, bad):
    H, y = _data()
    W = _W()
    W[1, 2] = bad
    with pytest.raises(ValueError, match=r"W.*(NaN|Inf|finite)"):
        LABELLED[name](H, y, W=W)


def test_list_inputs(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"H.*(Tensor|ndarray|array)"):
        metric(H.tolist(), y)
    with pytest.raises(ValueError, match=r"y.*(Tensor|ndarray|array)"):
        metric(H, y.tolist())


def test_complex_input(metric):
    H, y = _data()
    with pytest.raises(ValueError, match=r"H.*(real|complex)"):
        metric(H.astype(np.complex128), y)
    with pytest.raises(ValueError, match=r"H.*(real|complex)"):
        metric(torch.from_numpy(H.astype(np.complex128)), y)


def test_string_array_input():
    # A numpy array of strings is a bad input like an object array: ValueError naming H.
    H, y = _data()
    with pytest.raises(ValueError, match=r"H"):
        m.nc1_trace(H.astype(str), y)
    with pytest.raises(ValueError, match=r"y.*integer"):
        m.nc1_trace(H, y.astype(str))


@pytest.mark.parametrize(
    "fn",
    [
        lambda H, y: m.nc1_trace(H, y, global_mean="median"),
        lambda H, y: m.nc1_pinv(H, y, global_mean="median"),
        lambda H, y: m.nc2_cond(H, y, centered=True, global_mean="median"),
        lambda H, y: m.nc2_etf(H, y, global_mean="median"),
        lambda H, y: m.nc3_duality(H, y, _W(), global_mean="median"),
        lambda H, y: m.ClassStats(3, global_mean="median"),
    ],
)
def test_unknown_global_mean(fn):
    H, y = _data()
    with pytest.raises(ValueError, match=r"global_mean"):
        fn(H, y)


# ---- zero denominators ---------------------------------------------------------------------
def _equal_means():
    """Classes with bitwise identical means (zero between-class scatter): every class holds the
    same four small-integer points, so all sums and means are exact."""
    B = np.array(
        [[1.0, 2.0, 0.0, -1.0], [3.0, -1.0, 2.0, 0.0], [0.0, 0.0, 1.0, 1.0], [-2.0, 3.0, 1.0, 4.0]]
    )
    H = np.concatenate([B, B[::-1], B[[2, 0, 3, 1]]])
    y = np.repeat(np.arange(K0), 4)
    return H, y


@pytest.mark.parametrize("name", ["nc1_trace", "nc1_pinv", "cdnv"])
def test_coinciding_class_means(name):
    H, y = _equal_means()
    with pytest.raises(ValueError, match=r"zero|coincide|undefined"):
        LABELLED[name](H, y)


def test_zero_class_mean_matrix():
    H, y = _data()
    with pytest.raises(ValueError, match=r"zero|undefined"):
        m.nc2_cond(np.zeros_like(H), y)
    with pytest.raises(ValueError, match=r"zero|undefined"):
        m.nc2_etf(np.zeros_like(H), y)
    with pytest.raises(ValueError, match=r"zero|undefined"):
        m.nc3_duality(np.zeros_like(H), y, _W())


def test_zero_W_row_in_nc3_cos():
    H, y = _data()
    W = _W()
    W[1] = 0.0
    with pytest.raises(ValueError, match=r"zero"):
        m.nc3_cos(H, y, W)
    with pytest.raises(ValueError, match=r"zero"):
        m.nc3_cos(H, y, W, means=True)
    with pytest.raises(ValueError, match=r"W.*zero|zero.*W"):
        m.nc3_duality(H, y, np.zeros((K0, D0)))


def test_zero_weights_in_balancedness():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 3))
    with pytest.raises(ValueError, match=r"zero"):
        m.balancedness(A, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"zero"):
        m.balancedness(np.zeros((4, 3)), rng.normal(size=(5, 4)), norm="fro")
    assert m.balancedness(np.zeros((4, 3)), np.zeros((5, 4)), relative=False) == 0.0


def test_balancedness_bad_arguments():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    with pytest.raises(ValueError, match=r"W_next.*(columns|shape)"):
        m.balancedness(A, rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match=r"norm"):
        m.balancedness(A, B, norm="nuc")
    with pytest.raises(ValueError, match=r"W_l.*(NaN|Inf)"):
        m.balancedness(np.full((4, 3), np.nan), B)
    with pytest.raises(ValueError, match=r"W_l.*dimension"):
        m.balancedness(A[0], B)


def test_zero_Z_in_negativity():
    with pytest.raises(ValueError, match=r"zero"):
        m.negativity(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"NaN|Inf"):
        m.negativity(np.full((5, 3), np.inf))


@pytest.mark.parametrize(
    "fn", [m.stable_rank, lambda A: m.rel_dist_to_rank(A, 1)], ids=["stable", "rel_dist"]
)
def test_zero_matrix_in_rank_ratios(fn):
    with pytest.raises(ValueError, match=r"zero"):
        fn(np.zeros((4, 3)))


def test_spectral_bad_inputs():
    A = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match=r"k"):
        m.rel_dist_to_rank(A, -1)
    with pytest.raises(ValueError, match=r"k"):
        m.rel_dist_to_rank(A, 1.5)
    with pytest.raises(ValueError, match=r"k"):
        m.rel_dist_to_rank(A, True)
    with pytest.raises(ValueError, match=r"NaN|Inf"):
        m.singular_values(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r"Tensor|ndarray|array"):
        m.singular_values([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"real|complex"):
        m.numerical_rank(A.astype(np.complex128))
    with pytest.raises(ValueError, match=r"dimension"):
        m.stable_rank(A[0])


def test_gram_zero_row():
    with pytest.raises(ValueError, match=r"zero"):
        m.gram(np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_nc4_bad_eval_and_bias():
    H, y = _data()
    with pytest.raises(ValueError, match=r"H_eval"):
        m.nc4_ncc(H, y, _W(), H_eval=np.ones((5, D0 + 1)))
    with pytest.raises(ValueError, match=r"H_eval.*(NaN|Inf)"):
        m.nc4_ncc(H, y, _W(), H_eval=np.full((5, D0), np.nan))
    with pytest.raises(ValueError, match=r"\bb\b"):
        m.nc4_ncc(H, y, _W(), b=np.ones(K0 + 1))


# ---- clustering and norms ------------------------------------------------------------------
def test_clustering_errors():
    H, y = _data()
    with pytest.raises(ValueError, match=r"\bk\b"):
        m.tcv(H, 0)
    with pytest.raises(ValueError, match=r"\bk\b"):
        m.tcv(H, 2.0)
    with pytest.raises(ValueError, match=r"\bk\b|samples"):
        m.tcv(H, len(y) + 1)
    with pytest.raises(ValueError, match=r"restarts"):
        m.tcv(H, 2, restarts=0)
    with pytest.raises(ValueError, match=r"Y"):
        m.wcss(H, y, np.ones((len(y) - 1, 3)))
    with pytest.raises(ValueError, match=r"negative"):
        m.wcss(H, y - 1)
    with pytest.raises(ValueError, match=r"integer"):
        m.wcss(H, y.astype(float))
    with pytest.raises(ValueError, match=r"H.*(NaN|Inf)"):
        m.tcv(np.full((5, 2), np.nan), 2)


def test_norm_and_margin_errors():
    with pytest.raises(ValueError, match=r"empty"):
        m.product_norm([])
    with pytest.raises(ValueError, match=r"NaN|Inf"):
        m.product_norm([np.ones((2, 2)), np.full((2, 2), np.nan)])
    with pytest.raises(ValueError, match=r"-1|\+1"):
        m.margin_values(np.ones(4), np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match=r"shape"):
        m.margin_values(np.ones(4), np.array([1, 1, -1]))
    with pytest.raises(ValueError, match=r"out of range|label"):
        m.margin_values(np.ones((4, 3)), np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"integer"):
        m.margin_values(np.ones((4, 3)), np.array([0.0, 1.0, 2.0, 2.0]))


def test_product_norm_list_weight():
    # A weight given as a nested list is a bad input like everywhere else: ValueError.
    with pytest.raises(ValueError, match=r"weights\[0\]|Tensor|ndarray|array"):
        m.product_norm([[[1.0, 2.0], [3.0, 4.0]]])


# ---- ClassStats misuse ---------------------------------------------------------------------
def test_classstats_misuse():
    H, y = _data()
    with pytest.raises(ValueError, match=r"K"):
        m.ClassStats(1)
    with pytest.raises(ValueError, match=r"K"):
        m.ClassStats(2.5)
    empty = m.ClassStats(K0)
    for call in (empty.nc1_trace, empty.cdnv, empty.nc2_cond, empty.nc2_etf, empty.state_dict):
        with pytest.raises(ValueError, match=r"no data|update"):
            call()
    with pytest.raises(ValueError, match=r"no data|update"):
        empty.nc3_cos(_W())
    with pytest.raises(ValueError, match=r"no data|update"):
        empty.second_pass()
    stats = m.ClassStats(K0).update(H, y)
    with pytest.raises(ValueError, match=r"columns|dimension|D\b"):
        stats.update(H[:, :2], y)
    with pytest.raises(ValueError, match=r"out of range|label"):
        stats.update(H, y + 1)
    with pytest.raises(ValueError, match=r"NaN|Inf"):
        stats.update(np.full_like(H, np.nan), y)
    with pytest.raises(ValueError, match=r"integer"):
        stats.update(H, y.astype(float))
    with pytest.raises(ValueError, match=r"scatter"):
        stats.nc1_pinv()
    with pytest.raises(ValueError, match=r"W.*shape"):
        stats.nc3_cos(_W(K0, D0 + 1))
    with pytest.raises(ValueError, match=r"merge|K"):
        stats.merge(m.ClassStats(K0 + 1).update(H, y))
    with pytest.raises(ValueError, match=r"merge|scatter"):
        stats.merge(m.ClassStats(K0, scatter=True).update(H, y))
    with pytest.raises(ValueError, match=r"merge|dimension"):
        stats.merge(m.ClassStats(K0).update(H[:, :2], y))
    with pytest.raises(ValueError, match=r"merge|ClassStats"):
        stats.merge({"counts": 1})
    second = stats.second_pass()
    with pytest.raises(ValueError, match=r"no data|update"):
        second.nc1_pinv()
    second.update(H, y)
    with pytest.raises(ValueError, match=r"classifier|W"):
        second.nc4_ncc()
    with pytest.raises(ValueError, match=r"columns|dimension"):
        second.update(H[:, :2], y)
    with pytest.raises(ValueError, match=r"\bb\b"):
        stats.second_pass(_W(), b=np.ones(K0 + 1))


def test_second_pass_rejects_class_unseen_in_first_pass():
    H, y = _data()
    stats = m.ClassStats(K0 + 1).update(H, y)
    second = stats.second_pass()
    with pytest.raises(ValueError, match=r"class|empty"):
        second.update(H, np.full_like(y, K0))


def test_classstats_merge_with_empty_and_into_empty():
    H, y = _data()
    a = m.ClassStats(K0).update(H, y)
    v = a.nc1_trace()
    assert a.merge(m.ClassStats(K0)).nc1_trace() == v
    assert m.ClassStats(K0).merge(a).nc1_trace() == v


# ---- torch / numpy parity and dtype ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(LABELLED))
def test_torch_and_numpy_give_the_same_values(name):
    H, y = _data(5)
    W = _W()
    a = LABELLED[name](H, y, W=W)
    b = LABELLED[name](torch.from_numpy(H), torch.from_numpy(y), W=torch.from_numpy(W))
    c = LABELLED[name](torch.from_numpy(H).float(), torch.from_numpy(y).int(), W=W)
    if isinstance(a, dict):
        assert a == pytest.approx(b, rel=1e-13)
        assert a == pytest.approx(c, rel=1e-4)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-13)
        np.testing.assert_allclose(a, c, rtol=1e-5)
    else:
        assert isinstance(a, float) and isinstance(b, float)
        assert a == pytest.approx(b, rel=1e-13)
        assert a == pytest.approx(c, rel=1e-5)  # float32 input, computed in float64


def test_torch_numpy_parity_other_functions():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    t = torch.from_numpy
    assert m.balancedness(t(A), t(B)) == pytest.approx(m.balancedness(A, B), rel=1e-13)
    assert m.negativity(t(A)) == pytest.approx(m.negativity(A), rel=1e-13)
    assert m.stable_rank(t(A)) == pytest.approx(m.stable_rank(A), rel=1e-13)
    assert m.numerical_rank(t(A)) == m.numerical_rank(A)
    assert m.wcss(t(A), t(np.array([0, 1, 0, 1]))) == pytest.approx(
        m.wcss(A, np.array([0, 1, 0, 1])), rel=1e-13
    )
    assert m.tcv(t(A), 2) == pytest.approx(m.tcv(A, 2), rel=1e-13)


@pytest.mark.parametrize("name", ["nc1_trace", "nc1_pinv", "cdnv", "nc2_cond", "nc3_cos"])
def test_dtype_none_keeps_float32(name):
    H, y = _data(6)
    H32 = torch.from_numpy(H).float()
    W32 = torch.from_numpy(_W()).float()
    fn = {
        "nc1_trace": lambda d: m.nc1_trace(H32, y, dtype=d),
        "nc1_pinv": lambda d: m.nc1_pinv(H32, y, dtype=d),
        "cdnv": lambda d: m.cdnv(H32, y, dtype=d),
        "nc2_cond": lambda d: m.nc2_cond(H32, y, dtype=d),
        "nc3_cos": lambda d: m.nc3_cos(H32, y, W32, dtype=d),
    }[name]
    v32, v64 = fn(None), fn(torch.float64)
    assert isinstance(v32, float)
    assert v32 == pytest.approx(v64, rel=1e-4)
    assert v32 != v64  # really computed in float32


def test_dtype_none_arrays_stay_float32():
    A = torch.from_numpy(np.random.default_rng(0).normal(size=(5, 3))).float()
    assert m.singular_values(A, dtype=None).dtype == np.float32
    assert m.singular_values(A).dtype == np.float64
    assert m.gram(A, dtype=None).dtype == np.float32
    np.testing.assert_allclose(m.singular_values(A, dtype=None), m.singular_values(A), rtol=1e-5)
    # integer input with dtype=None becomes float64
    assert m.singular_values(np.eye(3, dtype=np.int64), dtype=None).dtype == np.float64
