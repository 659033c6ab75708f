"""Probes: rows at the log-spaced steps (first and last included) with the expected layers and
metrics; streaming through ClassStats gives the in-memory numbers."""

import math

import pytest

from nclab.train import ProbeConfig, TrainConfig, apply_overrides, probe_steps, run

MLP = ["data.name=digits", "data.split=all", "data.n_per_class=8", "model.widths=[12,12]",
       "optim.lr=0.5", "dtype=float64"]


def cfg_of(*overrides):
    return apply_overrides(TrainConfig(), [*MLP, *overrides])


def test_log_spaced_steps_include_first_and_last():
    steps = probe_steps(100_000, ProbeConfig(points=20))
    assert steps[0] == 0 and steps[-1] == 100_000 and steps == sorted(set(steps))
    assert 15 <= len(steps) <= 21
    big = [s for s in steps if s >= 100]
    ratios = [b / a for a, b in zip(big, big[1:], strict=False)]
    assert max(ratios) / min(ratios) < 1.05  # geometric spacing
    assert probe_steps(5, ProbeConfig(points=20)) == [0, 1, 2, 3, 4, 5]
    assert probe_steps(100, ProbeConfig(spacing="linear", points=5)) == [0, 25, 50, 75, 100]
    assert probe_steps(10, ProbeConfig(steps=(3, 30))) == [0, 3, 10]


def test_rows_at_the_probe_steps_with_expected_layers_and_metrics():
    r = run(cfg_of("optim.steps=50", "probe.points=6", "data.test_split=test",
                   "data.test_n_per_class=4", "reg.weight_decay=1e-3"))
    expected_steps = probe_steps(50, ProbeConfig(points=6))
    assert sorted({row["step"] for row in r.records}) == expected_steps
    assert set(r.records[0]) == {"step", "split", "layer", "metric", "value"}
    assert all(isinstance(row["value"], float) for row in r.records)
    for step in expected_steps:
        at = [row for row in r.records if row["step"] == step]
        train = {(row["layer"], row["metric"]) for row in at if row["split"] == "train"}
        test = {(row["layer"], row["metric"]) for row in at if row["split"] == "test"}
        for metric in ("loss", "fit", "reg", "reg/layer1", "reg/layer3", "accuracy", "lr"):
            assert ("model", metric) in train
        assert ("model", "fit") in test and ("model", "accuracy") in test
        for layer in ("input", "layer1/pre", "layer1/post", "layer2/pre", "layer2/post", "layer3"):
            for metric in ("nc1_trace", "nc1_pinv", "nc2_cond", "means_rank", "cdnv",
                           "nc1_pinv_rtol", "nc2_cond_rtol", "means_rank_rtol"):
                assert (layer, metric) in train and (layer, metric) in test
        assert ("layer1/pre", "negativity") in train
        for metric in ("nc3_cos", "nc3_duality", "nc4_ncc"):  # on the classifier's input
            assert ("layer2/post", metric) in train and ("layer1/post", metric) not in train
        for layer in ("layer1", "layer2", "layer3"):  # per-layer weight norms, train rows only
            assert (layer, "w_fro") in train and (layer, "w_fro") not in test
        assert ("layer1", "w_balancedness") in train and ("layer3", "w_balancedness") not in train
    assert r.metric("accuracy") == r.final_metrics[("train", "model", "accuracy")]
    assert r.metric("loss") == pytest.approx(r.loss_parts["loss"], rel=1e-12)


def test_streaming_probe_matches_in_memory():
    base = ["optim.steps=20", "probe.steps=[20]", "data.test_split=test",
            "data.test_n_per_class=5", "model.n_backbone=1", "reg.scheme=dufm_like",
            "reg.weight_decay=1e-3", "reg.feature_decay=1e-3"]
    full = run(cfg_of(*base))
    streamed = run(cfg_of(*base, "probe.batch_size=13"))
    a = {(r["step"], r["split"], r["layer"], r["metric"]): r["value"] for r in full.records}
    b = {(r["step"], r["split"], r["layer"], r["metric"]): r["value"] for r in streamed.records}
    assert a.keys() == b.keys()
    for key, value in a.items():
        if abs(value) > 1e6:  # condition numbers of numerically singular means: rounding noise
            assert abs(b[key]) > 1e6, key
            continue
        assert b[key] == pytest.approx(value, rel=1e-8, abs=1e-12), key
    assert streamed.loss_parts == pytest.approx(full.loss_parts, rel=1e-12)


def test_streaming_skips_negativity_only_when_too_wide():
    r = run(cfg_of("optim.steps=2", "probe.steps=[2]", "probe.batch_size=20",
                   "probe.max_gram_dim=8"))
    skipped = {(s["layer"], s["metric"]) for s in r.skipped}
    assert ("layer1", "negativity") in skipped  # width 12 > 8: reported, not silently missing
    assert not any(row["metric"] == "negativity" for row in r.records)


def test_dufm_probe_layers_and_part_filter():
    dufm = ["data.name=labels", "data.K=3", "data.n_per_class=6", "model.arch=dufm",
            "model.widths=[5,5,5]", "optim.steps=3", "probe.points=2"]
    r = run(apply_overrides(TrainConfig(), dufm))
    layers = {row["layer"] for row in r.records}
    assert {"H1", "layer1/pre", "layer1/post", "layer2/post", "layer3", "model"} <= layers
    r = run(apply_overrides(TrainConfig(), [*dufm, "probe.parts=[head]"]))
    assert "H1" not in {row["layer"] for row in r.records}


def test_probes_off_record_nothing():
    r = run(cfg_of("optim.steps=3", "probe.enabled=false"))
    assert r.records == [] and r.final_metrics == {}
    assert math.isfinite(r.loss_parts["loss"])
