"""Fault injection: kill -9 at random points, damaged store files of every type, two writers,
diverged runs, a measure that raises, and every bad input of issue 14.

Each test counts what it injected in ``FIGURES`` (printed at the end of the module; the README's
"Reliability" section quotes them) and asserts that nothing complete is lost and that every
fault is reported. Toy sizes: the whole module takes well under a minute on one core.
"""

import multiprocessing as mp
import os
import random
import shutil
import signal
import time
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from nclab.cli import main
from nclab.experiments import registry
from nclab.experiments.common import dufm
from nclab.experiments.measures import means_spectrum
from nclab.experiments.spec import Experiment, Measure, Scale
from nclab.metrics import ClassStats, layer_report, nc3_cos
from nclab.metrics.balance import balancedness
from nclab.running import PlanError, Progress, plan, run_experiment
from nclab.store import Store
from nclab.train import ConfigError, TrainConfig, apply_overrides

FIGURES: Counter = Counter()
STEPS = 90
SPECTRUM = (means_spectrum(at=(0.5, 1.0)),)


def tiny(seeds=3, steps=STEPS, measures=SPECTRUM, exp_id="fault-dufm"):
    return Experiment(
        id=exp_id, paper="test", figure="Fig 0", title="tiny DUFM under faults",
        base=dufm(3, 2, width=5, n=3, steps=steps,
                  extra=("probe.points=4", "threads=1", "checkpoint.every=10",
                         "checkpoint.keep=3")),
        scales={"smoke": Scale(seeds=seeds)}, measures=measures, source="test",
        description="test",
    )


def rows_of(store, exp_id="fault-dufm"):
    return sorted((r["run_id"], r["step"], r["layer"], r["metric"], r["value"])
                  for r in store.results(exp_id, "smoke").rows)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted store every faulty one must end up equal to."""
    store = Store(tmp_path_factory.mktemp("ref"))
    out = run_experiment(tiny(), store, "smoke")
    assert [r.status for r in out.runs] == ["finished"] * 3
    return rows_of(store)


def _child_run(root):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    run_experiment(tiny(), Store(root), "smoke", chunk_seconds=0.1)


def _sealed(store):
    """{run_id: summary.json bytes} of the runs that are done."""
    out = {}
    for r in store.runs("fault-dufm", "smoke"):
        if r["status"] in ("finished", "diverged"):
            out[r["run_id"]] = (store.root / "fault-dufm/smoke" / r["run_id"] /
                                "summary.json").read_bytes()
    return out


def test_kill_9_at_random_points_loses_nothing(tmp_path, reference, monkeypatch):
    # checkpoints every chunk_seconds in the forked children, however long one takes
    monkeypatch.setattr("nclab.train.engine.CHECKPOINT_COST_RATIO", 0.0)
    store, rng, ctx = Store(tmp_path), random.Random(14), mp.get_context("fork")
    kills = 0
    for _ in range(12):
        before = _sealed(store)
        p = ctx.Process(target=_child_run, args=(str(tmp_path),))
        p.start()
        time.sleep(rng.uniform(0.0, 1.2))
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        p.join()
        statuses = {r["run_id"]: r["status"] for r in store.runs("fault-dufm", "smoke")}
        assert set(statuses.values()) <= {"finished", "interrupted"}, statuses  # owner dead
        after = _sealed(store)
        assert all(after.get(k) == v for k, v in before.items())  # nothing complete lost
        if len(after) == 3:
            break
    out = run_experiment(tiny(), store, "smoke")
    assert {r.stored for r in out.runs} == {"finished"}
    assert rows_of(store) == reference  # bit-identical to the uninterrupted runs
    assert store.damaged() == []
    FIGURES["kill -9 during a run"] += kills
    FIGURES["kill -9 survived"] += kills


def _flip(path, rng):
    data = bytearray(path.read_bytes())
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def _truncate(path, rng):
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(len(data))])


@pytest.fixture(scope="module")
def finished(tmp_path_factory, reference):
    root = tmp_path_factory.mktemp("finished")
    run_experiment(tiny(), Store(root), "smoke")
    return root


@pytest.fixture
def finished_store(tmp_path, finished):
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    return Store(tmp_path)


def test_one_file_mode_for_the_whole_store(finished):
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.relative_to(finished).as_posix(): oct(p.stat().st_mode & 0o777)
             for p in finished.rglob("*") if p.is_file()}
    assert any(k.endswith("model.safetensors") for k in modes)
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes


STORE_FILES = ("config.json", "summary.json", "metrics.parquet")


@pytest.mark.parametrize("name", STORE_FILES)
def test_damaged_store_files_are_reported_and_retrained(finished_store, reference, name):
    store, rng = finished_store, random.Random(name)
    run_dir = next(iter(sorted((store.root / "fault-dufm/smoke").iterdir())))
    target = run_dir / name
    original = target.read_bytes()
    flips = detected = harmless = 0
    for _ in range(40):  # single bit flips: each is detected or changes no stored value
        target.write_bytes(original)
        _flip(target, rng)
        flips += 1
        info = store.inspect("fault-dufm", "smoke", run_dir.name)
        if info.status == "damaged":
            assert str(target) in info.damage[0]
            detected += 1
        else:  # e.g. a flip inside JSON whitespace of summary.json: same content
            assert name == "summary.json" and rows_of(store) == reference
            harmless += 1
    target.write_bytes(original)
    _truncate(target, rng)
    rows = store.runs("fault-dufm", "smoke")  # every reader goes on with the other runs
    bad = [r for r in rows if r["status"] == "damaged"]
    assert len(rows) == 3 and len(bad) == 1 and str(target) in bad[0]["damage"]
    assert "; ".join(store.damaged()) == bad[0]["damage"]
    assert len({r[0] for r in rows_of(store)}) == 2
    out = run_experiment(tiny(), store, "smoke")  # the damaged run is trained again
    assert sorted(r.status for r in out.runs) == ["finished", "skipped", "skipped"]
    assert rows_of(store) == reference and store.damaged() == []
    assert list(run_dir.glob(f"{name}.damaged-*"))  # kept aside, never deleted
    FIGURES["bit flips in store files"] += flips
    FIGURES["bit flips detected"] += detected
    FIGURES["bit flips harmless (same content)"] += harmless
    FIGURES["truncated store files"] += 1
    FIGURES["truncated store files survived"] += 1


class StopAt(Progress):
    def __init__(self, step):
        self.at = step

    def step(self, index, step, total, loss):
        if step >= self.at:
            raise KeyboardInterrupt


TRAIN_FILES = ("model.safetensors", "state.pt", "checksums.json", "train/config.json",
               "measures.json")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A store whose one run was stopped at step 60 (checkpoints and measures.json saved)."""
    root = tmp_path_factory.mktemp("interrupted")
    with pytest.MonkeyPatch.context() as m:  # checkpoints every chunk_seconds, whatever they cost
        m.setattr("nclab.train.engine.CHECKPOINT_COST_RATIO", 0.0)
        out = run_experiment(tiny(seeds=1), Store(root), "smoke", progress=StopAt(60),
                             chunk_seconds=0.05)
    assert out.interrupted
    return root


@pytest.mark.parametrize("name", TRAIN_FILES)
@pytest.mark.parametrize("fault", ["truncate", "flip"])
def test_damaged_checkpoint_files_fall_back_or_restart(tmp_path, reference, interrupted, name,
                                                       fault):
    shutil.copytree(interrupted, tmp_path, dirs_exist_ok=True)
    store, rng = Store(tmp_path), random.Random(name + fault)
    exp = tiny(seeds=1)
    run_dir = next((tmp_path / "fault-dufm/smoke").iterdir())
    assert store.status("fault-dufm", "smoke", run_dir.name) == "interrupted"
    ckpts = sorted((run_dir / "train/checkpoints").glob("step_*"))
    target = (ckpts[-1] / name if "/" not in name and name != "measures.json"
              else run_dir / ("train/" + name.split("/")[-1]))
    (_truncate if fault == "truncate" else _flip)(target, rng)
    again = run_experiment(exp, store, "smoke")
    assert again.runs[0].status == "finished"
    want = [r for r in reference if r[0] == run_dir.name]
    assert rows_of(store) == want  # same numbers as the uninterrupted run
    FIGURES[f"damaged checkpoint files ({fault})"] += 1
    FIGURES["damaged checkpoint files survived"] += 1


def _child_writer(root, queue):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    out = run_experiment(tiny(), Store(root), "smoke")
    queue.put([r.status for r in out.runs])


def test_two_writers_train_each_run_once(tmp_path, reference):
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child_writer, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    trained = sum(s == "finished" for g in got for s in g)
    assert trained == 3, got  # each run trained by exactly one process
    assert sorted(s for g in got for s in g) == ["finished"] * 3 + ["skipped"] * 3
    assert rows_of(Store(tmp_path)) == reference
    FIGURES["concurrent writers"] += 2
    FIGURES["runs trained twice"] += trained - 3


def test_diverged_runs_are_reported_everywhere(tmp_path):
    store = Store(tmp_path)
    out = run_experiment(tiny(seeds=2, measures=()), store, "smoke", sets=["optim.lr=1e3"])
    assert [r.status for r in out.runs] == ["diverged"] * 2 and len(out.diverged) == 2
    assert {r["status"] for r in store.runs()} == {"diverged"}
    assert store.results("fault-dufm", "smoke").rows == []  # claims are not scored on them
    assert store.query("SELECT count(*) AS n FROM metrics")[0]["n"] > 0  # records kept
    again = run_experiment(tiny(seeds=2, measures=()), store, "smoke", sets=["optim.lr=1e3"])
    assert [(r.status, r.stored) for r in again.runs] == [("skipped", "diverged")] * 2
    FIGURES["diverged runs reported as diverged"] += 2


def test_measure_that_raises_keeps_the_records(tmp_path):
    def boom(ctx):
        raise ValueError("M has zero row(s)")

    store = Store(tmp_path)
    exp = tiny(seeds=1, measures=(means_spectrum(at=(0.5,)), Measure("boom", boom, at=(0.5,))))
    out = run_experiment(exp, store, "smoke")
    run = out.runs[0]
    assert run.status == "failed" and "measure 'boom'" in run.error
    assert "M has zero row(s)" in run.summary["measure_errors"]["45"][0]
    n = store.query("SELECT count(*) AS n FROM metrics")[0]["n"]
    assert n > 0 and store.runs()[0]["status"] == "failed"
    spectra = store.query("SELECT count(*) AS n FROM metrics WHERE metric LIKE 'means_sv%'")
    assert spectra[0]["n"] > 0  # the other measure's rows are kept
    FIGURES["measures that raised, records kept"] += 1


# ---- bad inputs ------------------------------------------------------------------------------
def _npz(tmp_path, name="f.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def _bad_measure_files(tmp_path):
    rng = np.random.default_rng(0)
    H, y = rng.normal(size=(30, 4)), np.repeat(np.arange(3), 10)
    W = rng.normal(size=(3, 4))
    good = _npz(tmp_path, "good.npz", H=H, y=y, W=W)
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(open(good, "rb").read()[:200])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    st = tmp_path / "good.safetensors"
    save_file({"H": H, "y": y, "W": W}, str(st))
    st_trunc = tmp_path / "trunc.safetensors"
    st_trunc.write_bytes(st.read_bytes()[:50])
    soft = np.full((30, 3), 1 / 3)
    return [
        (["measure", _npz(tmp_path, "a.npz", H=H, y=y + 0.5)], "non-integer"),
        (["measure", _npz(tmp_path, "b.npz", H=H, y=soft)], "not one-hot"),
        (["measure", _npz(tmp_path, "c.npz", H=H, y=y > 0)], "dtype bool"),
        (["measure", _npz(tmp_path, "d.npz", H=H, y=y.astype(str))], "dtype <U"),
        (["measure", _npz(tmp_path, "e.npz", H=H, y=np.r_[y[:-1], 2**40])], "K would be"),
        (["measure", _npz(tmp_path, "f.npz", H=H, y=y, W=W.T), "--weights", "W"],
         "must be (K, D)"),
        (["measure", str(trunc)], "not a readable .npz"),
        (["measure", str(garbage)], "not a readable .npz"),
        (["measure", str(st_trunc)], "not a readable .safetensors"),
        (["measure", str(tmp_path / "nope.npz")], "no such file"),
        (["run", "sukenik2024-fig2-top", "--scale", "smoke", "--out", "/proc/nclab-runs"],
         "cannot write"),
        (["run", "sukenik2024-fig2-top", "--scale", "smoke", "--set",
          "model.widths=[30,,30,30]", "--out", str(tmp_path / "r")], "empty element"),
        (["run", "sukenik2024-fig2-top", "--scale", "smoke", "--set", "optim.lr=0x10",
          "--out", str(tmp_path / "r")], "hexadecimal"),
        (["run", "zangrando2024-fig5", "--scale", "smoke", "--set",
          "model.widths=[30,20,30,30,30]", "--out", str(tmp_path / "r")],
         "residual layers must keep their width"),
    ]


def test_bad_cli_inputs_exit_2_with_a_message(tmp_path, capsys):
    cases = _bad_measure_files(tmp_path)
    for argv, message in cases:
        code = main(argv)
        err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("config.json"))
    FIGURES["bad inputs tried"] += len(cases)


def _stats(H, y, **kw):
    return ClassStats(3, **kw).update(H, y)


def test_bad_api_inputs_raise_value_errors():
    rng = np.random.default_rng(1)
    H, y = rng.normal(size=(30, 4)), np.repeat(np.arange(3), 10)
    other = rng.normal(size=(30, 4))
    meta = torch.empty(3, 4, device="meta")

    def update_after_second_pass():
        s = _stats(H, y)
        s.second_pass()
        s.update(H, y)

    def second_pass_other_data():
        s = _stats(H, y).second_pass()
        s.update(other, y)
        s.nc1_pinv()

    def second_pass_fewer_samples():
        s = _stats(H, y).second_pass()
        s.update(H[:20], y[:20])
        s.nc1_pinv()

    def merge_passes_of_other_first_passes():
        _stats(H, y).second_pass().merge(_stats(other, y).second_pass())

    def merge_other_global_mean():
        _stats(H, y).merge(_stats(H, y, global_mean="class"))

    cases = [
        (update_after_second_pass, "froze its class means"),
        (second_pass_other_data, "other data than the first"),
        (second_pass_fewer_samples, "class counts that differ"),
        (merge_passes_of_other_first_passes, "same first pass"),
        (merge_other_global_mean, "global_mean"),
        (lambda: nc3_cos(torch.randn(30, 4), torch.as_tensor(y), meta), "on meta"),
        (lambda: layer_report({"h": torch.randn(30, 4)}, torch.as_tensor(y), classifier=meta),
         "on meta"),
        (lambda: balancedness(torch.randn(4, 4), torch.empty(3, 4, device="meta")), "on meta"),
        (lambda: apply_overrides(TrainConfig(), ["model.widths=[30,,30,30]"]), "empty element"),
        (lambda: apply_overrides(TrainConfig(), ["optim.lr=0x10"]), "hexadecimal"),
    ]
    for fn, message in cases:
        with pytest.raises(ValueError, match=message):
            fn()
    assert issubclass(ConfigError, ValueError) and issubclass(PlanError, ValueError)
    FIGURES["bad inputs tried"] += len(cases)


def test_plan_rejects_widths_the_model_cannot_use():
    with pytest.raises(PlanError, match="residual layers must keep their width"):
        plan(registry.get("zangrando2024-fig5"), "smoke",
             sets=["model.widths=[30,20,30,30,30]"])


def test_cli_shows_diverged_and_damaged_runs(tmp_path, capsys):
    out = str(tmp_path)
    argv = ["run", "sukenik2024-fig2-top", "--scale", "smoke", "--out", out, "--quiet",
            "--set", "optim.lr=1e3"]
    code = main([*argv, "--json"])
    got = capsys.readouterr()
    run0 = __import__("json").loads(got.out)["experiments"][0]["runs"][0]
    assert code == 1 and run0["status"] == "diverged" and "diverged at step" in run0["divergence"]
    assert main(argv) == 1 and "1 diverged" in " ".join(capsys.readouterr().out.split())
    assert main(["runs", "--out", out, "--status", "diverged"]) == 0
    assert "sukenik2024-fig2-top" in capsys.readouterr().out
    summary = next(tmp_path.glob("sukenik2024-fig2-top/smoke/*/summary.json"))
    summary.write_text(summary.read_text()[:40])
    assert main(["runs", "--out", out]) == 0
    listed = capsys.readouterr()
    assert "damaged" in listed.out and str(summary) in " ".join(listed.err.split())
    assert main(["report", "sukenik2024-fig2-top", "--out", out, "--scale", "smoke"]) == 0
    capsys.readouterr()


def test_print_figures():
    """Last: the figures of this run of the suite (``pytest -s`` shows them)."""
    print("\nfault-injection figures:", dict(sorted(FIGURES.items())))
