"""A run stopped after k steps and resumed ends bit-identical to an uninterrupted one (CPU)."""

import os

import numpy as np
import pytest
import torch

from nclab.train import CheckpointError, TrainConfig, apply_overrides, run
from nclab.train.checkpoint import list_checkpoints

DIGITS = ["data.name=digits", "data.split=all", "data.n_per_class=6", "model.widths=[12,12]",
          "dtype=float64", "probe.points=6", "checkpoint.every=5", "optim.steps=23"]
SETUPS = {
    "full-batch GD, step schedule": ["schedule.name=step", "optim.lr=0.3"],
    "SGD momentum, shuffled, cosine": ["optim.name=sgd", "optim.batch_size=16",
                                       "optim.momentum=0.9", "schedule.name=cosine",
                                       "reg.weight_decay=1e-3"],
    "Adam, class-balanced": ["optim.name=adam", "optim.lr=1e-2", "optim.batch_size=20",
                             "optim.sampler=class_balanced", "data.test_split=test"],
    "DUFM minibatch features": ["data.name=labels", "data.K=3", "data.n_per_class=7",
                                "data.split=train", "model.arch=dufm", "model.widths=[6,6]",
                                "reg.scheme=dufm", "reg.feature_decay=1e-2", "optim.name=sgd",
                                "optim.batch_size=5", "optim.momentum=0.5"],
}


def cfg_of(overrides):
    return apply_overrides(TrainConfig(), [*DIGITS, *overrides])


def assert_identical(a, b):
    for (n, p), (_, q) in zip(a.model.state_dict().items(), b.model.state_dict().items(),
                              strict=True):
        assert torch.equal(p, q), n
    assert np.array_equal(a.loss_trace, b.loss_trace)
    assert a.records == b.records
    assert a.loss_parts == b.loss_parts


@pytest.mark.parametrize("name", sorted(SETUPS))
@pytest.mark.parametrize("k", [7, 10])
def test_resume_equals_uninterrupted(tmp_path, name, k):
    cfg = cfg_of(SETUPS[name])
    full = run(cfg)
    stopped = run(cfg, out_dir=tmp_path, max_steps=k)
    assert stopped.steps == k and not stopped.diverged
    assert list_checkpoints(tmp_path)[-1][0] == k
    resumed = run(cfg, out_dir=tmp_path, resume=True)
    assert resumed.resumed_from == k and resumed.steps == 23
    assert_identical(full, resumed)


def test_resume_twice_and_keep_prunes_old_checkpoints(tmp_path):
    cfg = cfg_of(SETUPS["SGD momentum, shuffled, cosine"] + ["checkpoint.keep=2"])
    full = run(cfg)
    run(cfg, out_dir=tmp_path, max_steps=6)
    run(cfg, out_dir=tmp_path, resume=True, max_steps=17)
    resumed = run(cfg, out_dir=tmp_path, resume=True)
    assert_identical(full, resumed)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [20, 23]
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]
    assert (tmp_path / "records.csv").read_text().startswith("step,split,layer,metric,value")


def test_resume_of_a_finished_run_or_below_its_checkpoint_does_nothing(tmp_path):
    cfg = cfg_of([])
    done = run(cfg, out_dir=tmp_path)
    again = run(cfg, out_dir=tmp_path, resume=True)
    assert again.resumed_from == again.steps == 23 and again.records == done.records
    assert run(cfg, out_dir=tmp_path, resume=True, max_steps=4).steps == 23


def test_max_steps_zero_only_writes_the_initial_checkpoint(tmp_path):
    cfg = cfg_of([])
    r = run(cfg, out_dir=tmp_path, max_steps=0)
    assert r.steps == 0 and [s for s, _ in list_checkpoints(tmp_path)] == [0]
    assert {row["step"] for row in r.records} == {0}
    with pytest.raises(ValueError, match="max_steps"):
        run(cfg, max_steps=-1)


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    cfg = cfg_of([])
    assert run(cfg, out_dir=tmp_path, resume=True).resumed_from is None


def test_existing_run_directory_needs_resume(tmp_path):
    cfg = cfg_of([])
    run(cfg, out_dir=tmp_path, max_steps=3)
    with pytest.raises(CheckpointError, match="resume=True"):
        run(cfg, out_dir=tmp_path)


def test_resume_refuses_a_different_config(tmp_path):
    cfg = cfg_of([])
    run(cfg, out_dir=tmp_path, max_steps=3)
    with pytest.raises(CheckpointError, match="optim.lr"):
        run(apply_overrides(cfg, ["optim.lr=0.5"]), out_dir=tmp_path, resume=True)


def test_out_dir_from_the_config(tmp_path):
    cfg = cfg_of([f"out_dir={tmp_path / 'run'}"])
    result = run(cfg)
    assert result.checkpoint_dir == tmp_path / "run"
    assert os.path.isfile(tmp_path / "run" / "config.json")
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [20, 23]


def test_group_resumes_replicas_at_different_steps_including_step_0(tmp_path):
    """A kill while a group writes its checkpoints leaves replicas at different steps (one of
    them only at step 0, another with none): the group resumes, bit-identical."""
    from nclab.train import run_group

    cfgs = [cfg_of(["optim.name=sgd", "optim.momentum=0.9", "optim.batch_size=12",
                    "optim.steps=20", "threads=1", f"seed={s}"]) for s in range(3)]
    dirs = [tmp_path / f"r{s}" for s in range(3)]
    run_group(cfgs[:1], out_dirs=dirs[:1], max_steps=0)  # only the step-0 checkpoint
    run_group(cfgs[1:2], out_dirs=dirs[1:2], max_steps=7)  # a checkpoint at step 7
    resumed = run_group(cfgs, out_dirs=dirs, resume=True)
    fresh = run_group(cfgs)
    for a, b in zip(resumed, fresh, strict=True):
        assert not a.diverged and a.steps == 20
        assert np.array_equal(a.loss_trace, b.loss_trace)
        assert [r["value"] for r in a.records] == [r["value"] for r in b.records]
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.equal(p, q)


def test_wall_time_checkpoints_cost_at_most_a_fiftieth_of_the_time(tmp_path, monkeypatch):
    """``checkpoint_seconds`` is stretched to CHECKPOINT_COST_RATIO x the last checkpoint's cost:
    with a checkpoint that takes 50 ms and checkpoint_seconds ~ 0, consecutive wall-time-due
    checkpoints are >= 2.5 s apart (before: one at every step)."""
    import time

    from nclab.train import engine, run_group
    from nclab.train.replica import Replica

    steps_saved = []
    real_save = Replica.save

    def slow_save(self, step, *args):
        time.sleep(0.05)
        steps_saved.append(step)
        return real_save(self, step, *args)

    monkeypatch.setattr(Replica, "save", slow_save)
    cfg = cfg_of(["checkpoint.every=0", "optim.steps=400", "probe.enabled=false"])
    t0 = time.perf_counter()
    run_group([cfg, cfg], out_dirs=[tmp_path / "a", tmp_path / "b"], checkpoint_seconds=1e-9)
    wall = time.perf_counter() - t0
    per_replica = sorted(set(steps_saved))  # the two replicas save at the same steps
    assert per_replica[0] == 0 and per_replica[-1] == 400
    assert len(steps_saved) == 2 * len(per_replica)
    due = len(per_replica) - 2  # neither step 0 nor the end
    assert engine.CHECKPOINT_COST_RATIO == 50.0
    assert due <= 1 + wall / (engine.CHECKPOINT_COST_RATIO * 2 * 0.05)
    assert len(per_replica) < 400 / 4
