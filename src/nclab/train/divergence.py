"""NaN/Inf detection: the loss every step (one scalar), parameters and features at probe and
checkpoint steps."""

from __future__ import annotations

import torch
from torch import nn


class Diverged(RuntimeError):
    """Training produced a non-finite loss, parameter or feature; the message names the cause."""


def nonfinite_parameter(model: nn.Module) -> str | None:
    """Name of the first parameter or buffer holding NaN/Inf, or None."""
    with torch.no_grad():
        for name, t in [*model.named_parameters(), *model.named_buffers()]:
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return name
    return None


def check_parameters(model: nn.Module, step: int) -> None:
    """Raise :class:`Diverged` if a parameter or buffer is non-finite."""
    name = nonfinite_parameter(model)
    if name is not None:
        raise Diverged(f"diverged at step {step}: parameter {name!r} has non-finite values")


def loss_cause(value: float, model: nn.Module) -> str:
    """Why the loss ``value`` is not finite: a named non-finite parameter, or an overflow."""
    name = nonfinite_parameter(model)
    kind = "nan" if value != value else "inf"
    if name is not None:
        return f"loss is {kind} (parameter {name!r} has non-finite values)"
    return f"loss is {kind} (all parameters finite: the forward pass overflowed)"
