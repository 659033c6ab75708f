"""Fully connected network with per-layer activations (Jacot et al. 2025, eq. 1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .activations import make_activation
from .layers import ExposedModel, Recorder


def _per_layer(value, n: int, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries but the network has {n} layers")
        return list(value)
    return [value] * n


class MLP(ExposedModel):
    r"""``Z_ℓ = σ_ℓ(W_ℓ Z_{ℓ-1})`` for nonlinear layers and ``Z_ℓ = W_ℓ Z_{ℓ-1}`` for linear ones.

    Jacot et al. 2025 eq. (1) is the case of ``L1`` nonlinear layers followed by ``L2`` linear
    ones (see :meth:`with_linear_head`); Zangrando et al. §5.2 use tanh in every layer.

    Args:
        in_features: input dimension ``n_0 = d``.
        widths: output widths ``(n_1, ..., n_L)``; the last one is the output dimension (K).
        activations: one activation for every nonlinear layer (name, module or None), or a
            sequence of L entries (None / "identity" = linear layer). With a single activation,
            the last ``n_linear`` layers are linear (default 1: a linear output layer).
        n_linear: number of trailing linear layers when ``activations`` is a single spec.
        bias: add biases (default False: the bias-free networks of the theory).
        n_backbone: the first ``n_backbone`` layers are reported as ``part="backbone"``, the
            rest as ``"head"`` (Jacot et al. §6 treat the first two MLP layers as backbone).
        residual: per-layer flags (or one flag) for skip connections ``Z_ℓ = σ(W_ℓ Z_{ℓ-1}) +
            Z_{ℓ-1}`` (Zangrando et al. App. D.2); requires ``n_ℓ = n_{ℓ-1}``.

    Layers are named ``"layer1"`` ... ``"layerL"`` (``W_ℓ`` is ``"layer{ℓ}"``), preceded by the
    ``"input"`` entry in :meth:`layer_outputs`.
    """

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        activations="relu",
        *,
        n_linear: int | None = None,
        bias: bool = False,
        n_backbone: int = 0,
        residual: bool | Sequence[bool] = False,
    ):
        super().__init__()
        widths = [int(w) for w in widths]
        if in_features < 1 or not widths or min(widths) < 1:
            raise ValueError(
                f"in_features and widths must be positive, got {in_features} and {widths}"
            )
        L = len(widths)
        if isinstance(activations, (list, tuple)):
            if n_linear is not None:
                raise ValueError("give n_linear only with a single activation, not a sequence")
            specs = _per_layer(activations, L, "activations")
        else:
            n_linear = 1 if n_linear is None else n_linear
            if not 0 <= n_linear <= L:
                raise ValueError(f"n_linear must lie in [0, {L}], got {n_linear}")
            specs = [activations] * (L - n_linear) + [None] * n_linear
        if not 0 <= n_backbone <= L:
            raise ValueError(f"n_backbone must lie in [0, {L}], got {n_backbone}")
        residual = [bool(r) for r in _per_layer(residual, L, "residual")]
        dims = [int(in_features), *widths]
        for i, r in enumerate(residual):
            if r and dims[i] != dims[i + 1]:
                raise ValueError(
                    f"layer{i + 1} is residual but maps {dims[i]} -> {dims[i + 1]} features"
                )
        self.in_features, self.widths = int(in_features), tuple(widths)
        self.n_backbone, self.residual = n_backbone, tuple(residual)
        self.layers = nn.ModuleList(
            nn.Linear(dims[i], dims[i + 1], bias=bias) for i in range(L)
        )
        acts = [make_activation(s) for s in specs]
        self.is_linear = tuple(a is None for a in acts)
        self.activations = nn.ModuleList(nn.Identity() if a is None else a for a in acts)

    @classmethod
    def with_linear_head(
        cls,
        in_features: int,
        width: int,
        out_features: int,
        n_nonlinear: int,
        n_linear: int,
        activation="relu",
        **kwargs,
    ) -> MLP:
        """``L1 = n_nonlinear`` activated layers of width ``width``, then ``L2 = n_linear`` linear
        layers (the last one has ``out_features`` outputs): Jacot et al. eq. (1)."""
        if n_nonlinear < 0 or n_linear < 0 or n_nonlinear + n_linear < 1:
            raise ValueError(
                f"need n_nonlinear, n_linear >= 0 and at least one layer, got "
                f"{n_nonlinear}, {n_linear}"
            )
        L = n_nonlinear + n_linear
        widths = [width] * (L - 1) + [out_features]
        acts = [activation] * n_nonlinear + [None] * n_linear
        return cls(in_features, widths, acts, **kwargs)

    def _plan(self):
        return zip(self.layers, self.activations, self.is_linear, self.residual, strict=True)

    @property
    def depth(self) -> int:
        """Number of weight matrices L."""
        return len(self.layers)

    def _run(
        self, x: torch.Tensor, rec: Recorder | None, *, prefix: str = "", record_input: bool = True
    ) -> torch.Tensor:
        if x.ndim > 2:  # images are flattened (C-major), as in nclab.data
            x = x.reshape(x.shape[0], -1)
        if rec is not None and record_input:
            rec.add("input", x, x, part="input", kind="input", has_weight=False)
        z = x
        for i, (layer, act, linear, residual) in enumerate(self._plan()):
            pre = layer(z)
            post = pre if linear else act(pre)
            if residual:
                post = post + z
            if rec is not None:
                part = "backbone" if i < self.n_backbone else "head"
                rec.add(f"{prefix}layer{i + 1}", pre, post, part=part, kind="dense")
            z = post
        return z

    def _named_weights(self, prefix: str = ""):
        return [
            (f"{prefix}layer{i + 1}", "backbone" if i < self.n_backbone else "head", m.weight)
            for i, m in enumerate(self.layers)
        ]

    def extra_repr(self) -> str:
        kinds = "".join("L" if lin else "N" for lin in self.is_linear)
        return f"in={self.in_features}, widths={list(self.widths)}, layers={kinds}"
