"""Which configs may share a vectorised run."""

import pytest

from nclab.train import TrainConfig, apply_overrides, group_compatible, group_key

BASE = ["data.name=labels", "data.K=3", "data.n_per_class=4", "model.arch=dufm",
        "model.widths=[6,6]", "loss.preset=p2_dufm", "reg.scheme=dufm", "optim.steps=10"]


def cfg(*overrides):
    return apply_overrides(TrainConfig(), [*BASE, *overrides])


def test_seed_lr_reg_and_init_may_differ():
    a = cfg()
    for change in ("seed=4", "optim.lr=0.3", "reg.weight_decay=0.1", "reg.feature_decay=0.2",
                   "reg.layer_decays=[0.1,0.2]", "model.init=orthogonal",
                   "model.init_scale=2", "model.feature_std=0.5", "name=other"):
        assert group_key(cfg(change)) == group_key(a), change


def test_shapes_data_loss_optimiser_and_length_may_not():
    a = cfg()
    for change in ("model.widths=[6,7]", "data.n_per_class=5", "loss.preset=p0_theory",
                   "optim.momentum=0.9", "optim.steps=11", "dtype=float64",
                   "schedule.name=cosine", "probe.points=3", "model.activation=tanh",
                   "optim.name=sgd;optim.batch_size=6"):
        assert group_key(cfg(*change.split(";"))) != group_key(a), change


def test_only_trainconfigs_are_grouped():
    with pytest.raises(TypeError, match="TrainConfig"):
        group_key({"seed": 1})
    assert group_key(cfg("out_dir=/tmp/x")) == group_key(cfg())  # run directories may differ


def test_groups_partition_the_indices_in_order():
    configs = [cfg("seed=0"), cfg("optim.name=adam"), cfg("model.widths=[5,5]"),
               cfg("seed=1", "optim.lr=0.5"), cfg("model.widths=[5,5]", "seed=3"),
               cfg("seed=2", "reg.weight_decay=0.1")]
    assert group_compatible(configs) == [[0, 3, 5], [1], [2, 4]]
    assert group_compatible(configs, max_replicas=2) == [[0, 3], [1], [2, 4], [5]]
    assert group_compatible([]) == []
    with pytest.raises(ValueError, match="max_replicas"):
        group_compatible(configs, max_replicas=0)
