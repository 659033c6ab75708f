"""``run_many`` groups compatible configs; ``compile=True`` gives the same results to rounding
or falls back to eager mode with a warning."""

import numpy as np
import pytest
import torch

from nclab.train import TrainConfig, apply_overrides, compiled, run, run_group, run_many

# torch.compile's own internals warn about torch.jit deprecations
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method`:DeprecationWarning")

BASE = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
        "model.widths=[6,6,6]", "loss.preset=p2_dufm", "reg.scheme=dufm",
        "reg.weight_decay=1e-3", "dtype=float64", "optim.steps=30", "probe.points=3"]


def cfg(*overrides):
    return apply_overrides(TrainConfig(), [*BASE, *overrides])


def test_run_many_groups_compatible_configs(assert_matches, monkeypatch):
    configs = [cfg("seed=0"), cfg("optim.name=adam", "optim.lr=0.01"), cfg("seed=1"),
               cfg("model.widths=[4,4]")]
    calls = []
    original = run_group

    def spy(cfgs, **kwargs):
        calls.append(len(cfgs))
        return original(cfgs, **kwargs)

    monkeypatch.setattr("nclab.train.loop.run_group", spy)
    results = run_many(configs)
    assert calls == [2, 1, 1]  # seeds 0 and 1 together; adam and the odd width alone
    for c, r in zip(configs, results, strict=True):
        assert r.config is c
        assert_matches(r, run(c))


def test_compiled_step_matches_runs_and_masks_a_diverging_replica(assert_close):
    configs = [cfg("seed=0", "optim.lr=0.3"), cfg("seed=1", "optim.lr=1e5"),
               cfg("seed=2", "optim.lr=0.5", "reg.weight_decay=1e-2")]
    results = run_group(configs, compile=True)
    assert [r.diverged for r in results] == [False, True, False]
    assert results[1].divergence.startswith("diverged at step 3: loss is")
    for c, r in zip(configs, results, strict=True):
        assert_close(r, run(c))


def test_compiled_sgd_momentum_mlp(assert_close):
    base = ["data.name=digits", "data.split=all", "data.n_per_class=6", "model.widths=[12,12]",
            "dtype=float64", "optim.name=sgd", "optim.batch_size=12", "optim.momentum=0.9",
            "optim.nesterov=true", "optim.steps=25", "probe.points=2", "model.bias=true"]
    configs = [apply_overrides(TrainConfig(), [*base, f"seed={s}", f"optim.lr={lr}",
                                               f"reg.weight_decay={wd}"])
               for s, lr, wd in [(0, 0.05, 1e-3), (1, 0.1, 0.0)]]
    for c, r in zip(configs, run_group(configs, compile=True), strict=True):
        assert_close(r, run(c))


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken(fn, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(compiled, "_CACHE", {})
    configs = [cfg(f"seed={s}", "probe.enabled=false", "optim.momentum=0.5") for s in range(2)]
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        results = run_group(configs, compile=True)
    for c, r in zip(configs, results, strict=True):
        np.testing.assert_allclose(r.loss_trace, run(c).loss_trace, rtol=1e-12)
