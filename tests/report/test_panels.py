"""Each panel kind draws the right numbers from synthetic Results."""

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.image import AxesImage
from report_synthetic import (
    LAYERS,
    N_POINTS,
    SEEDS,
    STEPS,
    WDS,
    K,
    gram,
    margin,
    mean_std,
    nc1,
    proj,
    sv,
)

from nclab.experiments.spec import Panel, Results
from nclab.report import NoData, draw_panel, panel_grid
from nclab.report.data import natural_key, split_indexed, summarize

WD_KEY = "optim.weight_decay"


def _errorbar_line(ax, label):
    found = [c for c in ax.containers if c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.containers]
    return found[0].lines[0]


def _line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def test_curve_mean_band_and_log_axes(results, figure):
    ax = figure.subplots()
    panel = Panel("NC1", "curve", "nc1_trace", logx=True, logy=True, reference=(("ref", 0.01),))
    assert draw_panel(panel, results, ax) == []
    line = _line(ax, "layer2/post (weight_decay=0.01)")
    x, y = line.get_data()
    assert list(x) == list(STEPS[1:])  # step 0 cannot sit on a log axis
    expected = [mean_std([nc1(0.01, s, 1, step) for s in SEEDS])[0] for step in STEPS[1:]]
    np.testing.assert_allclose(y, expected)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(LAYERS) * len(WDS)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "ref" in ax.get_legend_handles_labels()[1]
    assert ax.get_title() == "NC1"


def test_curve_band_is_one_std(results, figure):
    ax = figure.subplots()
    draw_panel(Panel("NC1", "curve", "nc1_trace", layers=("layer1/post",)), results, ax)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)][0]
    ys = band.get_paths()[0].vertices[:, 1]
    values = [nc1(WDS[0], s, 0, 0) for s in SEEDS]  # step 0 has the widest band of wd=0.001
    mean, std = mean_std(values)
    assert ys.max() == pytest.approx(mean + std)


def test_curve_min_max_and_none(results, figure):
    ax1, ax2 = figure.subplots(1, 2)
    draw_panel(Panel("a", "curve", "nc1_trace", aggregate="min_max", layers=("layer1/post",)),
               results, ax1)
    band = [c for c in ax1.collections if isinstance(c, PolyCollection)][0]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.max() == pytest.approx(max(nc1(WDS[0], s, 0, 0) for s in SEEDS))
    assert ys.min() == pytest.approx(min(nc1(WDS[0], s, 0, STEPS[-1]) for s in SEEDS))
    draw_panel(Panel("b", "curve", "nc1_trace", aggregate="none"), results, ax2)
    assert len(ax2.get_lines()) == len(LAYERS) * len(WDS) * len(SEEDS)
    assert not [c for c in ax2.collections if isinstance(c, PolyCollection)]


def test_vs_param(results, figure):
    ax = figure.subplots()
    draw_panel(Panel("v", "vs_param", "nc1_trace", x=WD_KEY), results, ax)
    x, y = _errorbar_line(ax, "layer10/post").get_data()
    assert list(x) == list(WDS)
    np.testing.assert_allclose(
        y, [mean_std([nc1(wd, s, 2, STEPS[-1]) for s in SEEDS])[0] for wd in WDS]
    )
    assert ax.get_xlabel() == WD_KEY


def test_vs_param_needs_a_grid_key(results, figure):
    ax = figure.subplots()
    with pytest.raises(ValueError, match="needs x = a grid key"):
        draw_panel(Panel("v", "vs_param", "nc1_trace"), results, ax)
    with pytest.raises(NoData, match="grid key 'width'"):
        draw_panel(Panel("v", "vs_param", "nc1_trace", x="width"), results, ax)


def test_vs_param_categorical(figure):
    rows = [{"experiment": "e", "scale": "cpu", "run_id": f"r{act}{seed}", "seed": seed,
             "params": {"act": act}, "step": 5, "layer": "model", "metric": "acc",
             "value": float(seed + (act == "tanh"))}
            for act in ("tanh", "relu") for seed in (0, 1)]
    ax = figure.subplots()
    draw_panel(Panel("v", "vs_param", "acc", x="act"), Results("e", "cpu", rows), ax)
    x, y = _errorbar_line(ax, "model").get_data()
    assert list(x) == [0, 1] and [t.get_text() for t in ax.get_xticklabels()] == ["relu", "tanh"]
    np.testing.assert_allclose(y, [0.5, 1.5])


def test_spectrum_uses_the_last_step(results, figure):
    ax = figure.subplots()
    draw_panel(Panel("s", "spectrum", "sv", logy=True), results, ax)
    x, y = _line(ax, "layer1/post (weight_decay=0.001)").get_data()
    assert list(x) == [1, 2, 3, 4]
    np.testing.assert_allclose(
        y, [mean_std([sv(0.001, s, 0, i, STEPS[-1]) for s in SEEDS])[0] for i in range(4)]
    )


def test_gram_heatmap_is_the_run_mean(results, figure):
    ax = figure.subplots()
    notes = draw_panel(Panel("g", "gram", "G"), results, ax, layer="layer2/post",
                       point={WD_KEY: 0.01})
    image = [a for a in ax.get_children() if isinstance(a, AxesImage)][0]
    expected = np.array([[np.mean([gram(0.01, s, 1, i, j) for s in SEEDS]) for j in range(K)]
                         for i in range(K)])
    np.testing.assert_allclose(image.get_array(), expected)
    assert image.get_cmap().name == "RdBu_r"  # signed matrix: diverging map centred on 0
    assert "mean over 2 run(s)" in notes[0]


def test_gram_needs_one_layer_and_point(results, figure):
    ax = figure.subplots()
    with pytest.raises(ValueError, match="pass layer="):
        draw_panel(Panel("g", "gram", "G"), results, ax)
    with pytest.raises(ValueError, match="pass point="):
        draw_panel(Panel("g", "gram", "G"), results, ax, layer="layer1/post")
    with pytest.raises(ValueError, match="no reference lines or log axes"):
        draw_panel(Panel("g", "gram", "G", logy=True), results, ax, layer="layer1/post")


def test_projection_points_and_classes(results, figure):
    ax = figure.subplots()
    notes = draw_panel(Panel("p", "projection", "P"), results, ax, layer="layer10/post",
                       point={WD_KEY: 0.001})
    scatter = [c for c in ax.collections if isinstance(c, PathCollection)][0]
    expected = [[proj(0, 2, i, 0), proj(0, 2, i, 1)] for i in range(N_POINTS)]
    np.testing.assert_allclose(scatter.get_offsets(), expected)  # the first run: seed 0
    np.testing.assert_array_equal(scatter.get_array(), [i % K for i in range(N_POINTS)])
    assert notes == ["layer10/post: run seed0-wd0.001 at step 1000"]


def test_projection_without_classes(results, figure):
    rows = [r for r in results.rows if not r["metric"].startswith("P_class")]
    ax = figure.subplots()
    notes = draw_panel(Panel("p", "projection", "P"), Results("synth", "cpu", rows), ax,
                       layer="layer1/post", point={WD_KEY: 0.01})
    assert any("classes not shown" in n for n in notes)


def test_histogram_pools_runs(results, figure):
    ax = figure.subplots()
    draw_panel(Panel("h", "histogram", "margin", reference=(("t", 0.2),)), results, ax)
    polys = [p for p in ax.patches if p.get_label().startswith("model (")]
    assert len(polys) == len(WDS)
    pooled = [margin(0.01, s, i) for s in SEEDS for i in range(5)]
    all_values = [margin(wd, s, i) for wd in WDS for s in SEEDS for i in range(5)]
    counts, _ = np.histogram(pooled, bins=np.histogram_bin_edges(all_values, bins=30))
    heights = polys[1].get_xy()[:, 1]
    assert heights.max() == counts.max() and np.isin(counts, heights).all()
    ref = _line(ax, "t")
    assert list(ref.get_xdata()) == [0.2, 0.2]  # vertical: the x axis holds the values


def test_bar_heights(results, figure):
    ax = figure.subplots()
    draw_panel(Panel("b", "bar", "nc1_trace"), results, ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(LAYERS)
    heights = [p.get_height() for p in ax.patches]
    expected = [mean_std([nc1(wd, s, li, STEPS[-1]) for s in SEEDS])[0]
                for wd in WDS for li in range(len(LAYERS))]
    np.testing.assert_allclose(heights, expected)


def test_missing_metric_and_layers(results, figure):
    ax = figure.subplots()
    with pytest.raises(NoData, match="'nc9'"):
        draw_panel(Panel("m", "curve", "nc9"), results, ax)
    notes = draw_panel(Panel("m", "curve", "nc1_trace", layers=("layer1/post", "layer7")),
                       results, ax)
    assert notes == ["no data for layers ['layer7']"]
    with pytest.raises(ValueError, match="does not show layer"):
        draw_panel(Panel("m", "curve", "nc1_trace", layers=("layer1/post",)), results, ax,
                   layer="layer2/post")
    with pytest.raises(ValueError, match="must be a nclab.experiments.spec.Panel"):
        draw_panel({"kind": "curve"}, results, ax)


def test_panel_grid(results):
    points, layers = panel_grid(Panel("g", "gram", "G"), results)
    assert points == [{WD_KEY: 0.001}, {WD_KEY: 0.01}]
    assert sorted(layers, key=natural_key) == list(LAYERS)


def test_helpers():
    assert split_indexed("sv[3]") == ("sv", (3,))
    assert split_indexed("G[0,12]") == ("G", (0, 12))
    assert split_indexed("nc1_trace") is None
    assert sorted(["layer10", "layer2", "model"], key=natural_key) == ["layer2", "layer10", "model"]
    mat = np.array([[1.0, np.nan], [3.0, 5.0]])
    center, low, high = summarize(mat, "mean_std")
    np.testing.assert_allclose(center, [2.0, 5.0])
    np.testing.assert_allclose(high - center, [1.0, 0.0])


def test_log_axis_without_positive_values_stays_linear_and_saves(figure, tmp_path):
    # exact zeros (e.g. the equinorm of K = 2 balanced classes) cannot sit on a log axis: the
    # panel keeps a linear axis, says so, and the figure still saves
    rows = [{"experiment": "synth", "scale": "cpu", "run_id": f"seed{s}", "seed": s, "params": {},
             "step": step, "layer": "model", "metric": "equinorm", "value": 0.0}
            for s in (0, 1) for step in (0, 10, 20)]
    ax = figure.subplots()
    draw_panel(Panel("equinorm", "curve", "equinorm", logx=True, logy=True),
               Results("synth", "cpu", rows), ax)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert any("no positive y value" in t.get_text() for t in ax.texts)
    figure.savefig(tmp_path / "p.png")
