"""The life of a run: config.json, metrics.parquet, summary.json last, resume, atomic writes."""

import json
import math
import os
import subprocess

import pyarrow.parquet as pq
import pytest

import nclab
import nclab.store.atomic as atomic
from nclab.store import RECORD_COLUMNS, SCHEMA, RunBusy, Store, git_commit, jsonable, run_id

PARAMS = {"optim.weight_decay": 0.004}
CONFIG = {"optim": {"lr": 0.1, "weight_decay": 0.004}, "seed": 3, "tags": ("a", "b")}


def rows(n=3, scale=1.0):
    return [{"step": s, "layer": "layer1/post", "metric": "nc1_trace", "value": scale / (1 + s)}
            for s in range(n)]


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs")


def test_config_json(store):
    run = store.start_run("p0_fig2", "cpu", PARAMS, 3, CONFIG)
    assert run.run_id == run_id(PARAMS, 3)
    assert run.dir == store.root / "p0_fig2" / "cpu" / run.run_id
    cfg = json.loads((run.dir / "config.json").read_text())
    assert cfg["config"] == {"optim": {"lr": 0.1, "weight_decay": 0.004}, "seed": 3,
                             "tags": ["a", "b"]}
    assert (cfg["experiment"], cfg["scale"], cfg["run_id"], cfg["seed"], cfg["params"]) == (
        "p0_fig2", "cpu", run.run_id, 3, PARAMS)
    assert cfg["nclab_version"] == nclab.__version__
    assert cfg["git_commit"] == git_commit()
    assert cfg["started"].endswith("+00:00")
    assert store.status("p0_fig2", "cpu", run.run_id) == "running"
    assert not (run.dir / "summary.json").exists()


def test_git_commit_of_this_checkout_and_elsewhere(tmp_path):
    try:
        head = subprocess.run(["git", "-C", os.path.dirname(nclab.__file__), "rev-parse",
                               "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("nclab is not imported from a git checkout here")
    assert git_commit() == head and len(head) == 40
    outside = tmp_path / "site-packages" / "nclab"
    outside.mkdir(parents=True)
    (outside / "__init__.py").write_text("")
    assert git_commit(outside) is None


def test_metrics_parquet_schema_and_appends(store):
    run = store.start_run("e", "smoke", PARAMS, 0, {})
    assert run.write_metrics(rows(2)) == 2
    assert run.write_metrics(rows(3, scale=2.0)) == 5  # appended, file rewritten whole
    table = pq.read_table(run.dir / "metrics.parquet")
    assert tuple(table.column_names) == RECORD_COLUMNS == tuple(SCHEMA.names)
    assert table.schema.equals(SCHEMA)
    first = table.to_pylist()[0]
    assert first == {"experiment": "e", "scale": "smoke", "run_id": run.run_id, "seed": 0,
                     "params": '{"optim.weight_decay":0.004}', "step": 0,
                     "layer": "layer1/post", "metric": "nc1_trace", "value": 1.0}
    assert table.column("value").to_pylist()[2:] == [2.0, 1.0, 2.0 / 3]


def test_finish_writes_summary_last(store, monkeypatch):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    order = []
    real = atomic.os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (order.append(os.path.basename(b)),
                                                            real(a, b)))
    run.finish({"final_loss": math.nan, "steps": 10})
    assert order == ["metrics.parquet", "summary.json"]  # an empty metrics file, then summary
    summary = json.loads((run.dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["summary"] == {"final_loss": "nan", "steps": 10}
    assert store.is_finished("e", "cpu", run.run_id)
    with pytest.raises(ValueError, match="already closed"):
        run.write_metrics(rows())


def test_crash_while_writing_metrics_keeps_the_old_file(store, monkeypatch):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    run.write_metrics(rows(2))
    before = (run.dir / "metrics.parquet").read_bytes()

    def half_write(table, where):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 truncated")
        raise OSError("disk full")

    monkeypatch.setattr(atomic.pq, "write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        run.write_metrics(rows(3))
    assert (run.dir / "metrics.parquet").read_bytes() == before
    assert sorted(p.name for p in run.dir.iterdir()) == [".lock", "config.json",
                                                         "metrics.parquet"]


def test_crash_while_finishing_is_not_finished(store, monkeypatch):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    run.write_metrics(rows())

    def crash(src, dst):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        run.finish({"ok": True})
    monkeypatch.undo()
    assert not (run.dir / "summary.json").exists()
    assert store.status("e", "cpu", run.run_id) == "running"
    assert store.runs(status="finished") == []
    assert store.results("e", "cpu").rows == []


def test_resume_a_crashed_run(store):
    run = store.start_run("e", "cpu", PARAMS, 1, {"a": 1})
    run.write_metrics(rows())
    (run.checkpoint_dir / "step_000000010").mkdir(parents=True)
    with pytest.raises(RunBusy, match=f"pid {os.getpid()}"):  # its owner is alive
        store.start_run("e", "cpu", PARAMS, 1, {"a": 1})
    run.release()  # what the death of its process does
    assert store.status("e", "cpu", run.run_id) == "interrupted"
    again = store.start_run("e", "cpu", PARAMS, 1, {"a": 1})  # crashed: reopen to resume
    assert again.dir == run.dir
    assert (again.checkpoint_dir / "step_000000010").is_dir()  # trainer checkpoints kept
    assert not (again.dir / "metrics.parquet").exists()  # stale records gone
    again.write_metrics(rows(4))
    again.finish()
    assert len(store.results("e", "cpu").rows) == 4


def test_finished_runs_are_skipped_or_overwritten(store):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    run.write_metrics(rows())
    (run.train_dir / "checkpoints").mkdir(parents=True)
    run.finish()
    with pytest.raises(FileExistsError, match="already finished"):
        store.start_run("e", "cpu", PARAMS, 0, {})
    fresh = store.start_run("e", "cpu", PARAMS, 0, {"b": 2}, overwrite=True)
    assert store.status("e", "cpu", fresh.run_id) == "running"
    assert not fresh.train_dir.exists() and not (fresh.dir / "metrics.parquet").exists()


def test_context_manager_marks_failures(store):
    with pytest.raises(RuntimeError, match="boom"):
        with store.start_run("e", "cpu", PARAMS, 0, {}) as run:
            run.write_metrics(rows())
            raise RuntimeError("boom")
    assert store.status("e", "cpu", run.run_id) == "failed"
    summary = json.loads((run.dir / "summary.json").read_text())
    assert summary["summary"] == {"error": "RuntimeError: boom"}
    assert not store.is_finished("e", "cpu", run.run_id)
    retry = store.start_run("e", "cpu", PARAMS, 0, {})  # failed runs are run again
    assert store.status("e", "cpu", retry.run_id) == "running"


def test_status_of_missing_run_and_custom_ids(store):
    assert store.status("e", "cpu", "seed0-x") == "missing"
    run = store.start_run("e", "paper", {"w": 1}, 0, {}, run_id="width1")
    assert run.dir.name == "width1"
    run.release()
    with pytest.raises(ValueError, match="holds the run of seed=0"):
        store.start_run("e", "paper", {"w": 2}, 0, {}, run_id="width1")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"step": 0, "layer": "l", "metric": "m"}, r"lacks \['value'\]"),
        ({"step": 0, "layer": "l", "metric": "m", "value": 1.0, "split": "test"},
         r"unknown columns \['split'\]"),
        ({"step": None, "layer": "l", "metric": "m", "value": 1.0}, "step must be an int"),
        ({"step": 0, "layer": None, "metric": "m", "value": 1.0}, "layer must be a non-empty"),
        ({"step": 0, "layer": "l", "metric": "m", "value": "1"}, "value must be a real"),
        ({"step": 0, "layer": "l", "metric": "m", "value": 1.0, "seed": 9},
         "has seed=9 but the run has seed=0"),
        ({"step": 0, "layer": "l", "metric": "m", "value": 1.0, "params": {"w": 1}},
         "has params="),
    ],
)
def test_bad_rows(store, bad, message):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    with pytest.raises(ValueError, match=message):
        run.write_metrics([*rows(1), bad])
    assert not (run.dir / "metrics.parquet").exists()


def test_rows_may_repeat_their_identity(store):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    row = {**rows(1)[0], "experiment": "e", "scale": "cpu", "run_id": run.run_id, "seed": 0,
           "params": json.dumps(PARAMS)}
    assert run.write_metrics([row]) == 1


def test_bad_arguments(store, tmp_path):
    with pytest.raises(ValueError, match="scale must be one of"):
        store.start_run("e", "large", {}, 0, {})
    with pytest.raises(ValueError, match="experiment must be"):
        store.start_run("../e", "cpu", {}, 0, {})
    with pytest.raises(ValueError, match="config must be a JSON-able dict"):
        store.start_run("e", "cpu", {}, 0, "lr=0.1")
    with pytest.raises(ValueError, match="cannot write object"):
        store.start_run("e", "cpu", {}, 0, {"x": object()})
    run = store.start_run("e", "cpu", {}, 0, {})
    with pytest.raises(ValueError, match="status must be one of"):
        run.finish(status="done")
    with pytest.raises(ValueError, match="summary must be a dict"):
        run.finish([1])
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a directory"):
        Store(tmp_path / "file")


def test_jsonable():
    import numpy as np

    assert jsonable({"a": np.float32(0.5), "b": np.arange(2), "c": (math.inf, -math.inf),
                     "p": tmp_path_like()}) == {"a": 0.5, "b": [0, 1], "c": ["inf", "-inf"],
                                                "p": "/x/y"}


def tmp_path_like():
    from pathlib import PurePosixPath

    return PurePosixPath("/x/y")


def test_summary_seals_the_run_with_checksums(store):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    run.write_metrics(rows())
    run.finish({"diverged": True}, status="diverged")
    summary = json.loads((run.dir / "summary.json").read_text())
    assert set(summary["files"]) == {"config.json", "metrics.parquet"} and summary["sha256"]
    assert store.status("e", "cpu", run.run_id) == "diverged" and store.is_done("e", "cpu",
                                                                                 run.run_id)
    assert not store.is_finished("e", "cpu", run.run_id) and store.results("e", "cpu").rows == []
    with pytest.raises(FileExistsError, match="already diverged"):
        store.start_run("e", "cpu", PARAMS, 0, {})
    summary["summary"]["diverged"] = False  # edited by hand: the seal no longer matches
    (run.dir / "summary.json").write_text(json.dumps(summary))
    info = store.inspect("e", "cpu", run.run_id)
    assert info.status == "damaged" and "summary.json: checksum mismatch" in info.damage[0]
    again = store.start_run("e", "cpu", PARAMS, 0, {})  # damaged: set aside, reopened
    assert sorted(p.name.split(".damaged-")[0] for p in again.dir.glob("*.damaged-*")) == [
        "config.json", "metrics.parquet", "summary.json"]


def test_summaries_without_checksums_are_trusted(store):
    run = store.start_run("e", "cpu", PARAMS, 0, {})
    run.write_metrics(rows())
    run.finish()
    path = run.dir / "summary.json"
    legacy = {k: v for k, v in json.loads(path.read_text()).items()
              if k not in ("files", "sha256")}
    path.write_text(json.dumps(legacy))  # as written before checksums existed
    assert store.status("e", "cpu", run.run_id) == "finished"
    assert len(store.results("e", "cpu").rows) == 3
