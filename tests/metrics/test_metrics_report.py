"""``layer_report``: rows, keys, values equal to the standalone functions, skipped metrics."""

import math

import metrics_naive as nv
import numpy as np
import pytest
import torch

from nclab import metrics as m

FEATURE_KEYS = {
    "nc1_trace",
    "nc1_pinv",
    "trace_sigma_w",
    "cdnv",
    "nc2_cond",
    "nc2_cond_K",
    "means_rank",
    "nc2_equinorm",
    "nc2_equiangularity",
    "nc2_etf_gram_dist",
    "nc2_cos_mean",
}
NC34 = {"nc3_cos", "nc3_duality", "nc4_ncc"}
WEIGHT_KEYS = {"w_fro", "w_stable_rank", "w_rank", "w_rel_dist_rank_K"}
BAL = {"w_balancedness", "w_imbalance_op"}


def _network(seed=0, K=3, n=6, dims=(5, 7, 6)):
    """A tiny bias-free ReLU MLP x -> relu(W1 x) -> relu(W2 .) -> W3 (K outputs) on clustered
    inputs; returns features, weights and labels."""
    rng = np.random.default_rng(seed)
    d0, d1, d2 = dims
    y = nv.make_labels(K, [n] * K, rng)
    X = 3 * rng.normal(size=(K, d0))[y] + 0.5 * rng.normal(size=(K * n, d0))
    W1, W2, W3 = rng.normal(size=(d1, d0)), rng.normal(size=(d2, d1)), rng.normal(size=(K, d2))
    Z1 = X @ W1.T
    H1 = np.maximum(Z1, 0)
    Z2 = H1 @ W2.T
    H2 = np.maximum(Z2, 0)
    features = {"input": X, "fc1": {"pre": Z1, "post": H1}, "fc2": {"pre": Z2, "post": H2}}
    weights = {"fc1": W1, "fc2": W2, "head": W3}
    return features, weights, y


def _rows(report):
    return {(r["layer"], r["kind"]): r for r in report.rows}


def test_rows_and_keys():
    features, weights, y = _network()
    rep = m.layer_report(features, y, weights, classifier_input="fc2")
    rows = _rows(rep)
    assert set(rows) == {
        ("input", "features"),
        ("fc1", "pre"),
        ("fc1", "post"),
        ("fc2", "pre"),
        ("fc2", "post"),
        ("fc1", "weight"),
        ("fc2", "weight"),
        ("head", "weight"),
    }
    for (layer, kind), row in rows.items():
        keys = set(row) - {"layer", "kind"}
        if kind == "weight":
            assert WEIGHT_KEYS <= keys
            assert (BAL <= keys) == (layer in ("fc1", "fc2"))  # fc1->fc2, fc2->head chain
            assert not keys & BAL or layer != "head"
        else:
            assert FEATURE_KEYS <= keys, (layer, kind)
            assert ("negativity" in keys) == (kind == "pre")
            # the head (K x 6) consumes fc2's features: NC3/NC4 only there (pre and post)
            assert (NC34 <= keys) == (layer == "fc2"), (layer, kind)
            assert not keys & NC34 or layer == "fc2"
    assert rep.skipped == {}
    for row in rep.rows:
        for k, v in row.items():
            if k not in ("layer", "kind"):
                assert isinstance(v, (int, float)) and not math.isnan(v), (row["layer"], k)
    assert isinstance(str(rep), str) and "fc2" in str(rep)


def test_values_equal_standalone_functions():
    features, weights, y = _network(1)
    rep = m.layer_report(features, y, weights, classifier_input="fc2")
    rows = _rows(rep)
    W3 = weights["head"]
    flat = [("input", "features", features["input"])] + [
        (name, kind, features[name][kind]) for name in ("fc1", "fc2") for kind in ("pre", "post")
    ]
    for name, kind, H in flat:
        row = rows[(name, kind)]
        assert row["nc1_trace"] == pytest.approx(m.nc1_trace(H, y), rel=1e-10)
        assert row["nc1_pinv"] == pytest.approx(m.nc1_pinv(H, y), rel=1e-9)
        assert row["trace_sigma_w"] == pytest.approx(m.trace_sigma_w(H, y), rel=1e-10)
        assert row["cdnv"] == pytest.approx(m.cdnv(H, y), rel=1e-10)
        assert row["nc2_cond"] == pytest.approx(m.nc2_cond(H, y), rel=1e-9)
        assert row["nc2_cond_K"] == pytest.approx(m.nc2_cond(H, y, nonzero=False), rel=1e-9)
        assert row["means_rank"] == m.numerical_rank(m.class_means(H, y), 1e-3)
        etf = m.nc2_etf(H, y)
        for key in ("equinorm", "equiangularity", "etf_gram_dist", "cos_mean"):
            assert row[f"nc2_{key}"] == pytest.approx(etf[key], rel=1e-9, abs=1e-13)
        if kind == "pre":
            assert row["negativity"] == pytest.approx(m.negativity(H), rel=1e-12)
        if name == "fc2":
            assert row["nc3_cos"] == pytest.approx(m.nc3_cos(H, y, W3), rel=1e-10)
            assert row["nc3_duality"] == pytest.approx(m.nc3_duality(H, y, W3), rel=1e-10)
            assert row["nc4_ncc"] == m.nc4_ncc(H, y, W3)
    names = ["fc1", "fc2", "head"]
    for i, name in enumerate(names):
        W = weights[name]
        row = rows[(name, "weight")]
        assert row["w_fro"] == pytest.approx(np.linalg.norm(W), rel=1e-12)
        assert row["w_stable_rank"] == pytest.approx(m.stable_rank(W), rel=1e-12)
        assert row["w_rank"] == m.numerical_rank(W, 1e-3)
        assert row["w_rel_dist_rank_K"] == pytest.approx(m.rel_dist_to_rank(W, 3), abs=1e-15)
        if i + 1 < len(names):
            nxt = weights[names[i + 1]]
            assert row["w_balancedness"] == pytest.approx(m.balancedness(W, nxt), rel=1e-12)
            assert row["w_imbalance_op"] == pytest.approx(
                m.balancedness(W, nxt, relative=False), rel=1e-12
            )


def test_long_format():
    features, weights, y = _network(2)
    rep = m.layer_report(features, y, weights)
    long = rep.long(step=7)
    assert len(long) == sum(len(r) - 2 for r in rep.rows)
    for entry in long:
        assert set(entry) == {"step", "layer", "metric", "value"}
        assert entry["step"] == 7
    layers = {e["layer"] for e in long}
    assert {"input", "fc1/pre", "fc1/post", "fc2/pre", "fc2/post", "head"} <= layers
    rows = _rows(rep)
    got = {(e["layer"], e["metric"]): e["value"] for e in long}
    assert got[("fc1/post", "nc1_trace")] == rows[("fc1", "post")]["nc1_trace"]
    assert got[("head", "w_fro")] == rows[("head", "weight")]["w_fro"]
    assert all(e["step"] is None for e in rep.long())


def test_undefined_metrics_are_skipped_not_nan():
    # A dead ReLU layer: all post-activations zero. NC1/NC2 ratios are undefined there.
    features, weights, y = _network(3)
    Z = -np.abs(features["fc1"]["pre"]) - 0.1
    features = {"dead": {"pre": Z, "post": np.maximum(Z, 0)}, "input": features["input"]}
    rep = m.layer_report(features, y)
    rows = _rows(rep)
    assert ("dead", "post") in rows
    for key in ("nc1_trace", "cdnv", "nc2_cond", "nc1_pinv"):
        assert ("dead", "post", key) in rep.skipped, key
        assert key not in rows[("dead", "post")]
        assert isinstance(rep.skipped[("dead", "post", key)], str)
    assert rows[("dead", "post")]["trace_sigma_w"] == 0.0
    assert rows[("dead", "pre")]["negativity"] == pytest.approx(1.0, rel=1e-12)
    for row in rep.rows:
        for k, v in row.items():
            if k not in ("layer", "kind"):
                assert not math.isnan(v), (row["layer"], row["kind"], k)
    assert not any(key[0] == "input" for key in rep.skipped)


def test_features_given_plainly_and_as_list_of_pairs_with_torch():
    features, weights, y = _network(4)
    H = features["fc2"]["post"]
    W3 = weights["head"]
    rep = m.layer_report(
        [("a", torch.from_numpy(features["input"])), ("b", torch.from_numpy(H))],
        torch.from_numpy(y),
        classifier=torch.from_numpy(W3),
        classifier_input="b",
    )
    rows = _rows(rep)
    assert set(rows) == {("a", "features"), ("b", "features")}
    assert rows[("b", "features")]["nc3_cos"] == pytest.approx(m.nc3_cos(H, y, W3), rel=1e-10)
    assert not NC34 & set(rows[("a", "features")])
    # explicit classifier_input
    rep2 = m.layer_report({"b": H, "c": H.copy()}, y, classifier=W3, classifier_input="b")
    rows2 = _rows(rep2)
    assert NC34 <= set(rows2[("b", "features")])
    assert not NC34 & set(rows2[("c", "features")])


def test_only_pre_or_post():
    features, weights, y = _network(5)
    rep = m.layer_report({"fc1": {"pre": features["fc1"]["pre"]}}, y)
    assert set(_rows(rep)) == {("fc1", "pre")}


def test_empty_class_with_K_given():
    features, weights, y = _network(6)
    y_gap = np.where(y == 2, 4, y)
    H = features["fc2"]["post"]
    rep = m.layer_report({"h": H}, y_gap, K=5)
    row = _rows(rep)[("h", "features")]
    assert row["nc1_trace"] == pytest.approx(m.nc1_trace(H, y), rel=1e-10)
    with pytest.raises(ValueError, match=r"no samples|empty"):
        m.layer_report({"h": H}, y_gap)


def test_layer_report_errors():
    features, weights, y = _network(7)
    with pytest.raises(ValueError, match=r"rows"):
        m.layer_report({"a": features["input"], "b": features["input"][:-1]}, y)
    with pytest.raises(ValueError, match=r"unknown keys|pre|post"):
        m.layer_report({"a": {"pre": features["input"], "mid": features["input"]}}, y)
    with pytest.raises(ValueError, match=r"classifier_input"):
        m.layer_report(
            {"a": features["input"]}, y, classifier=weights["head"], classifier_input="zzz"
        )
    with pytest.raises(ValueError, match=r"empty"):
        m.layer_report({}, y)
    with pytest.raises(ValueError, match=r"features"):
        m.layer_report(features["input"], y)


def test_layer_report_list_weight_is_a_value_error():
    # Like every other bad input (and like a list feature matrix), a weight given as a nested
    # list should raise ValueError naming it, not AttributeError.
    features, weights, y = _network(8)
    with pytest.raises(ValueError, match=r"features"):
        m.layer_report({"a": features["input"].tolist()}, y)
    with pytest.raises(ValueError, match=r"weights|Tensor|ndarray"):
        m.layer_report({"a": features["input"]}, y, {"w": [[1.0, 2.0], [3.0, 4.0]]})


def test_conv_kernels_in_weights():
    features, weights, y = _network(9)
    conv = np.random.default_rng(0).normal(size=(7, 5, 3, 3))
    rep = m.layer_report(
        {"fc2": features["fc2"]["post"]},
        y,
        {"conv": conv, "fc2": weights["fc2"], "head": weights["head"]},
        classifier_input="fc2",
    )
    rows = _rows(rep)
    assert rows[("conv", "weight")]["w_stable_rank"] == pytest.approx(
        m.stable_rank(conv.reshape(7, -1)), rel=1e-12
    )
    assert "w_balancedness" not in rows[("conv", "weight")]  # a 4-D kernel does not chain
    assert "not a matrix" in rep.skipped[("conv", "weight", "w_balancedness")]
    assert "w_balancedness" in rows[("fc2", "weight")]
    assert NC34 <= set(rows[("fc2", "features")])


def test_classifier_input_is_never_guessed_from_the_width():
    # Two entries of the classifier's width: the old code took the last one (here the wrong one,
    # "c"); now NC3/NC4 go where classifier_input says, and nowhere without it (listed as skipped).
    features, weights, y = _network(10)
    H, W3 = features["fc2"]["post"], weights["head"]
    other = np.random.default_rng(1).normal(size=H.shape)
    rep = m.layer_report({"b": H, "c": other}, y, classifier=W3)
    assert not any(NC34 & set(r) for r in rep.rows)
    for metric in NC34:
        assert "classifier_input" in rep.skipped[("classifier", "features", metric)]
    rep = m.layer_report({"c": other, "b": H}, y, classifier=W3, classifier_input="b")
    rows = _rows(rep)
    assert rows[("b", "features")]["nc3_cos"] == pytest.approx(m.nc3_cos(H, y, W3), rel=1e-10)
    assert not NC34 & set(rows[("c", "features")])
    with pytest.raises(ValueError, match="width"):
        m.layer_report({"x": features["input"]}, y, classifier=W3, classifier_input="x")
    rep = m.layer_report({"b": H}, y, classifier_input="b")
    assert "no classifier" in rep.skipped[("b", "features", "nc3_cos")]


def test_classifier_bias_enters_nc4():
    # A bias that moves decisions changes NC4 (argmax W h + b vs the nearest class mean).
    features, weights, y = _network(11)
    H, W3 = features["fc2"]["post"], weights["head"]
    logits = H @ W3.T
    b = np.zeros(3)
    b[0] = 4 * np.abs(logits).max()  # class 0 wins everywhere
    rep = m.layer_report({"h": H}, y, classifier=W3, classifier_input="h", classifier_bias=b)
    ncc = np.argmin(((H[:, None, :] - m.class_means(H, y)[None]) ** 2).sum(-1), axis=1)
    assert _rows(rep)[("h", "features")]["nc4_ncc"] == pytest.approx(np.mean(ncc == 0))
    no_bias = m.layer_report({"h": H}, y, classifier=W3, classifier_input="h")
    assert _rows(no_bias)[("h", "features")]["nc4_ncc"] == m.nc4_ncc(H, y, W3)
    with pytest.raises(ValueError, match="classifier_bias"):
        m.layer_report({"h": H}, y, classifier=W3, classifier_input="h", classifier_bias=b[:2])


def test_weight_pairs_that_do_not_chain_are_listed():
    features, weights, y = _network(12)
    rep = m.layer_report({"h": features["input"]}, y, {"fc2": weights["fc2"], "fc1": weights["fc1"]})
    assert "w_balancedness" not in _rows(rep)[("fc2", "weight")]
    assert "do not chain" in rep.skipped[("fc2", "weight", "w_balancedness")]


def test_to_pandas():
    pd = pytest.importorskip("pandas")
    features, weights, y = _network(13)
    rep = m.layer_report(features, y, weights, classifier_input="fc2")
    df = rep.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == len(rep.rows)
    assert list(df.columns[:2]) == ["layer", "kind"]
    got = df.set_index(["layer", "kind"]).loc[("fc1", "post"), "nc1_trace"]
    assert got == _rows(rep)[("fc1", "post")]["nc1_trace"]
