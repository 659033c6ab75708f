"""Every experiment runs at the smoke scale: a store entry, data for every panel, a figure and
a report (the full set of figures of every experiment is drawn in the slow test)."""

import dataclasses

import pytest

from nclab.experiments import registry
from nclab.experiments.claims import evaluate
from nclab.report import make_figures, write_html_report
from nclab.report.data import collect
from nclab.report.panels import PER_LAYER_KINDS
from nclab.running import run_experiment
from nclab.store import Store

LEAVES = [e.id for e in registry.leaves()]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("smoke-store"))


def _indexed(panel):
    return panel.kind in ("spectrum", "gram", "projection", "histogram")


@pytest.mark.parametrize("exp_id", LEAVES)
def test_smoke_run_store_figure_report(exp_id, store, tmp_path):
    exp = registry.get(exp_id)
    out = run_experiment(exp, store, "smoke")
    assert not out.interrupted
    assert [r.status for r in out.runs if r.status != "finished"] == [], out.runs
    runs = store.runs(exp_id, scale="smoke")
    assert runs and all(r["status"] == "finished" for r in runs)
    results = store.results(exp_id, "smoke")
    assert results.rows
    for panel in exp.panels:  # every panel has rows (raises NoData otherwise)
        series = collect(results, panel.metric, _indexed(panel), panel.layers, None)
        if panel.layers is not None and panel.kind not in PER_LAYER_KINDS:
            found = {s.layer for s in series}
            assert found == set(panel.layers) & found and found, panel.title
    for _, outcome in evaluate(exp, results):  # claims never crash
        assert outcome.status in ("PASS", "FAIL", "NOT-RUN")
    first = dataclasses.replace(exp, panels=exp.panels[:1])
    files = make_figures(first, results, tmp_path / "fig")
    assert files and all(f.stat().st_size > 0 for f in files)
    report = write_html_report(first, results, tmp_path / "report", runs=runs)
    assert report.is_file() and exp.title.split(":")[0][:20] in report.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("exp_id", LEAVES)
def test_smoke_full_figures(exp_id, tmp_path):
    store = Store(tmp_path / "store")
    exp = registry.get(exp_id)
    run_experiment(exp, store, "smoke")
    results = store.results(exp_id, "smoke")
    report = write_html_report(exp, results, tmp_path / "report")
    assert report.is_file()
    assert "no data" not in report.read_text().lower()
