"""The general ``torch.func`` path (:class:`nclab.train.funcnet.FuncNet`): ResNet20 (BatchNorm
buffers stacked and updated per replica) and the weight-normalised network with convolutions
(the dense one is hand-batched: ``test_group_equivalence.py``), trained as replicas
of one group, reproduce ``nclab.train.run`` with per-replica seeds, learning rates and weight
decays -- to rounding: ``vmap``-batched kernels round differently for different group sizes, so
grouping is not exact for these families (``exact_grouping``) and the runner trains them alone."""

import pytest
import torch

from nclab.train import TrainConfig, apply_overrides, build_data, build_model, run, run_group
from nclab.train.stack import ParameterStack

RESNET = ["data.name=digits", "data.split=all", "data.n_per_class=3", "model.arch=resnet20",
          "model.widths=[12]", "model.n_linear=1", "dtype=float64", "optim.name=sgd",
          "optim.batch_size=10", "optim.momentum=0.9", "optim.steps=6", "probe.points=3",
          "loss.preset=torch_mse", "threads=1"]
WEIGHTNORM = ["data.name=digits", "data.split=all", "data.n_per_class=5",
              "data.classes=[1,2]", "model.arch=weightnorm", "model.widths=[16,16]",
              "model.conv_channels=[3]", "model.strides=[2]",
              "loss.preset=p3", "loss.targets=signed", "reg.scheme=rho", "reg.factor=1.0",
              "dtype=float64", "optim.name=sgd", "optim.momentum=0.9", "optim.batch_size=4",
              "optim.steps=12", "probe.points=4", "threads=1"]


def cfg_of(base, *overrides):
    return apply_overrides(TrainConfig(), [*base, *overrides])


def check_group(configs, assert_close):
    results = run_group(configs)
    for cfg, vec in zip(configs, results, strict=True):
        assert not vec.diverged
        assert_close(vec, run(cfg))
    assert len({r.loss_parts["loss"] for r in results}) == len(configs)  # replicas differ
    return results


def test_resnet20_minibatch_sgd_batchnorm_buffers_per_replica(assert_close):
    configs = [cfg_of(RESNET, f"seed={s}", f"optim.lr={lr}", f"reg.weight_decay={wd}")
               for s, lr, wd in [(0, 0.02, 1e-3), (1, 0.05, 0.0), (2, 0.01, 5e-3)]]
    results = check_group(configs, assert_close)
    for cfg, vec in zip(configs, results, strict=True):  # the running statistics too
        seq = run(cfg)
        for (name, a), b in zip(seq.model.named_buffers(), vec.model.buffers(), strict=True):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name
    stats = [dict(r.model.named_buffers())["stem_bn.running_mean"] for r in results]
    assert not torch.allclose(stats[0], stats[1])  # each replica its own batches


def test_resnet20_full_batch_gd_with_feature_decay(assert_close):
    base = [o for o in RESNET if not o.startswith(("optim.", "loss."))]
    configs = [cfg_of(base, "optim.name=gd", "optim.steps=5", f"optim.lr={lr}",
                      "loss.preset=p2_dufm", "reg.scheme=dufm_like", f"reg.weight_decay={wd}",
                      f"reg.feature_decay={fd}", f"seed={s}")
               for s, lr, wd, fd in [(0, 0.1, 1e-3, 1e-3), (1, 0.05, 5e-3, 0.0)]]
    check_group(configs, assert_close)


def test_weightnorm_rho_decay_per_replica(assert_close):
    configs = [cfg_of(WEIGHTNORM, f"seed={s}", f"optim.lr={lr}", f"reg.weight_decay={wd}")
               for s, lr, wd in [(0, 0.05, 1e-3), (1, 0.02, 1e-2)]]
    check_group(configs, assert_close)


def test_parameter_stack_carries_buffers():
    cfgs = [cfg_of(RESNET, f"seed={s}") for s in (0, 1)]
    models = [build_model(c, build_data(c).train) for c in cfgs]
    stack = ParameterStack(models, [{}, {}])
    assert "stem_bn.running_var" in stack.buffer_names
    with torch.no_grad():
        stack.buffers[stack.buffer_names.index("stem_bn.running_var")][1].fill_(7.0)
    stack.keep([1])
    stack.load(0, models[0])
    assert float(dict(models[0].named_buffers())["stem_bn.running_var"][0]) == 7.0


def test_incompatible_families_are_rejected():
    with pytest.raises(ValueError, match="differ"):
        run_group([cfg_of(RESNET), cfg_of(RESNET, "model.widths=[8]")])


def test_compile_on_the_torch_func_path_warns_and_trains_eagerly(assert_close):
    configs = [cfg_of(WEIGHTNORM, f"seed={s}", "optim.steps=3") for s in (0, 1)]
    with pytest.warns(RuntimeWarning, match="torch.func"):
        results = run_group(configs, compile=True)
    for cfg, vec in zip(configs, results, strict=True):
        assert_close(vec, run(cfg))


def test_torch_func_families_and_threads_are_not_exact_groupings():
    from nclab.train import exact_grouping

    assert "torch.func" in exact_grouping(cfg_of(RESNET))
    assert "with convolutions trains through torch.func" in exact_grouping(cfg_of(WEIGHTNORM))
    assert exact_grouping(cfg_of(WEIGHTNORM, "model.conv_channels=[]")) is None  # hand-batched
    assert "float32" in exact_grouping(cfg_of(WEIGHTNORM, "model.conv_channels=[]",
                                              "dtype=float32"))
    dufm = ["data.name=labels", "data.K=3", "data.n_per_class=2", "model.arch=dufm",
            "model.widths=[4,4]",
            "loss.preset=p2_dufm", "reg.scheme=dufm"]
    assert exact_grouping(cfg_of(dufm, "threads=1")) is None
    assert "threads=None" in exact_grouping(cfg_of(dufm))
    assert "threads=2" in exact_grouping(cfg_of(dufm, "threads=2"))
