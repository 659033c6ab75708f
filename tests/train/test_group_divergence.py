"""A diverging replica is stopped and recorded with its step and cause, exactly as
``nclab.train.run`` records it; the other replicas go on and match their sequential runs."""

import re

import numpy as np

from nclab.train import TrainConfig, apply_overrides, run, run_group

DUFM = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
        "model.widths=[6,6,6]", "loss.preset=p2_dufm", "reg.scheme=dufm",
        "reg.weight_decay=1e-3", "reg.feature_decay=1e-3", "dtype=float64", "optim.steps=60"]


def configs(*extra, lrs=(0.3, 1e5, 0.5)):
    return [apply_overrides(TrainConfig(), [*DUFM, f"seed={s}", f"optim.lr={lr}", *extra])
            for s, lr in enumerate(lrs)]


def test_huge_lr_replica_is_masked_and_the_others_match(assert_matches):
    cfgs = configs("probe.steps=[10,30]")  # probes at 0, 10, 30, 60
    results = run_group(cfgs)
    good_a, bad, good_b = results
    assert not good_a.diverged and not good_b.diverged and bad.diverged
    first_bad = int(np.flatnonzero(~np.isfinite(bad.loss_trace))[0])
    assert bad.steps == first_bad == len(bad.loss_trace) - 1 == 3
    assert re.match(rf"diverged at step {first_bad}: loss is (inf|nan)", bad.divergence)
    assert "no checkpoint to restore" in bad.divergence
    assert good_a.steps == good_b.steps == 60
    for cfg, vec in zip(cfgs, results, strict=True):
        assert_matches(vec, run(cfg))


def test_divergence_caught_at_a_probe_step(assert_matches):
    # probes at every step: non-finite parameters or features are caught before the loss
    cfgs = configs("probe.spacing=linear", "probe.points=61", "probe.parts=[head]",
                   lrs=(0.3, 1e200))
    results = run_group(cfgs)
    assert results[1].diverged and not results[0].diverged
    assert results[1].divergence.startswith("diverged at step 1: layer 'layer1' has non-finite")
    assert len(results[1].loss_trace) == 1  # stopped before the loss of step 1
    for cfg, vec in zip(cfgs, results, strict=True):
        assert_matches(vec, run(cfg))


def test_every_replica_diverging_ends_the_run(assert_matches):
    cfgs = configs("probe.enabled=false", lrs=(1e5, 1e50))
    results = run_group(cfgs)
    assert all(r.diverged for r in results)
    assert results[0].steps != results[1].steps  # stopped at their own steps
    for cfg, vec in zip(cfgs, results, strict=True):
        assert_matches(vec, run(cfg))
