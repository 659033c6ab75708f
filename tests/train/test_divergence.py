"""NaN/Inf stops training with a message naming the step and the cause; the newest checkpoint
left on disk is the last good state."""

import math
import re

import numpy as np
import torch

from nclab.train import TrainConfig, apply_overrides, load_state, run
from nclab.train.checkpoint import list_checkpoints, read_weights

EXPLODING = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
             "model.widths=[5,5]", "loss.preset=p0_theory", "optim.lr=3", "optim.steps=50",
             "checkpoint.every=1", "dtype=float64"]


def test_huge_lr_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = apply_overrides(TrainConfig(), EXPLODING + ["probe.enabled=false"])
    r = run(cfg, out_dir=tmp_path)
    assert r.diverged
    first_bad = int(np.flatnonzero(~np.isfinite(r.loss_trace))[0])
    assert r.steps == first_bad == len(r.loss_trace) - 1
    assert re.match(rf"diverged at step {first_bad}: loss is (inf|nan)", r.divergence)
    assert "last good checkpoint" in r.divergence
    good_step, good_dir = list_checkpoints(tmp_path)[-1]
    assert good_step == first_bad - 1  # a checkpoint of the bad step was never written
    weights = read_weights(good_dir / "model.safetensors")
    assert all(bool(torch.isfinite(t).all()) for t in weights.values())
    state = load_state(good_dir)
    assert np.isfinite(state["loss_trace"].numpy()).all()
    for name, p in r.model.state_dict().items():  # the result holds the last good weights
        assert torch.equal(p, weights[name])
    assert math.isfinite(r.loss_parts["loss"])


def test_divergence_without_checkpoints_names_the_cause():
    cfg = apply_overrides(TrainConfig(), EXPLODING + ["optim.lr=1e3"])
    r = run(cfg)  # probes on: non-finite features can be caught before the loss
    cause = r"(loss is (inf|nan)|layer '\w+' has non-finite features)"
    assert r.diverged and re.match(rf"diverged at step {r.steps}: {cause}", r.divergence)
    assert "no checkpoint to restore" in r.divergence
    assert r.steps < 50


def test_non_finite_parameter_is_named_at_a_probe_step(monkeypatch):
    """A parameter set to inf before training: the first probe (step 0) names it."""
    from nclab.train import replica as loop

    original = loop.build_model

    def poisoned(cfg, data=None):
        model = original(cfg, data)
        with torch.no_grad():
            model.layers[1].weight[0, 0] = float("inf")
        return model

    monkeypatch.setattr(loop, "build_model", poisoned)
    cfg = apply_overrides(TrainConfig(), ["data.n_per_class=3", "model.widths=[4]",
                                          "optim.steps=4"])
    r = run(cfg)
    assert r.diverged and r.steps == 0
    assert r.divergence.startswith("diverged at step 0: parameter 'layers.1.weight'")
