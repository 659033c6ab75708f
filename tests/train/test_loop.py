"""End-to-end runs: every model trains, GD descends, run() is exactly a hand-written loop."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nclab.models import DUFM, MLP, ResNet20, WeightNormNet, init_weights
from nclab.train import TrainConfig, apply_overrides, build_data, build_model, run

DIGITS = ["data.name=digits", "data.split=all", "data.n_per_class=6", "probe.points=3"]
TINY_DUFM = ["data.name=labels", "data.K=4", "data.n_per_class=5", "model.arch=dufm",
             "model.widths=[8,8,8]", "loss.preset=p2_dufm", "reg.scheme=dufm",
             "reg.weight_decay=1e-3", "reg.feature_decay=1e-3", "dtype=float64"]


def cfg_of(*overrides):
    return apply_overrides(TrainConfig(), list(overrides))


def assert_trained(result, model_type, steps):
    assert isinstance(result.model, model_type)
    assert not result.diverged and result.steps == steps
    assert len(result.loss_trace) == steps and np.isfinite(result.loss_trace).all()
    assert math.isfinite(result.loss_parts["loss"])
    assert result.loss_parts["loss"] < result.loss_trace[0]
    assert {r["step"] for r in result.records} >= {0, steps}


def test_smoke_mlp_with_held_out_set():
    r = run(cfg_of(*DIGITS, "model.widths=[16,16]", "optim.lr=0.5", "optim.steps=8",
                   "data.test_split=test", "data.test_n_per_class=3", "data.standardize=true"))
    assert_trained(r, MLP, 8)
    assert {"train", "test"} == {row["split"] for row in r.records}


def test_smoke_dufm_minibatch():
    r = run(cfg_of(*TINY_DUFM, "optim.name=sgd", "optim.batch_size=8", "optim.lr=0.5",
                   "optim.steps=10"))
    assert_trained(r, DUFM, 10)


def test_smoke_resnet20_tiny_images():
    r = run(cfg_of(*DIGITS, "data.n_per_class=2", "model.arch=resnet20", "model.widths=[8]",
                   "optim.name=sgd", "optim.batch_size=10", "optim.momentum=0.9",
                   "optim.lr=0.05", "optim.steps=3", "reg.scheme=dufm_like",
                   "reg.weight_decay=1e-3", "reg.feature_decay=1e-3", "probe.parts=[features,head]"))
    assert isinstance(r.model, ResNet20) and not r.diverged and r.steps == 3
    assert {"pool", "head.layer1/post", "head.layer2"} <= {row["layer"] for row in r.records}


def test_smoke_weight_normalised_net():
    r = run(cfg_of(*DIGITS, "data.classes=[0,1]", "data.unit_ball=true", "model.arch=weightnorm",
                   "model.widths=[16,16]", "loss.preset=p3", "reg.scheme=rho", "reg.factor=1",
                   "reg.weight_decay=1e-3", "optim.name=sgd", "optim.batch_size=4",
                   "optim.sampler=class_balanced", "optim.lr=0.03", "optim.momentum=0.9",
                   "schedule.name=cosine", "optim.epochs=4"))
    assert isinstance(r.model, WeightNormNet) and not r.diverged and r.steps == 12
    steps, rho = r.history("rho")
    assert len(steps) >= 2 and np.all(rho > 0)


def test_gd_on_a_small_dufm_descends_monotonically():
    r = run(cfg_of(*TINY_DUFM, "optim.lr=0.05", "optim.steps=200", "probe.enabled=false"))
    trace = r.loss_trace
    assert np.all(np.diff(trace) <= 0) and trace[-1] < 0.9 * trace[0]


def assert_same_parameters(model, reference, rtol=1e-12):
    """The engine's batched arithmetic (bmm, the penalties' gradient added analytically) is
    not torch.optim's operation order: float64 agreement to ~1e-15 relative per step."""
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        scale = float(q.detach().abs().max())
        assert float((p - q).detach().abs().max()) <= rtol * scale, name


def test_run_is_a_hand_written_full_batch_loop():
    """The same numbers as the plain PyTorch loop (torch.optim.SGD) for Súkeník et al. eq. (1)."""
    cfg = cfg_of(*TINY_DUFM, "optim.lr=0.3", "optim.steps=25", "probe.enabled=false")
    result = run(cfg)
    K, n, N = 4, 5, 20
    net = DUFM(N, [8, 8, 8], K).double()
    init_weights(net, "lecun_normal", seed=0)
    Y = F.one_hot(torch.arange(K).repeat_interleave(n), K).double()
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    for _ in range(25):
        loss = F.mse_loss(net(), Y, reduction="sum") * (1 / (2 * N))
        loss = loss + sum(1e-3 / 2 * layer.weight.square().sum() for layer in net.layers)
        loss = loss + 1e-3 / 2 * net.H1.square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert_same_parameters(result.model, net)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_run_is_a_hand_written_minibatch_torch_optim_loop(optimizer):
    """torch.optim semantics: SGD with heavy-ball or Nesterov momentum, Adam."""
    extra = {"sgd": ["optim.name=sgd", "optim.momentum=0.9", "optim.lr=0.1"],
             "nesterov": ["optim.name=sgd", "optim.momentum=0.9", "optim.nesterov=true",
                          "optim.lr=0.1"],
             "adam": ["optim.name=adam", "optim.lr=0.01"]}[optimizer]
    cfg = cfg_of(*DIGITS, "model.widths=[12]", "optim.batch_size=16", *extra, "optim.steps=9",
                 "reg.weight_decay=1e-2", "probe.enabled=false", "dtype=float64")
    result = run(cfg)
    data = build_data(cfg).train
    net = build_model(cfg, data)
    Y = F.one_hot(data.y, 10).double()
    if optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9,
                              nesterov=optimizer == "nesterov")
    g = torch.Generator().manual_seed(
        (0 * 6364136223846793005 + 1442695040888963407) % 2**63)  # batches.batch_seed(0)
    steps = 0
    while steps < 9:
        perm = torch.randperm(data.N, generator=g)
        for idx in perm.split(16):
            if steps == 9:
                break
            out = net(data.X[idx])
            loss = F.mse_loss(out, Y[idx], reduction="sum") * (1 / (len(idx) * 10))
            loss = loss + 1e-2 / 2 * sum(p.square().sum() for p in net.parameters())
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    assert_same_parameters(result.model, net, rtol=1e-11)


def test_probes_do_not_change_training_and_seeds_are_reproducible():
    base = [*DIGITS, "model.widths=[10,10]", "optim.name=sgd", "optim.batch_size=12",
            "optim.steps=12", "dtype=float64"]
    a = run(cfg_of(*base, "probe.points=6", "data.test_split=test"))
    b = run(cfg_of(*base, "probe.enabled=false"))
    c = run(cfg_of(*base, "probe.points=6", "data.test_split=test"))
    d = run(cfg_of(*base, "probe.enabled=false", "seed=1"))
    assert np.array_equal(a.loss_trace, b.loss_trace) and a.records == c.records
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not np.array_equal(a.loss_trace, d.loss_trace)


def test_step_schedule_drops_at_80_percent():
    r = run(cfg_of(*TINY_DUFM, "optim.steps=10", "optim.lr=0.2", "schedule.name=step",
                   "probe.steps=[7,8,9]"))
    steps, lr = r.history("lr")
    assert dict(zip(steps.tolist(), lr.tolist(), strict=True)) == pytest.approx(
        {0: 0.2, 7: 0.2, 8: 0.02, 9: 0.02, 10: 0.02})


def test_init_from_continues_from_a_previous_run(tmp_path):
    """Adam, then full-batch GD polish from its final weights (P1's training recipe)."""
    first = run(cfg_of(*TINY_DUFM, "optim.name=adam", "optim.lr=1e-2", "optim.steps=5"),
                out_dir=tmp_path / "adam")
    polish = cfg_of(*TINY_DUFM, "optim.lr=0.05", "optim.steps=1", f"model.init_from={tmp_path}/adam")
    start = build_model(polish)
    for p, q in zip(start.parameters(), first.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert run(polish).loss_trace[0] == pytest.approx(first.loss_parts["loss"], rel=1e-12)


def test_epochs_set_the_number_of_steps():
    r = run(cfg_of(*TINY_DUFM, "optim.name=sgd", "optim.batch_size=8", "optim.epochs=2",
                   "probe.enabled=false"))
    assert r.total_steps == r.steps == 6  # ceil(20 / 8) = 3 batches per epoch


def test_verbose_prints_progress(capsys):
    run(cfg_of(*TINY_DUFM, "optim.steps=2"), verbose=True)
    assert "step        2/2" in capsys.readouterr().out


def test_run_works_inside_no_grad():
    with torch.no_grad():
        assert not run(cfg_of(*TINY_DUFM, "optim.steps=2", "probe.enabled=false")).diverged
