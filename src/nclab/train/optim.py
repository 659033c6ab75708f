"""Optimisers and learning-rate schedules.

Optimisers never apply weight decay themselves (``weight_decay=0``): regularisation is an
explicit term of the loss (:mod:`nclab.train.regularization`). The learning rate is a pure
function of the step, :func:`lr_at`, so a resumed run uses exactly the same rates.
"""

from __future__ import annotations

import math

import torch

from .config import OptimConfig, ScheduleConfig


def make_optimizer(params, optim: OptimConfig) -> torch.optim.Optimizer:
    """``gd``/``sgd``: ``torch.optim.SGD`` (heavy-ball ``momentum``, optional Nesterov);
    ``adam``: ``torch.optim.Adam``."""
    params = list(params)
    if optim.name == "adam":
        return torch.optim.Adam(params, lr=optim.lr, betas=optim.betas, eps=optim.eps)
    return torch.optim.SGD(
        params, lr=optim.lr, momentum=optim.momentum, nesterov=optim.nesterov
    )


def total_steps(optim: OptimConfig, steps_per_epoch: int) -> int:
    """``optim.epochs × steps per epoch`` when epochs are given, else ``optim.steps``."""
    if optim.epochs is not None:
        return optim.epochs * steps_per_epoch
    return optim.steps


def lr_at(step: int, total: int, lr: float, schedule: ScheduleConfig) -> float:
    """Learning rate of optimiser step ``step`` (0-based) of ``total``.

    ``constant``: lr. ``step``: ``lr · gamma^k`` after k milestones, a milestone m taking effect
    at step ``round(m · total)`` (Jacot et al.: ×0.1 at 80 % of training). ``cosine``:
    ``min_lr + ½ (lr − min_lr)(1 + cos(π step / total))``.
    """
    if schedule.name == "constant":
        return lr
    if schedule.name == "step":
        drops = sum(step >= round(m * total) for m in schedule.milestones)
        return lr * schedule.gamma**drops
    return schedule.min_lr + 0.5 * (lr - schedule.min_lr) * (1 + math.cos(math.pi * step / total))
