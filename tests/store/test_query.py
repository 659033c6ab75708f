"""DuckDB over all runs: the metrics and runs views, runs(), results()."""

import pytest

from nclab.store import Results, Store


@pytest.fixture
def store(tmp_path):
    """Two experiments; in each, wd x seed runs finished except one crashed (its handle dropped,
    as when its process dies: interrupted) and one failed."""
    store = Store(tmp_path / "runs")
    for exp, factor in (("p0_fig2", 1.0), ("p3_fig1", 10.0)):
        for wd in (0.001, 0.01):
            for seed in (0, 1):
                run = store.start_run(exp, "cpu", {"wd": wd}, seed, {"lr": 0.1, "wd": wd})
                run.write_metrics(
                    [{"step": step, "layer": layer, "metric": "nc1_trace",
                      "value": factor * (1 + seed) * wd / (1 + step)}
                     for step in (0, 100) for layer in ("layer1/post", "layer2/post")]
                )
                run.finish({"final_loss": factor * wd})
        crashed = store.start_run(exp, "cpu", {"wd": 0.1}, 0, {"lr": 0.1})
        crashed.write_metrics([{"step": 0, "layer": "layer1/post", "metric": "nc1_trace",
                                "value": 99.0}])
        store.start_run(exp, "smoke", {}, 0, {}).fail("diverged at step 3")
    return store


def test_query_across_experiments(store):
    got = store.query("SELECT experiment, count(*) AS n, max(value) AS top FROM metrics "
                      "GROUP BY experiment ORDER BY experiment")
    assert got == [{"experiment": "p0_fig2", "n": 17, "top": 99.0},
                   {"experiment": "p3_fig1", "n": 17, "top": 99.0}]  # 4 x 4 + the crashed run
    finals = store.query(
        """SELECT experiment, avg(value) AS mean FROM (
            SELECT m.experiment, m.value
            FROM metrics m JOIN runs r USING (experiment, scale, run_id)
            WHERE r.status = 'finished' AND m.metric = 'nc1_trace' AND m.layer = 'layer1/post'
            QUALIFY m.step = max(m.step) OVER (PARTITION BY m.experiment, m.scale, m.run_id)
        ) GROUP BY experiment ORDER BY experiment"""
    )
    expected = sum((1 + s) * wd / 101 for wd in (0.001, 0.01) for s in (0, 1)) / 4
    assert [f["experiment"] for f in finals] == ["p0_fig2", "p3_fig1"]
    assert finals[0]["mean"] == pytest.approx(expected)
    assert finals[1]["mean"] == pytest.approx(10 * expected)
    by_param = store.query("SELECT json_extract(params, '$.wd')::DOUBLE AS wd, count(*) AS n "
                           "FROM runs WHERE status = ? GROUP BY 1 ORDER BY 1", ["finished"])
    assert by_param == [{"wd": 0.001, "n": 4}, {"wd": 0.01, "n": 4}]


def test_runs_view(store):
    runs = store.runs()
    assert len(runs) == 2 * (4 + 1 + 1)
    statuses = sorted(r["status"] for r in runs if r["experiment"] == "p3_fig1")
    assert statuses == ["failed", "finished", "finished", "finished", "finished", "interrupted"]
    live = store.start_run("p3_fig1", "cpu", {"wd": 0.1}, 0, {"lr": 0.1})  # resumed: running
    assert store.runs("p3_fig1", status="running")[0]["run_id"] == live.run_id
    live.release()
    assert store.status("p3_fig1", "cpu", live.run_id) == "interrupted"
    finished = store.runs("p0_fig2", scale="cpu", status="finished")
    assert [r["params"] for r in finished] == [{"wd": 0.001}, {"wd": 0.01}] * 2
    r = finished[0]
    assert r["config"] == {"lr": 0.1, "wd": 0.001} and r["summary"] == {"final_loss": 0.001}
    assert r["path"] == str(store.run_dir("p0_fig2", "cpu", r["run_id"]).resolve())
    assert r["git_commit"] == store.runs(where="status = 'failed'")[0]["git_commit"]
    failed = store.runs(where="status = 'failed'")
    assert [f["summary"] for f in failed] == [{"error": "diverged at step 3"}] * 2
    assert store.runs("nope") == []
    with pytest.raises(ValueError, match="status must be one of"):
        store.runs(status="done")


def test_trainer_files_are_not_runs(store):
    run = store.start_run("p0_fig2", "paper", {}, 0, {})
    run.train_dir.mkdir()
    (run.train_dir / "config.json").write_text('{"seed": 0}')  # the trainer's own config
    (run.figures_dir / "extra.json").write_text("{}")
    assert len(store.runs("p0_fig2", scale="paper")) == 1


def test_results_are_finished_runs_only(store):
    res = store.results("p0_fig2", "cpu")
    assert isinstance(res, Results) and (res.experiment, res.scale) == ("p0_fig2", "cpu")
    assert len(res.runs()) == 4 and len(res.rows) == 4 * 4
    assert 99.0 not in {r["value"] for r in res.rows}  # the crashed run's records
    final = res.final("nc1_trace", "layer2/post", wd=0.01)
    assert sorted(final) == pytest.approx([0.01 / 101, 0.02 / 101])
    assert res.param_values("wd") == [0.001, 0.01]
    assert store.results("p3_fig1", "paper").rows == []


def test_results_of_chosen_run_ids_leave_the_others_out(store):
    from nclab.store import run_id

    wanted = [run_id({"wd": 0.01}, seed) for seed in (0, 1)]
    wanted.append(run_id({"wd": 0.5}, 0))  # planned, never run: simply absent
    res = store.results("p0_fig2", "cpu", run_ids=wanted)
    assert res.runs() == sorted(wanted[:2]) and len(res.rows) == 2 * 4
    assert set(res.run_info) == set(wanted[:2])  # status and summaries too
    # the other finished runs and the crashed (interrupted) one are listed as excluded
    assert len(res.excluded) == 3 and run_id({"wd": 0.1}, 0) in res.excluded
    assert res.param_values("wd") == [0.01]
    assert store.results("p0_fig2", "cpu").excluded == ()
    nothing = store.results("p0_fig2", "cpu", run_ids=[])
    assert nothing.rows == [] and nothing.run_info == {} and len(nothing.excluded) == 5
    with pytest.raises(ValueError, match="collection of run ids"):
        store.results("p0_fig2", "cpu", run_ids=wanted[0])
    with pytest.raises(ValueError, match="run_ids must be strings"):
        store.results("p0_fig2", "cpu", run_ids=[1])


def test_empty_and_missing_store(tmp_path):
    store = Store(tmp_path / "nothing-yet")
    assert store.runs() == []
    assert store.query("SELECT count(*) AS n FROM metrics") == [{"n": 0}]
    assert store.results("e", "cpu").rows == []
    assert store.status("e", "cpu", "seed0-x") == "missing"


def test_glob_characters_in_root_are_refused(tmp_path):
    with pytest.raises(ValueError, match="glob characters"):
        Store(tmp_path / "runs[1]").query("SELECT 1")
