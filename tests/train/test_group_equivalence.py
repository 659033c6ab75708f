"""Grouping independence: replica s of a group is ``nclab.train.run(configs[s])`` bit for bit
(weights, loss trace, probe records, loss decomposition) for per-replica seeds, learning rates
and weight decays, every optimiser and the MLP / DUFM / dense weight-normalised families (ResNet20
and the weight-normalised network with convolutions: ``test_group_funcnet.py``)."""

import numpy as np
import pytest

from nclab.train import TrainConfig, apply_overrides, run, run_group

DUFM = ["data.name=labels", "data.K=4", "data.n_per_class=6", "model.arch=dufm",
        "model.widths=[10,10,10,10]", "loss.preset=p2_dufm", "reg.scheme=dufm",
        "reg.weight_decay=4e-3", "reg.feature_decay=4e-3", "dtype=float64", "optim.lr=0.5",
        "optim.steps=150", "probe.points=6"]
MLP = ["data.name=digits", "data.split=all", "data.n_per_class=8", "model.widths=[16,16,16]",
       "model.n_linear=2", "model.n_backbone=1", "dtype=float64", "optim.name=sgd",
       "optim.batch_size=16", "optim.momentum=0.9", "optim.steps=60", "probe.points=4",
       "loss.preset=torch_mse", "reg.weight_decay=1e-3"]

WEIGHTNORM = ["data.name=digits", "data.split=all", "data.n_per_class=5", "data.classes=[1,2]",
              "model.arch=weightnorm", "model.widths=[16,16]", "loss.preset=p3",
              "loss.targets=signed", "reg.scheme=rho", "reg.factor=1.0", "dtype=float64",
              "optim.name=sgd", "optim.momentum=0.9", "optim.batch_size=4", "optim.steps=30",
              "probe.points=4", "threads=1"]


def cfg_of(base, *overrides):
    return apply_overrides(TrainConfig(), [*base, *overrides])


def check_group(configs, assert_matches, **kwargs):
    results = run_group(configs, **kwargs)
    assert len(results) == len(configs)
    for cfg, vec in zip(configs, results, strict=True):
        assert vec.config is cfg and not vec.diverged
        assert_matches(vec, run(cfg))
    return results


def test_gd_dufm_float64_per_replica_seed_lr_and_weight_decay(assert_matches):
    configs = [cfg_of(DUFM, f"seed={s}", f"optim.lr={lr}", f"reg.weight_decay={wd}",
                      f"reg.feature_decay={fd}")
               for s, lr, wd, fd in [(0, 0.5, 4e-3, 4e-3), (1, 0.3, 1e-2, 0.0), (2, 0.7, 0.0, 2e-3)]]
    results = check_group(configs, assert_matches)
    finals = [r.loss_parts["loss"] for r in results]
    assert len(set(finals)) == 3  # the replicas really differ


def test_same_seed_different_hyperparameters_are_not_mixed_up(assert_matches):
    configs = [cfg_of(DUFM, "seed=3", f"optim.lr={lr}", f"reg.weight_decay={wd}")
               for lr, wd in [(0.2, 1e-2), (0.6, 1e-3)]]
    a, b = check_group(configs, assert_matches)
    assert a.loss_trace[0] != b.loss_trace[0]  # weight decay enters the first loss
    assert a.loss_trace[0] - a.loss_parts["loss"] != b.loss_trace[0] - b.loss_parts["loss"]


def test_sgd_momentum_mlp_on_digits(assert_matches):
    configs = [cfg_of(MLP, f"seed={s}", f"optim.lr={lr}", f"reg.weight_decay={wd}")
               for s, lr, wd in [(0, 0.05, 1e-3), (1, 0.1, 0.0), (2, 0.02, 5e-3)]]
    check_group(configs, assert_matches)


def test_mlp_bias_nesterov_cross_entropy_penalties_schedule_held_out(assert_matches):
    base = [*MLP, "model.bias=true", "optim.nesterov=true", "loss.preset=cross_entropy",
            "reg.feature_decay=1e-3", "schedule.name=cosine", "data.test_split=test",
            "data.test_n_per_class=3", "optim.steps=30"]
    configs = [cfg_of(base, "seed=0", "optim.lr=0.05", "reg.activation_decay=1e-4"),
               cfg_of(base, "seed=1", "optim.lr=0.1", "reg.scheme=weights")]
    results = check_group(configs, assert_matches)
    assert {"train", "test"} == {r["split"] for r in results[0].records}


def test_full_batch_tanh_residual_mlp_with_step_schedule(assert_matches):
    base = ["data.name=digits", "data.split=all", "data.n_per_class=8", "probe.points=3",
            "model.widths=[16,16,16]", "model.activation=tanh", "dtype=float64",
            "model.residual=[false,true,true,false]", "optim.lr=0.1", "optim.steps=40",
            "schedule.name=step", "optim.momentum=0.5"]
    check_group([cfg_of(base, f"seed={s}", f"reg.weight_decay={wd}")
                 for s, wd in [(0, 1e-3), (1, 1e-2)]], assert_matches)


def test_minibatch_dufm_with_feature_decay_and_class_balanced_batches(assert_matches):
    base = [*DUFM, "optim.name=sgd", "optim.batch_size=8", "optim.momentum=0.5",
            "optim.sampler=class_balanced", "optim.steps=40", "optim.lr=0.2"]
    check_group([cfg_of(base, f"seed={s}") for s in range(3)], assert_matches)


def test_float32_mlp_is_also_group_independent(assert_matches):
    configs = [cfg_of(MLP, "dtype=float32", f"seed={s}") for s in range(2)]
    for cfg, vec in zip(configs, run_group(configs), strict=True):
        assert_matches(vec, run(cfg))


def test_probe_records_are_per_replica():
    configs = [cfg_of(DUFM, f"seed={s}", "optim.steps=20", "probe.points=3") for s in range(2)]
    a, b = run_group(configs)
    steps = sorted({r["step"] for r in a.records})
    assert steps == sorted({r["step"] for r in b.records}) == [0, 1, 4, 20]  # 0 + 3 log-spaced
    key = ("train", "layer1/post", "nc1_trace")
    assert a.final_metrics[key] != b.final_metrics[key]
    assert a.metric("loss") == pytest.approx(a.loss_parts["loss"], rel=1e-12)
    lrs = a.history("lr")[1]
    assert np.allclose(lrs, 0.5)


def test_max_replicas_chunks_and_keeps_the_order(assert_matches):
    configs = [cfg_of(DUFM, f"seed={s}", "optim.steps=20", "probe.enabled=false")
               for s in range(3)]
    results = run_group(configs, max_replicas=2)
    for cfg, vec in zip(configs, results, strict=True):
        assert vec.config is cfg
        assert_matches(vec, run(cfg))


def test_incompatible_or_unsupported_configs_are_rejected():
    with pytest.raises(ValueError, match="differ"):
        run_group([cfg_of(DUFM), cfg_of(DUFM, "model.widths=[10,10,10]")])
    assert run_group([]) == []


def test_adam_dufm_and_mlp_per_replica_lr_and_weight_decay(assert_matches):
    dufm = [cfg_of(DUFM, "optim.name=adam", "optim.lr=0.01", f"seed={s}", f"optim.lr={lr}",
                   f"reg.weight_decay={wd}") for s, lr, wd in [(0, 0.01, 4e-3), (1, 0.003, 0.0)]]
    check_group(dufm, assert_matches)
    base = [o for o in MLP if not o.startswith(("optim.name", "optim.momentum"))]
    mlp = [cfg_of(base, "optim.name=adam", f"seed={s}", f"optim.lr={lr}")
           for s, lr in [(0, 1e-3), (1, 3e-3)]]
    check_group(mlp, assert_matches)


def test_dense_weightnorm_rho_decay_minibatch_sgd(assert_matches):
    """float64 (float32 replicas drift in the last bits: trained alone, ``exact_grouping``)."""
    configs = [cfg_of(WEIGHTNORM, f"seed={s}", f"optim.lr={lr}",
                      f"reg.weight_decay={wd}", f"model.init_scale={scale}")
               for s, lr, wd, scale in [(0, 0.05, 1e-3, 1.0), (1, 0.02, 1e-2, 0.5),
                                        (2, 0.05, 0.0, 1.3)]]
    results = check_group(configs, assert_matches)
    assert len({r.loss_parts["loss"] for r in results}) == 3


def test_dense_weightnorm_full_batch_activation_decay_schedule(assert_matches):
    base = [o for o in WEIGHTNORM if not o.startswith(("optim.batch_size", "optim.name"))]
    check_group([cfg_of(base, "optim.name=gd", "schedule.name=cosine", f"seed={s}",
                        f"reg.activation_decay={ad}") for s, ad in [(0, 1e-3), (1, 0.0)]],
                assert_matches)


def test_dense_weightnorm_batched_forward_is_the_module():
    """The hand-batched loss is the module's (ρ · V_L σ(... V_1 x), V_l = U_l / ||U_l||_F)."""
    import torch

    from nclab.train import build_data, build_model
    from nclab.train.stacked import StackedNet

    cfgs = [cfg_of(WEIGHTNORM, f"seed={s}", f"model.init_scale={c}") for s, c in [(0, 1), (1, .5)]]
    data = build_data(cfgs[0]).train
    models = [build_model(c, data) for c in cfgs]
    x = data.X.to(torch.float64)
    net = StackedNet(models[0], "mse", 1.0, len(x))
    params = [torch.stack([dict(m.named_parameters())[n] for m in models])
              for n, _ in models[0].named_parameters()]
    out, _, _ = net.forward(params, x, None)
    for s, m in enumerate(models):
        torch.testing.assert_close(out[s].T, m(x), rtol=1e-12, atol=1e-12)
