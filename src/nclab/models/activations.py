"""Activation functions used by the papers, as modules, and a name -> module factory.

- ``relu``, ``leaky_relu`` (slope 0.01 unless given), ``tanh`` (Zangrando et al. §5),
  ``identity`` (a linear layer).
- :class:`SmoothLeakyReLU`: satisfies Jacot et al. 2025 Assumption 4.2.
- :class:`ReLUEps`: the ReLU_ε of Súkeník et al. Definition 7.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SmoothLeakyReLU(nn.Module):
    r"""``σ(x) = γ x + (1-γ) (softplus_c(x) - log(2)/c)`` with ``c = 4β/(1-γ)``.

    Jacot et al. 2025, Assumption 4.2: (i) ``σ'(x) = γ + (1-γ) sigmoid(c x) ∈ [γ, 1]``,
    (ii) ``|σ(x)| ≤ |x|`` (follows from (i) and ``σ(0) = 0``), (iii) ``σ'`` is β-Lipschitz:
    ``σ'' = (1-γ) c s(1-s) ≤ (1-γ) c / 4 = β``, with equality at 0. As ``β → ∞`` it tends to
    the leaky ReLU of slope γ.
    """

    def __init__(self, gamma: float = 0.1, beta: float = 1.0):
        super().__init__()
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {gamma}")
        if not (math.isfinite(beta) and beta > 0.0):
            raise ValueError(f"beta must be finite and > 0, got {beta}")
        self.gamma, self.beta = float(gamma), float(beta)
        self.sharpness = 4.0 * self.beta / (1.0 - self.gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.sharpness
        # softplus_c(x) = log(1 + e^{cx}) / c, shifted so that σ(0) = 0; logaddexp is exact
        smooth_relu = (torch.logaddexp(c * x, torch.zeros_like(x)) - math.log(2.0)) / c
        return self.gamma * x + (1.0 - self.gamma) * smooth_relu

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, beta={self.beta}"


class ReLUEps(nn.Module):
    r"""ReLU_ε of Súkeník et al. Definition 7: equal to ReLU outside ``(0, ε)``, and
    ``x^2 (2ε - x) / ε^2`` on ``[0, ε]``.

    The cubic is the Hermite interpolant matching value and slope of ReLU at 0 and ε, so σ_ε is
    C¹; on ``(0, ε)``: ``0 < σ_ε(x) = x (1 - (1 - x/ε)^2) < x`` and
    ``σ_ε'(x) = x (4ε - 3x) / ε^2 ∈ (0, 4/3]`` (maximum at ``x = 2ε/3``).
    """

    def __init__(self, eps: float = 0.1):
        super().__init__()
        if not (math.isfinite(eps) and eps > 0.0):
            raise ValueError(f"eps must be finite and > 0, got {eps}")
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.eps
        t = x.clamp(0.0, e)
        cubic = t * t * (2.0 * e - t) / (e * e)
        return torch.where(x >= e, x, cubic)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


ACTIVATIONS = ("relu", "leaky_relu", "smooth_leaky_relu", "tanh", "relu_eps", "identity")


def make_activation(spec, **kwargs) -> nn.Module | None:
    """Activation module from a name in :data:`ACTIVATIONS` or an ``nn.Module``.

    ``None`` and ``"identity"`` return None (no activation: a linear layer). ``kwargs`` go to the
    constructor: ``negative_slope`` (leaky_relu), ``gamma``/``beta`` (smooth_leaky_relu), ``eps``
    (relu_eps).
    """
    if spec is None:
        return None
    if isinstance(spec, nn.Module):
        if kwargs:
            raise ValueError("activation keyword arguments need a name, not a module")
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"activation must be a name, an nn.Module or None, got {spec!r}")
    name = spec.lower().replace("-", "_")
    if name == "identity":
        return None
    factories = {
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "smooth_leaky_relu": SmoothLeakyReLU,
        "tanh": nn.Tanh,
        "relu_eps": ReLUEps,
    }
    if name not in factories:
        raise ValueError(f"unknown activation {spec!r}; valid names: {', '.join(ACTIVATIONS)}")
    try:
        return factories[name](**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for activation {spec!r}: {exc}") from exc
