"""Samplers (full, shuffled, class-balanced), optimisers and learning-rate schedules."""

import math

import pytest
import torch

from nclab.train import (
    ClassBalancedBatches,
    ConfigError,
    FullBatch,
    OptimConfig,
    ScheduleConfig,
    ShuffledBatches,
    lr_at,
    make_optimizer,
    make_sampler,
)
from nclab.train.optim import total_steps


def test_full_batch_uses_everything():
    s = make_sampler(OptimConfig(), torch.arange(5), 5, seed=0)
    assert isinstance(s, FullBatch) and s.next() is None and s.steps_per_epoch == 1


def test_shuffled_batches_cover_each_epoch_once_and_are_seeded():
    s = ShuffledBatches(10, 4, seed=3, device="cpu")
    epoch = [s.next() for _ in range(s.steps_per_epoch)]
    assert [len(b) for b in epoch] == [4, 4, 2]
    assert sorted(torch.cat(epoch).tolist()) == list(range(10))
    again = ShuffledBatches(10, 4, seed=3, device="cpu")
    assert all(torch.equal(a, again.next()) for a in epoch)
    other = ShuffledBatches(10, 4, seed=4, device="cpu")
    assert not torch.equal(torch.cat(epoch), torch.cat([other.next() for _ in range(3)]))


def test_sampler_state_round_trip_continues_the_same_sequence():
    a = ShuffledBatches(9, 2, seed=0, device="cpu")
    for _ in range(7):  # into the second epoch
        a.next()
    b = ShuffledBatches(9, 2, seed=0, device="cpu")
    b.load_state_dict(a.state_dict())
    for _ in range(12):
        assert torch.equal(a.next(), b.next())


def test_class_balanced_batches_hold_b_per_class():
    y = torch.tensor([0] * 7 + [1] * 5 + [2] * 6)
    s = ClassBalancedBatches(y, 3, batch_size=6, seed=0, device="cpu")
    assert s.steps_per_epoch == 2  # min class size 5 // b=2
    for _ in range(5):
        batch = s.next()
        assert torch.bincount(y[batch], minlength=3).tolist() == [2, 2, 2]
    with pytest.raises(ConfigError, match="optim.batch_size"):
        ClassBalancedBatches(y, 3, batch_size=5, seed=0, device="cpu")
    with pytest.raises(ConfigError, match="optim.batch_size"):
        ClassBalancedBatches(y, 3, batch_size=18, seed=0, device="cpu")


def test_optimisers_never_decay_weights_themselves():
    p = [torch.nn.Parameter(torch.ones(2))]
    sgd = make_optimizer(p, OptimConfig(name="sgd", batch_size=2, momentum=0.9, nesterov=True))
    adam = make_optimizer(p, OptimConfig(name="adam", lr=1e-3, betas=(0.8, 0.9)))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["weight_decay"] == 0
    assert sgd.param_groups[0]["nesterov"] and sgd.param_groups[0]["momentum"] == 0.9
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["weight_decay"] == 0
    assert adam.param_groups[0]["betas"] == (0.8, 0.9)


def test_schedules():
    const, step = ScheduleConfig(), ScheduleConfig(name="step")
    cos = ScheduleConfig(name="cosine", min_lr=0.01)
    assert [lr_at(s, 100, 0.5, const) for s in (0, 99)] == [0.5, 0.5]
    assert lr_at(79, 100, 0.5, step) == 0.5 and lr_at(80, 100, 0.5, step) == pytest.approx(0.05)
    two = ScheduleConfig(name="step", milestones=(0.5, 0.75))
    assert lr_at(75, 100, 1.0, two) == pytest.approx(0.01)
    assert lr_at(0, 100, 0.5, cos) == 0.5
    assert lr_at(50, 100, 0.5, cos) == pytest.approx(0.01 + 0.5 * 0.49)
    assert lr_at(100, 100, 0.5, cos) == pytest.approx(0.01)


def test_epochs_count_batches_per_epoch():
    assert total_steps(OptimConfig(steps=7), 3) == 7
    assert total_steps(OptimConfig(name="sgd", batch_size=4, epochs=5), math.ceil(10 / 4)) == 15
