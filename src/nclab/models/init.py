"""Seeded weight initialisation schemes: PyTorch default (optionally scaled), LeCun normal and
orthogonal ("unitary")."""

from __future__ import annotations

import math

import torch
from torch import nn

SCHEMES = ("default", "scaled", "lecun_normal", "orthogonal")


def _fan_in(w: torch.Tensor) -> int:
    return w[0].numel()


def _haar_semi_orthogonal(rows: int, cols: int, generator) -> torch.Tensor:
    """Uniformly random (Haar) matrix with orthonormal rows (rows <= cols) or columns."""
    big, small = max(rows, cols), min(rows, cols)
    g = torch.randn(big, small, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r)).masked_fill(torch.diagonal(r) == 0, 1.0)
    return q if rows >= cols else q.T


def _draw_weight(shape: torch.Size, scheme: str, generator) -> torch.Tensor:
    fan_in = math.prod(shape[1:])
    if scheme in ("default", "scaled"):
        # nn.Linear/Conv default kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        bound = 1.0 / math.sqrt(fan_in)
        return (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1) * bound
    if scheme == "lecun_normal":
        return torch.randn(shape, generator=generator, dtype=torch.float64) / math.sqrt(fan_in)
    return _haar_semi_orthogonal(shape[0], fan_in, generator).reshape(shape)


def init_weights(
    model: nn.Module,
    scheme: str = "default",
    scale: float = 1.0,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Reinitialise every Linear/Conv weight (and bias) of ``model`` in place; returns ``model``.

    Schemes (each multiplied by ``scale``):

    - ``"default"`` (alias ``"scaled"``): PyTorch's default, ``U(-1/√fan_in, 1/√fan_in)`` for
      weights and biases; with ``scale != 1`` this is Xu et al.'s "initialisation scale"
      (experiments.md Part D #39).
    - ``"lecun_normal"``: ``N(0, 1/fan_in)`` weights, zero biases (Jacot et al. §4; the DUFM
      default).
    - ``"orthogonal"``: Haar-random semi-orthogonal weights (all singular values 1 before
      scaling; Zangrando et al. §5.3 "random unitary initialisations"), zero biases. Conv
      kernels are orthogonal as (out, in*kh*kw) matrices.

    ``fan_in`` is ``in_features`` (dense) or ``in_channels*kh*kw`` (conv). BatchNorm layers are
    reset to weight 1, bias 0 and fresh running statistics. Modules that define
    ``_after_init_weights(generator)`` are then called: the DUFM redraws ``H1 ~ N(0,
    feature_std^2)`` (not scaled), the weight-normalised net sets ``ρ = Π ||U_k||_F``.

    Draws are made in float64 on the CPU from ``torch.Generator().manual_seed(seed)`` (or the CPU
    ``generator``; neither: the global RNG) and then copied into the parameters, so the same
    seed gives the same weights on every device and in every dtype.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and > 0, got {scale}")
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator, got {generator.device}")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
                m.weight.copy_(scale * _draw_weight(m.weight.shape, scheme, generator))
                if m.bias is not None:
                    if scheme in ("default", "scaled"):
                        bound = 1.0 / math.sqrt(_fan_in(m.weight))
                        u = torch.rand(m.bias.shape, generator=generator, dtype=torch.float64)
                        m.bias.copy_(scale * (2 * u - 1) * bound)
                    else:
                        m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()
        for m in model.modules():
            hook = getattr(m, "_after_init_weights", None)
            if callable(hook):
                hook(generator)
    return model
