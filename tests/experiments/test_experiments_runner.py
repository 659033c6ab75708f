"""The runner: grids x seeds into the store, skipping finished runs, resuming after Ctrl-C."""

import json

import numpy as np
import pytest

from nclab.experiments import checks as C
from nclab.experiments import registry
from nclab.experiments.claims import evaluate_claim
from nclab.experiments.common import dufm
from nclab.experiments.measures import average_rank, dufm_references, means_spectrum
from nclab.experiments.spec import Claim, Experiment, Measure, Scale
from nclab.running import LocalExecutor, PlanError, Progress, plan, run_experiment
from nclab.store import Store


def tiny(steps=120, seeds=2, grid=None, measures=()):
    return Experiment(
        id="tiny-dufm", paper="test", figure="Fig 0", title="tiny DUFM",
        base=dufm(4, 3, width=6, n=3, steps=steps, extra=("probe.points=5", "threads=1")),
        scales={"smoke": Scale(seeds=seeds, grid=grid or {})},
        claims=(Claim("loss decreases", C.decreases("loss", ("model",)), scales=("smoke",),
                      source="test"),),
        measures=measures, source="test", description="test",
    )


class StopAt(Progress):
    """Raises KeyboardInterrupt (a Ctrl-C) once run ``index`` passes ``step``."""

    def __init__(self, index, step):
        self.index, self.at = index, step
        self.seen = []

    def step(self, index, step, total, loss):
        self.seen.append((index, step))
        if index == self.index and step >= self.at:
            raise KeyboardInterrupt


def final_rows(store, exp_id):
    res = store.results(exp_id, "smoke")
    return sorted((r["run_id"], r["step"], r["layer"], r["metric"], r["value"])
                  for r in res.rows)


def test_runs_store_records_and_skip_when_finished(tmp_path):
    store = Store(tmp_path)
    exp = tiny(grid={"reg.weight_decay": [0.004, 0.01]})
    out = run_experiment(exp, store, "smoke")
    assert [r.status for r in out.runs] == ["finished"] * 4
    runs = store.runs("tiny-dufm", "smoke")
    assert len(runs) == 4 and {r["status"] for r in runs} == {"finished"}
    res = store.results("tiny-dufm", "smoke")
    assert res.param_values("reg.weight_decay") == [0.004, 0.01]
    assert set(res.final("loss", "model")) and res.final("final/loss", "model").size == 4
    summary = json.loads((tmp_path / "tiny-dufm/smoke" / out.runs[0].run_id /
                          "summary.json").read_text())["summary"]
    assert summary["steps"] == summary["total_steps"] == 120
    assert "H1" in summary["final"] or "layer1/pre" in summary["final"]
    again = run_experiment(exp, store, "smoke")
    assert [r.status for r in again.runs] == ["skipped"] * 4


@pytest.mark.parametrize("grouped", [False, True])
def test_interrupted_run_resumes_bit_identically(tmp_path, grouped, monkeypatch):
    # checkpoints every chunk_seconds, however long one takes (the resume is tested here)
    monkeypatch.setattr("nclab.train.engine.CHECKPOINT_COST_RATIO", 0.0)
    exp = tiny(steps=200, seeds=2, measures=(means_spectrum(), dufm_references()))
    ref = Store(tmp_path / "ref")
    run_experiment(exp, ref, "smoke", executor=LocalExecutor(vmap=not grouped))
    store = Store(tmp_path / "cut")
    stop = StopAt(index=1, step=60)
    out = run_experiment(exp, store, "smoke", progress=stop, chunk_seconds=0.01,
                         executor=LocalExecutor(vmap=grouped))
    assert out.interrupted
    statuses = {r["run_id"]: r["status"] for r in store.runs("tiny-dufm", "smoke")}
    if grouped:  # one group: both interrupted
        assert sorted(statuses.values()) == ["interrupted", "interrupted"]
    else:
        assert sorted(statuses.values()) == ["finished", "interrupted"]
    again = run_experiment(exp, store, "smoke")
    assert [r.status for r in again.runs] == ["finished" if grouped else "skipped", "finished"]
    assert again.runs[1].summary["resumed_at"] > 0  # resumed from a checkpoint, not retrained
    assert final_rows(store, "tiny-dufm") == final_rows(ref, "tiny-dufm")


def test_failed_run_is_reported_and_retried(tmp_path):
    def boom(ctx):
        raise RuntimeError("measure failed")

    exp = tiny(seeds=1, measures=(Measure("boom", boom),))
    store = Store(tmp_path)
    out = run_experiment(exp, store, "smoke")
    assert out.runs[0].status == "failed" and "measure failed" in out.runs[0].error
    assert store.runs("tiny-dufm", "smoke")[0]["status"] == "failed"
    ok = tiny(seeds=1)
    assert run_experiment(ok, store, "smoke").runs[0].status == "finished"


def test_bad_overrides_and_scales_are_plan_errors(tmp_path):
    exp = tiny()
    with pytest.raises(PlanError, match="did you mean 'lr'"):
        plan(exp, "smoke", sets=["optim.lrr=0.1"])
    with pytest.raises(PlanError, match="optim.lr: must be finite and > 0"):
        plan(exp, "smoke", sets=["optim.lr=-1"])
    with pytest.raises(PlanError, match="no scale 'cpu'"):
        plan(exp, "cpu")
    grid = tiny(grid={"reg.weight_decay": [0.01]})
    with pytest.raises(PlanError, match="set by the grid"):
        plan(grid, "smoke", sets=["reg.weight_decay=0.1"])
    with pytest.raises(PlanError, match="not config keys"):
        plan(tiny(grid={"depth": [1]}), "smoke")


def test_changed_config_of_a_finished_run_is_refused(tmp_path):
    store = Store(tmp_path)
    exp = tiny(seeds=1)
    run_experiment(exp, store, "smoke")
    with pytest.raises(PlanError, match="different config"):
        run_experiment(exp, store, "smoke", sets=["optim.lr=0.25"])
    out = run_experiment(exp, store, "smoke", sets=["optim.lr=0.25"], overwrite=True)
    assert out.runs[0].status == "finished"
    cfg = json.loads((tmp_path / "tiny-dufm/smoke" / out.runs[0].run_id /
                      "config.json").read_text())["config"]
    assert cfg["optim"]["lr"] == 0.25


def test_measures_layer_names_and_theory_references(tmp_path):
    exp = registry.get("sukenik2024-fig2-top")
    store = Store(tmp_path)
    out = run_experiment(exp, store, "smoke")
    assert out.runs[0].status == "finished"
    res = store.results(exp.id, "smoke")
    layers = {r["layer"] for r in res.rows}
    assert {"H1", "H~2", "H2", "H~4", "H4", "out", "W1", "W4", "model"} <= layers
    from nclab.theory import dnc_loss, srg_loss

    assert res.final("ref/dnc_loss", "model")[0] == pytest.approx(
        dnc_loss(10, 4, 0.004, 0.004, n=50))
    assert res.final("ref/srg_loss", "model")[0] == pytest.approx(
        srg_loss(5, 4, 0.004, 0.004, n=50))
    sv = [res.final(f"means_sv[{i}]", "H4")[0] for i in range(10)]
    assert np.all(np.diff(sv) <= 1e-12)
    assert 1 <= res.final("avg_rank", "model")[0] <= 10


def test_theory_experiment_rows(tmp_path):
    store = Store(tmp_path)
    exp = registry.get("sukenik2024-fig1")
    run_experiment(exp, store, "smoke")
    res = store.results(exp.id, "smoke")
    outcomes = [evaluate_claim(c, res) for c in exp.claims]
    assert [o.status for o in outcomes] == ["PASS"] * len(outcomes), outcomes


def test_average_rank_measure_sweeps_tolerances(tmp_path):
    store = Store(tmp_path)
    exp = tiny(seeds=1, measures=(average_rank(("H1", "H~2", "H2")),))
    from dataclasses import replace

    from nclab.experiments.common import p2_names

    run_experiment(replace(exp, layer_names=p2_names), store, "smoke")
    res = store.results("tiny-dufm", "smoke")
    for m in ("avg_rank", "avg_rank@1e-2", "avg_rank@1e-4", "avg_rank@1e-6"):
        assert res.final(m, "model").size == 1


@pytest.mark.slow
def test_parallel_jobs_match_sequential(tmp_path):
    exp = registry.get("sukenik2024-fig5")
    seq, par = Store(tmp_path / "seq"), Store(tmp_path / "par")
    run_experiment(exp, seq, "smoke")
    out = run_experiment(exp, par, "smoke", jobs=2)
    assert [r.status for r in out.runs] == ["finished", "finished"]
    assert final_rows(seq, exp.id) == final_rows(par, exp.id)
