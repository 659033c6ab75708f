"""Weight-normalised ReLU network with a learnable output scale ρ (Xu et al., §3.2 and §3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .layers import ExposedModel, Recorder, as_images


class FrobeniusNormalizedLinear(nn.Linear):
    """Bias-free linear layer using ``V = U / ||U||_F`` (whole-matrix norm, gain fixed to 1).

    The parameter ``weight`` is the unnormalised ``U``; only its direction affects the output
    (experiments.md Part D #38: WN with ``dim=None`` and a frozen gain g = 1).
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, bias=False)

    def normalized_weight(self) -> torch.Tensor:
        return self.weight / torch.linalg.vector_norm(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight())


class FrobeniusNormalizedConv2d(nn.Conv2d):
    """Bias-free convolution with kernel ``V = U / ||U||_F`` (norm of the whole filter bank, as
    Xu et al. §3.2 count convolutional norms: the filters, not the Toeplitz matrix)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=False)

    def normalized_weight(self) -> torch.Tensor:
        return self.weight / torch.linalg.vector_norm(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalized_weight(), None)


def _per_conv(value, n: int, name: str) -> list[int]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries for {n} conv layers")
        return [int(v) for v in value]
    return [int(value)] * n


class WeightNormNet(ExposedModel):
    r"""``f(x) = ρ · V_L σ(V_{L-1} ... σ(V_1 x))`` with every ``V_k`` of unit Frobenius norm.

    Xu et al. §3.2 (ReLU, no biases; ρ is the only parameter that weight decay acts on, Part D
    #49), optionally with a stack of valid convolutions first (§3: the six-layer CIFAR network,
    :meth:`xu2023_cifar`). At construction -- and after :func:`~nclab.models.init_weights` --
    ``ρ = Π_k ||U_k||_F``, so the network computes the same function as the unnormalised net
    with weights ``U_k`` (Part D #39: an init scale s multiplies ρ by ``s^L``).

    Args:
        widths: dense output widths ``(n_1, ..., n_m)``; the last one is the output dimension
            (1 for a scalar ±1 task, 2 or K for (centred) vector targets, Part D #43).
        in_features: input dimension when there are no convolutions.
        conv_channels: output channels of the conv layers (empty: a plain MLP).
        in_channels, image_size: input images (C, H=W) when there are convolutions.
        kernel_size, strides, padding: per conv layer (an int applies to all).

    Layer names: ``"input"``, ``"conv{k}"`` (part ``"backbone"``), ``"fc{k}"`` (part
    ``"head"``). In :meth:`layer_outputs` and :meth:`weight_matrices` the last weight is
    ``ρ V_L``, so that every dense ``pre`` equals ``layer_input @ W.T``; the unit-norm matrices
    are in :meth:`normalized_weights`.
    """

    def __init__(
        self,
        widths: Sequence[int],
        *,
        in_features: int | None = None,
        conv_channels: Sequence[int] = (),
        in_channels: int | None = None,
        image_size: int | None = None,
        kernel_size: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
    ):
        super().__init__()
        widths = [int(w) for w in widths]
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be a non-empty list of positive ints, got {widths}")
        conv_channels = [int(c) for c in conv_channels]
        n_conv = len(conv_channels)
        self.convs = nn.ModuleList()
        if n_conv:
            if in_channels is None or image_size is None or in_features is not None:
                raise ValueError("conv layers need in_channels and image_size (not in_features)")
            ks = _per_conv(kernel_size, n_conv, "kernel_size")
            ss = _per_conv(strides, n_conv, "strides")
            ps = _per_conv(padding, n_conv, "padding")
            c, size = int(in_channels), int(image_size)
            for k, (c_out, kk, s, p) in enumerate(zip(conv_channels, ks, ss, ps, strict=True)):
                size_out = (size + 2 * p - kk) // s + 1
                if size_out < 1:
                    raise ValueError(f"conv{k + 1} maps {size}x{size} images to nothing")
                self.convs.append(FrobeniusNormalizedConv2d(c, c_out, kk, s, p))
                c, size = c_out, size_out
            in_features = c * size * size
            self.in_channels = int(in_channels)
        elif in_features is None or in_features < 1:
            raise ValueError(f"in_features must be a positive int, got {in_features}")
        dims = [int(in_features), *widths]
        self.fcs = nn.ModuleList(
            FrobeniusNormalizedLinear(dims[i], dims[i + 1]) for i in range(len(widths))
        )
        self.rho = nn.Parameter(torch.ones(()))
        self.sync_rho()

    @classmethod
    def mlp(cls, in_features: int, widths: Sequence[int]) -> WeightNormNet:
        """Dense WN network (the CPU-scaled P3 model: e.g. ``widths=(128, 128, 128, K)``)."""
        return cls(widths, in_features=in_features)

    @classmethod
    def xu2023_cifar(
        cls, out_features: int = 2, *, in_channels: int = 3, image_size: int = 32
    ) -> WeightNormNet:
        """Xu et al. §3 six-layer network: 4 valid 3x3 convs (32, 64, 128, 128 channels, strides
        1, 2, 1, 2 -- a [choice] that gives 128*5*5 = 3200 features on 32x32 inputs), FC
        3200 -> 1024 -> ``out_features``; 3 519 328 weights for ``out_features=2``."""
        return cls(
            [1024, out_features],
            conv_channels=(32, 64, 128, 128),
            in_channels=in_channels,
            image_size=image_size,
            kernel_size=3,
            strides=(1, 2, 1, 2),
        )

    def _layers(self):
        return [(f"conv{k + 1}", m) for k, m in enumerate(self.convs)] + [
            (f"fc{k + 1}", m) for k, m in enumerate(self.fcs)
        ]

    def layer_norms(self) -> list[float]:
        """``||U_k||_F`` of the unnormalised parameters, in depth order."""
        return [float(torch.linalg.vector_norm(m.weight.detach())) for _, m in self._layers()]

    def sync_rho(self) -> None:
        """Set ``ρ = Π_k ||U_k||_F`` (the unnormalised network's function, Part D #39)."""
        with torch.no_grad():
            prod = torch.ones((), dtype=torch.float64)
            for norm in self.layer_norms():
                prod = prod * norm
            self.rho.fill_(float(prod))

    def _after_init_weights(self, generator) -> None:
        self.sync_rho()

    def normalized_weights(self) -> list[tuple[str, torch.Tensor]]:
        """``[(name, V_k)]``: the unit-Frobenius-norm matrices (conv kernels flattened)."""
        return [
            (n, m.normalized_weight().reshape(m.weight.shape[0], -1)) for n, m in self._layers()
        ]

    def _run(self, x: torch.Tensor, rec: Recorder | None) -> torch.Tensor:
        if len(self.convs):
            x = as_images(x, self.in_channels)
        elif x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        if rec is not None:
            rec.add("input", x, x, part="input", kind="input", has_weight=False)
        z = x
        for k, conv in enumerate(self.convs):
            pre = conv(z)
            z = F.relu(pre)
            if rec is not None:
                rec.add(f"conv{k + 1}", pre, z, part="backbone", kind="conv")
        if len(self.convs):
            z = z.reshape(z.shape[0], -1)
        last = len(self.fcs) - 1
        for k, fc in enumerate(self.fcs):
            pre = fc(z)
            if k == last:
                pre = self.rho * pre
            post = pre if k == last else F.relu(pre)
            if rec is not None:
                rec.add(f"fc{k + 1}", pre, post, part="head", kind="dense")
            z = post
        return z

    def _named_weights(self):
        out = [(n, "backbone", m.normalized_weight()) for n, m in self._layers()[: len(self.convs)]]
        last = len(self.fcs) - 1
        for k, fc in enumerate(self.fcs):
            v = fc.normalized_weight()
            out.append((f"fc{k + 1}", "head", self.rho * v if k == last else v))
        return out
