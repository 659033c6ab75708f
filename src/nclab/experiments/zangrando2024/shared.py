"""The common setting of Zangrando et al. §5 and its CPU stand-ins (digits, Fashion-MNIST)."""

from __future__ import annotations

import numpy as np

from nclab.experiments import preconditions as P
from nclab.experiments.common import CPU, config

PAPER = "zangrando2024"
SRC = "001"

# the theorems' regime: a non-trivial minimiser that fits every class (the collapse and rank
# claims say nothing about a network that dropped a class or sits at the zero solution)
FITTED = (P.below_zero_solution(), P.every_class_learned())


def tanh_net(L: int, width: int, n: int, steps: int, *, delta: float, data: str = "mnist",
              init: str = "default", residual: str | None = None) -> object:
    widths = "[" + ",".join([str(width)] * (L - 1)) + "]"
    items = [
        f"data.name={data}", f"data.n_per_class={n}", "model.arch=mlp", f"model.widths={widths}",
        "model.activation=tanh", "model.n_linear=0", "model.bias=false", f"model.init={init}",
        "loss.preset=p0_theory", "reg.scheme=weights", "reg.weight_decay=1e-5",
        f"reg.first_layer_factor={delta}", "reg.activation_decay=1e-5", "optim.name=adam",
        "optim.lr=0.001", f"optim.steps={steps}", "dtype=float64", "probe.points=25",
    ]
    if residual:
        items.append(f"model.residual={residual}")
    return config(*items)


def digits_net(n: int, width: int, steps: int, L: int, data: str = "digits") -> tuple[str, ...]:
    """CPU stand-in: ``n`` images of ``data`` per class (standardised), widths ``width``."""
    return (f"data.name={data}", f"data.n_per_class={n}", "data.standardize=true",
            "model.widths=[" + ",".join([str(width)] * (L - 1)) + "]", f"optim.steps={steps}",
            *CPU)


def fmnist_net(n: int, width: int, steps: int, L: int) -> tuple[str, ...]:
    """CPU stand-in for §5's MNIST: ``n`` Fashion-MNIST images per class. Its 784 pixels keep
    the theorems' free first layer (X of full column rank, n_1 >= N for N <= 784); digits'
    64 < N pixels do not, and there the first layers cannot collapse (issue 12, measured)."""
    return digits_net(n, width, steps, L, data="fashion-mnist")


# the fractions of training at which TCV-like measures are taken (log-spaced, then the end)
TCV_AT = tuple(float(a) for a in np.round(np.geomspace(1e-3, 1.0, 10), 6))
