"""Deep unconstrained features model (Súkeník, Mondelli & Lampert, Definition 2, eq. 1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .activations import make_activation
from .layers import ExposedModel, Recorder


class DUFM(ExposedModel):
    r"""L-DUFM: output ``W_L σ(W_{L-1} σ(... W_2 σ(W_1 H_1)))`` with free features ``H_1``.

    ``H_1 ∈ R^{d_1 × N}`` (one column per training sample, stored in the paper's orientation as
    the parameter ``H1``; :attr:`features` is the rows view ``H_1^T`` (N, d_1)) and
    ``W_l ∈ R^{d_{l+1} × d_l}`` for ``l = 1..L`` with ``d_{L+1} = K``; no biases. σ is ReLU by
    default; ``activation="relu_eps"`` gives the relaxed L-DUFM_ε of Definition 7 / Theorem 8
    and ``"identity"`` the deep linear UFM.
    The regularised objective (1) is built by the training code from ``H1`` and the weights.

    Initialisation (experiments.md Part C, checked): ``H_1 ~ N(0, feature_std^2)``,
    ``W_l ~ N(0, 1/d_l)`` (LeCun normal). Reinitialise with a seed via
    :func:`~nclab.models.init_weights`, which also redraws ``H1``.

    Indexing of :meth:`layer_outputs`: entry ``"H1"`` (``part="features"``), then ``"layer{l}"``
    for ``W_l`` with ``pre = H̃_{l+1} = W_l H_l`` and ``post = H_{l+1} = σ(H̃_{l+1})`` (transposed
    to rows), the last layer linear.
    """

    def __init__(
        self,
        n_samples: int,
        widths: Sequence[int],
        n_classes: int,
        activation="relu",
        *,
        feature_std: float = 1.0,
    ):
        super().__init__()
        widths = [int(w) for w in widths]
        if n_samples < 1 or n_classes < 1 or not widths or min(widths) < 1:
            raise ValueError(
                f"n_samples, n_classes and widths must be positive, got {n_samples}, "
                f"{n_classes}, {widths}"
            )
        if not feature_std >= 0:
            raise ValueError(f"feature_std must be >= 0, got {feature_std}")
        dims = [*widths, int(n_classes)]
        self.n_samples, self.n_classes = int(n_samples), int(n_classes)
        self.widths, self.feature_std = tuple(widths), float(feature_std)
        self.H1 = nn.Parameter(torch.empty(widths[0], self.n_samples))
        self.layers = nn.ModuleList(
            nn.Linear(dims[i], dims[i + 1], bias=False) for i in range(len(widths))
        )
        act = make_activation(activation)
        self.hidden_linear = act is None  # "identity": the deep linear UFM
        self.activation = nn.Identity() if act is None else act
        self.reset_parameters()

    @classmethod
    def uniform(
        cls, n_samples: int, n_classes: int, width: int, n_layers: int, **kwargs
    ) -> DUFM:
        """L-DUFM with ``d_1 = ... = d_L = width`` and ``L = n_layers`` weight matrices."""
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        return cls(n_samples, [width] * n_layers, n_classes, **kwargs)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """``H1 ~ N(0, feature_std^2)``, ``W_l ~ N(0, 1/d_l)``, drawn on the CPU (``generator``)."""
        with torch.no_grad():
            self.reset_features(generator)
            for layer in self.layers:
                w = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
                layer.weight.copy_(w / layer.in_features**0.5)

    def reset_features(self, generator: torch.Generator | None = None) -> None:
        """Redraw ``H1 ~ N(0, feature_std^2)`` (CPU draw, so seeds agree across devices)."""
        with torch.no_grad():
            h = torch.randn(self.H1.shape, generator=generator, dtype=torch.float64)
            self.H1.copy_(self.feature_std * h)

    def _after_init_weights(self, generator: torch.Generator | None) -> None:
        self.reset_features(generator)

    @property
    def L(self) -> int:
        """Number of weight matrices."""
        return len(self.layers)

    @property
    def features(self) -> torch.Tensor:
        """``H_1^T`` (N, d_1): the free features in the rows = samples convention (a view)."""
        return self.H1.T

    def forward(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs (N, K) for all samples, or for the samples ``index`` (a minibatch)."""
        return self._run(index, None)

    def layer_outputs(self, x=None, *, index=None, conv_features: str = "flatten"):
        """Per-layer features computed from ``H1`` (no input batch; ``index`` selects samples)."""
        if x is not None:
            raise ValueError("the DUFM has no input batch: call layer_outputs() or use index=")
        rec = Recorder(conv_features)
        self._run(index, rec)
        return rec.outputs

    def _run(self, index, rec: Recorder | None) -> torch.Tensor:
        h = self.H1.T if index is None else self.H1.T[index]
        if rec is not None:
            rec.add("H1", h, h, part="features", kind="input", has_weight=False)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            pre = layer(h)
            post = pre if i == last or self.hidden_linear else self.activation(pre)
            if rec is not None:
                rec.add(f"layer{i + 1}", pre, post, part="head", kind="dense")
            h = post
        return h

    def _named_weights(self):
        return [(f"layer{i + 1}", "head", m.weight) for i, m in enumerate(self.layers)]

    def extra_repr(self) -> str:
        return f"N={self.n_samples}, widths={list(self.widths)}, K={self.n_classes}"
