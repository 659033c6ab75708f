"""``run_many`` groups, runs vectorised groups and falls back to ``nclab.train.run``;
``compile=True`` gives the same results or falls back to eager mode with a warning."""

import numpy as np
import pytest
import torch

from nclab.sweep import compiled, run_many, run_vectorised
from nclab.train import TrainConfig, apply_overrides, run

# torch.compile's own internals warn about torch.jit deprecations
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method`:DeprecationWarning")

BASE = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
        "model.widths=[6,6,6]", "loss.preset=p2_dufm", "reg.scheme=dufm",
        "reg.weight_decay=1e-3", "dtype=float64", "optim.steps=30", "probe.points=3"]


def cfg(*overrides):
    return apply_overrides(TrainConfig(), [*BASE, *overrides])


def test_run_many_mixes_vectorised_groups_and_sequential_runs(assert_matches, monkeypatch):
    configs = [cfg("seed=0"), cfg("optim.name=adam", "optim.lr=0.01"), cfg("seed=1"),
               cfg("model.widths=[4,4]")]
    calls = []
    original = run_vectorised

    def spy(cfgs, **kwargs):
        calls.append(len(cfgs))
        return original(cfgs, **kwargs)

    monkeypatch.setattr("nclab.sweep.many.run_vectorised", spy)
    results = run_many(configs)
    assert calls == [2]  # seeds 0 and 1 together; adam and the odd width alone
    for c, r in zip(configs, results, strict=True):
        assert r.config is c
        assert_matches(r, run(c))


def test_compiled_step_matches_sequential_runs_and_masks_a_diverging_replica(assert_matches):
    configs = [cfg("seed=0", "optim.lr=0.3"), cfg("seed=1", "optim.lr=1e5"),
               cfg("seed=2", "optim.lr=0.5", "reg.weight_decay=1e-2")]
    results = run_vectorised(configs, compile=True)
    assert [r.diverged for r in results] == [False, True, False]
    assert results[1].divergence.startswith("diverged at step 3: loss is")
    for c, r in zip(configs, results, strict=True):
        assert_matches(r, run(c))


def test_compiled_sgd_momentum_mlp(assert_matches):
    base = ["data.name=digits", "data.split=all", "data.n_per_class=6", "model.widths=[12,12]",
            "dtype=float64", "optim.name=sgd", "optim.batch_size=12", "optim.momentum=0.9",
            "optim.nesterov=true", "optim.steps=25", "probe.points=2", "model.bias=true"]
    configs = [apply_overrides(TrainConfig(), [*base, f"seed={s}", f"optim.lr={lr}",
                                               f"reg.weight_decay={wd}"])
               for s, lr, wd in [(0, 0.05, 1e-3), (1, 0.1, 0.0)]]
    for c, r in zip(configs, run_vectorised(configs, compile=True), strict=True):
        assert_matches(r, run(c))


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken(fn, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(compiled, "_CACHE", {})
    configs = [cfg(f"seed={s}", "probe.enabled=false", "optim.momentum=0.5") for s in range(2)]
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        results = run_vectorised(configs, compile=True)
    for c, r in zip(configs, results, strict=True):
        np.testing.assert_allclose(r.loss_trace, run(c).loss_trace, rtol=1e-12)
