"""Executors: a vectorised grid stores what the sequential runner stores; skip / retry logic;
Ray and Slurm (submitit's local executor) backends give the local backend's results;
identical runs planned by two experiments are trained once and stored for both."""

import dataclasses
import json
import math

import pytest

from nclab.experiments import checks as C
from nclab.experiments import registry
from nclab.experiments.common import dufm
from nclab.experiments.measures import class_fit, dufm_references, means_spectrum
from nclab.experiments.spec import Claim, Experiment, Scale
from nclab.running import PlanError, Progress, plan, run_experiment, run_experiments
from nclab.running.backends import LocalExecutor, RayExecutor, SlurmExecutor, make_executor
from nclab.running.execute import work_units
from nclab.running.twins import find_twins
from nclab.store import Store
from nclab.verify import check_experiment, status_markdown


def tiny(measures=(), seeds=3, grid=None):
    return Experiment(
        id="tiny-vmap", paper="test", figure="Fig 0", title="tiny DUFM grid",
        base=dufm(4, 3, width=6, n=3, steps=90,
                  extra=("probe.points=4", "threads=1", "dtype=float64")),
        scales={"smoke": Scale(seeds=seeds, grid=grid or {"reg.weight_decay": [0.004, 0.01]})},
        claims=(Claim("loss decreases", C.decreases("loss", ("model",)), scales=("smoke",),
                      source="test"),),
        measures=measures, source="test", description="test",
    )


def rows(store, exp_id, scale="smoke"):
    res = store.results(exp_id, scale)
    return {(r["run_id"], r["step"], r["layer"], r["metric"]): r["value"] for r in res.rows}


def assert_same_rows(a: dict, b: dict):
    """Bit-identical stored values (grouping independence): every row, NaN where NaN."""
    assert a.keys() == b.keys() and a
    for k, va in a.items():
        vb = b[k]
        assert vb == va or (math.isnan(va) and math.isnan(vb)), (k, va, vb)


class Recorder(Progress):
    def __init__(self):
        self.events = []

    def run_start(self, index, prun, resumed_at):
        self.events.append(("start", index))

    def step(self, index, step, total, loss):
        self.events.append(("step", index, step))

    def run_end(self, index, prun, outcome):
        self.events.append(("end", index, outcome.status))


def test_work_units_group_compatible_training_runs():
    runs = plan(tiny(), "smoke")
    assert work_units(runs, list(range(6))) == [[0, 1, 2, 3, 4, 5]]
    assert work_units(runs, [1, 4], max_replicas=1) == [[1], [4]]
    assert work_units(runs, list(range(6)), vmap=False) == [[i] for i in range(6)]
    theory = plan(registry.get("sukenik2024-fig3-left"), "smoke")
    assert work_units(theory, [0, 1]) == [[0], [1]]  # computations are units of their own
    # grouping that is not exact (torch.func families, several threads) is not done
    conv = plan(registry.get("xu2023-fig7"), "smoke", seeds=2)  # WN with convolutions
    assert work_units(conv, [0, 1]) == [[0], [1]]
    dense = plan(registry.get("xu2023-fig8"), "smoke", seeds=2)  # float32: not exact
    assert work_units(dense, [0, 1]) == [[0], [1]]
    dense = plan(registry.get("xu2023-fig8"), "smoke", seeds=2, sets=["dtype=float64"])
    assert work_units(dense, [0, 1]) == [[0, 1]]  # the dense WN is hand-batched
    threads = plan(tiny(), "smoke", sets=["threads=2"])
    assert work_units(threads, [0, 1]) == [[0], [1]]


def test_grouped_grid_stores_what_runs_alone_store(tmp_path):
    exp = tiny(measures=(means_spectrum("hidden", at=(0.5, 1.0)), dufm_references()))
    seq, vec = Store(tmp_path / "seq"), Store(tmp_path / "vec")
    run_experiment(exp, seq, "smoke", executor=LocalExecutor(vmap=False))
    progress = Recorder()
    out = run_experiment(exp, vec, "smoke", executor=LocalExecutor(), progress=progress)
    assert [r.status for r in out.runs] == ["finished"] * 6
    assert_same_rows(rows(seq, exp.id), rows(vec, exp.id))
    for run in vec.runs(exp.id):
        assert run["status"] == "finished"
    assert {e[0] for e in progress.events} == {"start", "step", "end"}
    assert sorted(e[1] for e in progress.events if e[0] == "end") == list(range(6))
    again = run_experiment(exp, vec, "smoke", executor=LocalExecutor())
    assert [r.status for r in again.runs] == ["skipped"] * 6


def _every_step(monkeypatch):
    """Progress after every step of a vectorised group (not about every second)."""
    import nclab.running.execute as ex

    original = ex.run_group
    monkeypatch.setattr(ex, "run_group",
                        lambda *a, **k: original(*a, **{**k, "progress_seconds": 0.0}))


def test_interrupted_group_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    _every_step(monkeypatch)
    exp = tiny(seeds=2, grid={"reg.weight_decay": [0.004]})
    store = Store(tmp_path)
    seen = []

    class Stop(Progress):
        def step(self, index, step, total, loss):
            seen.append((index, step))
            if step > 30:
                raise KeyboardInterrupt

    out = run_experiment(exp, store, "smoke", executor=LocalExecutor(), progress=Stop())
    assert out.interrupted and out.runs == []
    assert max(s for _, s in seen) == 31 < 90  # stopped mid-training
    assert {i for i, _ in seen} == {0, 1}  # progress is reported per run of the group
    assert all(r["status"] != "finished" for r in store.runs(exp.id))
    out = run_experiment(exp, store, "smoke", executor=LocalExecutor())
    assert [r.status for r in out.runs] == ["finished", "finished"]
    ref = Store(tmp_path / "ref")
    run_experiment(exp, ref, "smoke", executor=LocalExecutor(vmap=False))
    assert_same_rows(rows(ref, exp.id), rows(store, exp.id))


def test_ctrl_c_keeps_the_outcomes_of_units_that_ended(tmp_path, monkeypatch):
    _every_step(monkeypatch)
    exp = tiny(seeds=2, grid={"model.widths": [[6, 6, 6], [5, 5, 5]]})  # two work units
    stop_in = []

    class StopSecondUnit(Progress):
        def run_start(self, index, prun, resumed_at):
            stop_in.append(index)

        def step(self, index, step, total, loss):
            if index >= 2 and step > 10:
                raise KeyboardInterrupt

    out = run_experiment(exp, Store(tmp_path), "smoke", executor=LocalExecutor(),
                         progress=StopSecondUnit())
    assert out.interrupted
    assert [r.status for r in out.runs] == ["finished", "finished"]  # the first unit's


def test_a_diverging_replica_is_stored_with_its_last_good_parameters(tmp_path):
    exp = tiny(seeds=1, grid={"optim.lr": [0.5, 1e5]})
    store = Store(tmp_path)
    out = run_experiment(exp, store, "smoke", executor=LocalExecutor())
    assert [r.status for r in out.runs] == ["finished", "diverged"]
    assert sorted(r["status"] for r in store.runs()) == ["diverged", "finished"]
    by_lr = {r.summary["group_size"]: r for r in out.runs}
    assert set(by_lr) == {2}
    summaries = {json.loads((tmp_path / exp.id / "smoke" / r.run_id / "summary.json")
                            .read_text())["params"]["optim.lr"]: r.summary for r in out.runs}
    assert not summaries[0.5]["diverged"]
    bad = summaries[1e5]
    assert bad["diverged"] and "the parameters of the last probe (step" in bad["divergence"]
    assert math.isfinite(bad["loss_parts"]["loss"])  # the restored state, not the blown-up one


def test_a_failed_task_counts_the_runs_it_finished(tmp_path):
    from nclab.running.backends import _failed_unit

    exp = tiny(seeds=2, grid={"reg.weight_decay": [0.004]})
    store = Store(tmp_path)
    runs = plan(exp, "smoke")
    run_experiment(exp, store, "smoke", executor=LocalExecutor(max_replicas=1))
    (store.run_dir(exp.id, "smoke", runs[1].run_id) / "summary.json").unlink()
    got = _failed_unit(store, runs, [0, 1], TimeoutError("job timed out"))
    assert got[0].status == "finished"
    assert got[1].status == "failed" and "timed out" in got[1].error


def test_failed_group_marks_its_runs_failed_and_the_grid_goes_on(tmp_path, monkeypatch):
    exp = tiny(seeds=2)

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("nclab.running.execute.run_group", boom)
    out = run_experiment(exp, Store(tmp_path), "smoke", executor=LocalExecutor())
    assert {r.status for r in out.runs} == {"failed"}
    assert all("out of memory" in r.error for r in out.runs)


def test_make_executor_and_bad_backend():
    assert isinstance(make_executor("local", vmap=False), LocalExecutor)
    assert isinstance(make_executor("ray", address="auto"), RayExecutor)
    assert isinstance(make_executor("slurm"), SlurmExecutor)
    with pytest.raises(PlanError, match="unknown backend"):
        make_executor("mpi")
    with pytest.raises(ValueError, match="jobs"):
        LocalExecutor(jobs=0)


def test_remote_backends_need_registered_experiments(tmp_path):
    pytest.importorskip("submitit")
    with pytest.raises(PlanError, match="registered"):
        run_experiment(tiny(), Store(tmp_path), "smoke",
                       executor=SlurmExecutor(cluster="local"))


EXP = "sukenik2024-fig9-left"  # two compatible DUFM runs at smoke scale: one vectorised group


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("local"))
    out = run_experiment(registry.get(EXP), store, "smoke", executor=LocalExecutor())
    assert {r.status for r in out.runs} == {"finished"}
    return rows(store, EXP)


@pytest.mark.slow
def test_ray_backend_matches_local(tmp_path, local_rows):
    ray = pytest.importorskip("ray")
    store = Store(tmp_path / "store")
    ex = RayExecutor(num_cpus=2, temp_dir=str(tmp_path.parent / "r"))
    try:
        out = run_experiment(registry.get(EXP), store, "smoke", executor=ex)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert {r.status for r in out.runs} == {"finished"}
    assert_same_rows(local_rows, rows(store, EXP))
    again = run_experiment(registry.get(EXP), store, "smoke", executor=ex)
    assert {r.status for r in again.runs} == {"skipped"}


@pytest.mark.slow
def test_slurm_backend_with_submitit_local_executor_matches_local(tmp_path, local_rows):
    pytest.importorskip("submitit")
    store = Store(tmp_path / "store")
    ex = SlurmExecutor(cluster="local", parameters={"timeout_min": 10})
    out = run_experiment(registry.get(EXP), store, "smoke", executor=ex)
    assert {r.status for r in out.runs} == {"finished"}, [r.error for r in out.runs]
    assert_same_rows(local_rows, rows(store, EXP))
    assert (store.root / "_slurm").is_dir()


def test_jobs_pool_of_work_units_matches_in_process(tmp_path):
    exp_id = "sukenik2024-fig3-right"  # two work units at smoke scale
    store, ref = Store(tmp_path / "pool"), Store(tmp_path / "ref")
    out = run_experiment(registry.get(exp_id), store, "smoke", executor=LocalExecutor(jobs=2))
    assert {r.status for r in out.runs} == {"finished"}
    run_experiment(registry.get(exp_id), ref, "smoke", executor=LocalExecutor())
    got = rows(store, exp_id)
    assert got
    assert_same_rows(rows(ref, exp_id), got)


def test_spread_units_uses_every_worker():
    from nclab.running.execute import spread_units

    assert spread_units([[0, 1, 2]], 2) == [[0, 1], [2]]
    assert spread_units([[0, 1, 2, 3], [4]], 3) == [[0, 1], [2, 3], [4]]
    assert spread_units([[0], [1]], 4) == [[0], [1]]  # nothing left to split
    assert spread_units([[0, 1], [2, 3]], 2) == [[0, 1], [2, 3]]


# ---- twins ----------------------------------------------------------------------------------
MEASURES = (means_spectrum("hidden", at=(0.5, 1.0)), class_fit())


def pair(measures_b=MEASURES):
    a = dataclasses.replace(tiny(measures=MEASURES, seeds=2), id="tiny-a")
    b = dataclasses.replace(tiny(measures=measures_b, seeds=2), id="tiny-b")
    return a, b


class Started(Progress):
    def __init__(self):
        self.started, self.ended = set(), {}

    def run_start(self, index, prun, resumed_at):
        self.started.add(prun.experiment.id)

    def run_end(self, index, prun, outcome):
        self.ended[(prun.experiment.id, prun.run_id)] = outcome.status


def _json(store, exp_id, run_id, name):
    return json.loads((store.run_dir(exp_id, "smoke", run_id) / name).read_text())


def test_identical_runs_are_trained_once_with_the_numbers_of_a_run_alone(tmp_path):
    a, b = pair()
    store, alone = Store(tmp_path / "both"), Store(tmp_path / "alone")
    progress = Started()
    out_a, out_b = run_experiments([(a, "smoke"), (b, "smoke")], store, progress=progress)
    assert progress.started == {"tiny-a"}  # nothing of b was trained
    assert [r.status for r in out_a.runs] == ["finished"] * 4
    assert [r.status for r in out_b.runs] == ["copied"] * 4
    assert [r.stored for r in out_b.runs] == ["finished"] * 4
    assert set(progress.ended.values()) == {"finished", "copied"} and len(progress.ended) == 8
    run_experiment(b, alone, "smoke")
    assert_same_rows(rows(alone, "tiny-b"), rows(store, "tiny-b"))
    # the copies carry their own identity, the source's provenance and the trainer's files
    res = store.results("tiny-b", "smoke")
    assert {r["experiment"] for r in res.rows} == {"tiny-b"}
    rid = out_b.runs[0].run_id
    summary = _json(store, "tiny-b", rid, "summary.json")
    assert summary["experiment"] == "tiny-b" and summary["status"] == "finished"
    assert summary["summary"]["copied_from"] == f"tiny-a/smoke/{rid}"
    config, src = (_json(store, e, rid, "config.json") for e in ("tiny-b", "tiny-a"))
    assert config["experiment"] == "tiny-b" and config["copied_from"] == f"tiny-a/smoke/{rid}"
    assert {k: config[k] for k in ("config", "started", "git_commit", "nclab_version")} == \
        {k: src[k] for k in ("config", "started", "git_commit", "nclab_version")}
    assert (store.run_dir("tiny-b", "smoke", rid) / "train" / "checkpoints").is_dir()
    assert store.damaged() == []
    # a second call finds everything done; with overwrite both are made again, b as a copy
    again = run_experiments([(a, "smoke"), (b, "smoke")], store)
    assert {r.status for o in again for r in o.runs} == {"skipped"}
    _, out_b = run_experiments([(a, "smoke"), (b, "smoke")], store, overwrite=True)
    assert [r.status for r in out_b.runs] == ["copied"] * 4
    assert_same_rows(rows(alone, "tiny-b"), rows(store, "tiny-b"))


def test_which_runs_are_twins():
    a, b = pair(measures_b=(means_spectrum("hidden", at=(0.5, 1.0)), class_fit()))
    runs = plan(a, "smoke") + plan(b, "smoke")
    assert find_twins(runs, range(8)) == {}  # equal configs, other measure objects
    a, b = pair()
    runs = plan(a, "smoke") + plan(b, "smoke")
    assert find_twins(runs, range(8)) == {4: 0, 5: 1, 6: 2, 7: 3}
    assert find_twins(runs, range(8), prefer={5}) == {4: 0, 1: 5, 6: 2, 7: 3}
    assert find_twins(runs, [0, 1, 2, 3]) == {}  # only runs still to be made pair up
    assert find_twins(runs + plan(a, "smoke"), range(12)) == {4: 0, 5: 1, 6: 2, 7: 3}  # not a
    other = plan(a, "smoke", sets=["optim.lr=0.01"]) + plan(b, "smoke")
    assert find_twins(other, range(8)) == {}  # another config
    listed = dataclasses.replace(b, measures=list(MEASURES))  # not hashable: never paired
    assert find_twins(plan(a, "smoke") + plan(listed, "smoke"), range(8)) == {}


def test_a_run_stored_earlier_is_never_the_source_of_a_copy(tmp_path):
    """It may come from other code or other measures (the store does not say): the twin of
    a done run is trained."""
    a, b = pair()
    store = Store(tmp_path)
    run_experiment(a, store, "smoke")
    progress = Started()
    out_a, out_b = run_experiments([(a, "smoke"), (b, "smoke")], store, progress=progress)
    assert progress.started == {"tiny-b"} and [r.status for r in out_b.runs] == ["finished"] * 4
    assert {r.status for r in out_a.runs} == {"skipped"}


def test_a_twin_fails_with_its_source_and_waits_for_it_after_ctrl_c(tmp_path, monkeypatch):
    a, b = pair()

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory")

    with monkeypatch.context() as m:
        m.setattr("nclab.running.execute.run_group", boom)
        _, out_b = run_experiments([(a, "smoke"), (b, "smoke")], Store(tmp_path / "f"),
                                   executor=LocalExecutor())
    assert {r.status for r in out_b.runs} == {"failed"}
    assert {r.stored for r in out_b.runs} == {"missing"}
    assert all("the identical run of tiny-a failed" in r.error and "out of memory" in r.error
               for r in out_b.runs)

    class Stop(Progress):
        def step(self, index, step, total, loss):
            raise KeyboardInterrupt

    store = Store(tmp_path / "c")
    outs = run_experiments([(a, "smoke"), (b, "smoke")], store, progress=Stop())
    assert all(o.interrupted and o.runs == [] for o in outs)  # nothing copied, nothing lost
    assert not store.run_dir("tiny-b", "smoke", plan(b, "smoke")[0].run_id).exists()
    _, out_b = run_experiments([(a, "smoke"), (b, "smoke")], store)
    assert [r.status for r in out_b.runs] == ["copied"] * 4


def test_copy_run_refuses_what_it_cannot_copy(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="missing"):
        store.copy_run("x", "smoke", "seed0-abc", "y")
    handle = store.start_run("x", "smoke", {"a": 1}, 0, {"k": 1})
    handle.fail("boom")
    with pytest.raises(ValueError, match="failed"):
        store.copy_run("x", "smoke", handle.run_id, "y")
    handle = store.start_run("x", "smoke", {"a": 2}, 0, {"k": 1})
    handle.write_metrics([{"step": 0, "layer": "model", "metric": "loss", "value": 1.0}])
    handle.finish({"seconds": 3.0})
    with pytest.raises(ValueError, match="onto itself"):
        store.copy_run("x", "smoke", handle.run_id, "x")
    store.copy_run("x", "smoke", handle.run_id, "y")
    with pytest.raises(FileExistsError):
        store.copy_run("x", "smoke", handle.run_id, "y")
    store.copy_run("y", "smoke", handle.run_id, "z")  # a copy of a copy names the original
    summary = _json(store, "z", handle.run_id, "summary.json")
    assert summary["summary"] == {"seconds": 3.0, "copied_from": f"x/smoke/{handle.run_id}"}
    assert store.results("z", "smoke").rows[0]["value"] == 1.0


def test_copied_runs_count_no_training_time_in_the_status(tmp_path):
    a, b = pair()
    store = Store(tmp_path)
    run_experiments([(a, "smoke"), (b, "smoke")], store)
    ca = check_experiment(a, store, "smoke", run=False, report=False)
    cb = check_experiment(b, store, "smoke", run=False, report=False)
    assert ca.compute_seconds > 0 and ca.copied_from == []
    assert cb.compute_seconds == 0 and cb.copied_from == ["tiny-a"] and cb.runs == 4
    table = status_markdown([ca, cb], "test")
    assert "| 4 | 0 s (runs of `tiny-a`) |" in table


@pytest.mark.parametrize("first, second, n", [
    ("jacot2025-fig2-resnet", "jacot2025-fig5", 10),
    ("zangrando2024-fig2", "zangrando2024-fig4", 1),
    ("zangrando2024-fig6", "zangrando2024-fig7", 1),
])
def test_registered_experiments_that_train_the_same_runs_share_them(first, second, n):
    runs = plan(registry.get(first), "cpu") + plan(registry.get(second), "cpu")
    twins = find_twins(runs, range(len(runs)))
    assert len(twins) == n
    assert all(runs[j].experiment.id == second and runs[i].experiment.id == first
               and runs[i].run_id == runs[j].run_id for j, i in twins.items())
