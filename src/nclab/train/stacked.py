r"""The batched forward pass and data terms of S replicas of one DUFM, MLP or dense
weight-normalised network.

Parameters are stacked along a leading replica axis in their module shapes: ``H1`` (S, d_1, N),
``W_l`` (S, d_{l+1}, d_l), biases (S, d_{l+1}). Features run in the paper's orientation,
columns = samples, ``H_{l+1} = σ(W_l H_l)`` as (S, d_{l+1}, B), so every layer is one
``torch.bmm`` (``baddbmm`` with a bias) and autograd's backward is two more. An MLP's full-batch
input is shared by the replicas: its first layer is one ``mm`` of the stacked weights (S·d_1, D)
with ``Xᵀ``. The weight-normalised network (Xu et al. §3.2, :class:`~nclab.models.WeightNormNet`
without convolutions) is the bias-free ReLU MLP whose layers use ``V_l = U_l / ||U_l||_F``
(one norm per replica) and whose output is multiplied by ``ρ`` (S,).

:meth:`StackedNet.data_loss` returns, per replica, the differentiable data part of
:class:`nclab.train.Objective` on a batch of B samples: ``c_fit·(N/B)·Σ_i ℓ_i`` plus the feature
and activation penalties ``(N/B)·(c_H Σ_i ||h_i||^2 + c_Z Σ_l ||Z^l||^2)`` (coefficients per
replica, None when no replica has the term). Parameter penalties are not part of it (see
:mod:`nclab.train.stack`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from nclab.models import DUFM, MLP, WeightNormNet

from .losses import batch_data_loss


class StackedNet:
    """Batched forward of replicas built like ``template`` (a :class:`DUFM`, an :class:`MLP` or
    a :class:`WeightNormNet` without convolutions).

    ``kind``: ``"mse"`` or ``"ce"``; ``fit_per_sample``: :attr:`Objective.fit_per_sample`;
    ``N``: training-set size.
    """

    def __init__(self, template: nn.Module, kind: str, fit_per_sample: float, N: int):
        self.kind, self.fit_per_sample, self.N = kind, float(fit_per_sample), int(N)
        if isinstance(template, DUFM):
            self.family, L = "dufm", template.L
            act = None if template.hidden_linear else template.activation
            self.acts = [act] * (L - 1) + [None]
            self.residual, self.bias = [False] * L, False
            self.feature_layer = -1  # H1
        elif isinstance(template, MLP):
            self.family, L = "mlp", template.depth
            self.acts = [None if lin else a for a, lin in
                         zip(template.activations, template.is_linear, strict=True)]
            self.residual = list(template.residual)
            self.bias = template.layers[0].bias is not None
            self.feature_layer = template.n_backbone - 1  # last backbone layer (if any)
        elif isinstance(template, WeightNormNet) and not len(template.convs):
            self.family, L = "weightnorm", len(template.fcs)
            self.acts = [nn.ReLU()] * (L - 1) + [None]
            self.residual, self.bias = [False] * L, False
            self.feature_layer = L - 2  # the input of the last layer (no feature penalty)
            names = [n for n, _ in template.named_parameters()]
            if names != ["rho"] + [f"fcs.{k}.weight" for k in range(L)]:
                raise TypeError(f"unexpected WeightNormNet parameters {names}")
        else:
            raise TypeError(f"no batched forward for {type(template).__name__}")
        self.L = L

    def key(self) -> tuple:
        """What fixes the computation (for caching a compiled version)."""
        acts = tuple(None if a is None else repr(a) for a in self.acts)
        return (self.family, self.L, acts, tuple(self.residual), self.bias, self.kind,
                self.fit_per_sample, self.N, self.feature_layer)

    # ---- forward ----------------------------------------------------------------------------
    def _layers(self, params: list[torch.Tensor]):
        """``[(W, b or None)]`` per layer and the DUFM's H1 (None for the MLP)."""
        if self.family == "dufm":
            return [(w, None) for w in params[1:]], params[0]
        if self.family == "weightnorm":  # params: ρ, U_1 .. U_L
            return [(u / torch.linalg.vector_norm(u, dim=(1, 2), keepdim=True), None)
                    for u in params[1:]], None
        if self.bias:
            return list(zip(params[0::2], params[1::2], strict=True)), None
        return [(w, None) for w in params], None

    def forward(self, params: list[torch.Tensor], x, idx, activations: bool = False):
        """``(out (S, K, B), features (S, d, B) or None, Σ_l ||Z^l||^2 (S,) or None)``.

        ``x``: the MLP's inputs, (N, D) shared or (S, B, D) per replica (None for the DUFM);
        ``idx``: (S, B) sample indices of the DUFM's mini-batch (None: all samples);
        ``activations``: also sum the squared post-activations of every layer.
        """
        layers, H1 = self._layers(params)
        S = layers[0][0].shape[0]
        if H1 is not None:
            h = H1 if idx is None else H1.gather(2, idx.unsqueeze(1).expand(-1, H1.shape[1], -1))
            feats = h
        else:
            h, feats = None, None
        act_sq = None
        for i, ((W, b), act) in enumerate(zip(layers, self.acts, strict=True)):
            if h is None:  # the MLP's first layer
                if x.ndim == 2:
                    W2 = W.reshape(-1, W.shape[-1])
                    pre = (W2 @ x.T if b is None else torch.addmm(b.reshape(-1, 1), W2, x.T))
                    pre = pre.view(S, W.shape[1], x.shape[0])
                    h = x.T
                else:
                    h = x.transpose(1, 2)
                    pre = torch.bmm(W, h) if b is None else torch.baddbmm(b.unsqueeze(-1), W, h)
            else:
                pre = torch.bmm(W, h) if b is None else torch.baddbmm(b.unsqueeze(-1), W, h)
            if self.family == "weightnorm" and i == self.L - 1:
                pre = params[0].view(S, 1, 1) * pre  # ρ · V_L h
            if act is None:
                post = pre
            elif isinstance(act, nn.ReLU):
                post = torch.relu_(pre)  # pre is not needed by the backward pass: save memory
            else:
                post = act(pre)
            if self.residual[i]:
                post = post + h
            h = post
            if self.family == "mlp" and i == self.feature_layer:
                feats = post
            if activations:
                sq = post.square().sum((1, 2))
                act_sq = sq if act_sq is None else act_sq + sq
        return h, feats, act_sq

    # ---- objective --------------------------------------------------------------------------
    def data_loss(self, params, x, targets, idx, feature_coef=None, activation_coef=None):
        """Per-replica data part of the objective (S,) on a batch (see the module doc).

        ``targets``: (K, N) shared (columns = samples) or (S, K, B) for MSE; labels (N,) or
        (S, B) for cross-entropy. ``feature_coef`` / ``activation_coef``: (S,) or None.
        """
        out, feats, act_sq = self.forward(params, x, idx, activation_coef is not None)
        if self.kind == "ce":
            labels = targets.expand(out.shape[0], -1) if targets.ndim == 1 else targets
            fit = F.cross_entropy(out, labels, reduction="none").sum(1)
        else:
            fit = (out - targets).square().sum((1, 2))
        feats_sq = None if feature_coef is None else feats.square().sum((1, 2))
        return batch_data_loss(fit, feats_sq, act_sq, out.shape[-1], self.fit_per_sample,
                               self.N, feature_coef, activation_coef)


class StackedBatches:
    """Each step's ``(x, targets, idx)`` in the layout of :class:`StackedNet`.

    Full batch: the shared inputs (N, D) and targets (K, N) (labels (N,) for cross-entropy),
    no copy, ``idx`` None. Mini-batches: every replica's sampler draws its own indices
    (S, B); inputs (S, B, D), targets (S, K, B) (labels (S, B)).
    """

    def __init__(self, train, kind: str):
        self.train, self.kind = train, kind
        self.X = None if train.inputs is None else train.inputs.reshape(train.N, -1)
        self.targets = train.targets if kind == "ce" else train.targets.T.contiguous()

    def take(self, replicas):
        index = [r.sampler.next() for r in replicas]
        if index[0] is None:
            return self.X, self.targets, None
        idx = torch.stack(index)
        x = None if self.X is None else self.X[idx]
        t = self.train.targets[idx]
        return x, (t if self.kind == "ce" else t.transpose(1, 2)), idx
