r"""The general vectorised path: the data loss of S replicas of any nclab model via ``torch.func``.

:class:`StackedNet` writes the DUFM / MLP / dense weight-normalised forward as batched matmuls by
hand (measured up to ~2x faster than ``vmap``; 3.5-4x for the Xu et al. stand-in's groups). Every
other architecture -- ResNet20 with an MLP head, the weight-normalised (ρ, V) network with
convolutions -- goes through :class:`FuncNet`: the template module is called
with each replica's parameters and buffers by ``torch.func.functional_call``, mapped over the
replica axis by ``torch.func.vmap``. Gradients flow by ordinary autograd through ``vmap`` into
the stacked leaf parameters of :class:`~nclab.train.stack.ParameterStack`, whose update carries the
per-replica learning rates and weight decays (a manual GD / SGD-momentum / Adam step: one
``torch.optim`` optimiser cannot hold a learning rate per replica).

BatchNorm: the running statistics are stacked buffers (S, C) updated in place under ``vmap``,
each replica from its own batch, as in its sequential run; probes see them (the stack copies
parameters *and* buffers into the replica's model).

Agreement with the sequential run (tests, float64): parameters, loss traces and probes within
1e-10 relative (measured 1e-15 after 10 SGD steps of ResNet20 on digits). In float32 BatchNorm
amplifies the rounding of the batched convolutions: after the same 10 steps one seed agreed to
1e-6 and another differed by 0.12 relative on the (small) BatchNorm shifts, 5e-4 on the loss
(``benchmarks/bench_sweep.py`` case e prints this difference).

:meth:`FuncNet.data_loss` returns, per replica, the data part of
:class:`nclab.train.Objective` on a batch of B samples -- ``c_fit·(N/B)·Σ_i ℓ_i`` plus
``(N/B)·(c_H ||features||^2 + c_Z Σ_l ||Z^l||^2)`` with per-replica coefficients -- exactly as
:class:`StackedNet` does (its layout differs: inputs and targets keep the model's row-major
orientation, see :class:`FuncBatches`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, vmap

from .batches import TrainSet
from .losses import Objective, batch_data_loss
from .replica import Replica


class _DataLoss(nn.Module):
    """One replica's data loss as a module (so that ``functional_call`` swaps the model's
    parameters and buffers for the whole objective, features and activations included)."""

    def __init__(self, model: nn.Module, objective: Objective):
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, x, targets, feature_coef, activation_coef):
        obj = self.objective
        fit, feats, acts = obj.batch_sums(x, targets, feature_coef is not None,
                                          activation_coef is not None)
        return batch_data_loss(fit, feats, acts, targets.shape[0], obj.fit_per_sample, obj.N,
                               feature_coef, activation_coef)


class FuncNet:
    """Batched data loss of replicas built like ``template`` (any module), parameters and
    buffers taken from ``stack`` (:class:`~nclab.train.stack.ParameterStack`, read at every call:
    rows dropped by divergence are gone). ``features`` / ``activations``: some replica has a
    feature / activation penalty."""

    def __init__(self, template: Replica, stack, kind: str, *, features: bool = False,
                 activations: bool = False):
        self.module = _DataLoss(template.model, template.objective)
        self.stack, self.kind = stack, kind
        self.names = ["model." + n for n in stack.names]
        self.buffer_names = ["model." + n for n in stack.buffer_names]
        self.family = type(template.model).__name__

    def key(self) -> tuple:
        return (self.family, self.kind, id(self.module))

    def data_loss(self, params, x, targets, idx, feature_coef=None, activation_coef=None):
        """Per-replica data part of the objective (S,). ``x``, ``targets``: shared (N, ...)
        when ``idx`` is None (full batch), else per replica (S, B, ...)."""
        names, bnames, module = self.names, self.buffer_names, self.module

        def one(p, b, xs, ts, fc, ac):
            state = dict(zip(names, p, strict=True))
            state.update(zip(bnames, b, strict=True))
            return functional_call(module, state, (xs, ts, fc, ac))

        data = None if idx is None else 0
        coef = (None if feature_coef is None else 0, None if activation_coef is None else 0)
        return vmap(one, in_dims=(0, 0, data, data, *coef))(
            list(params), list(self.stack.buffers), x, targets, feature_coef, activation_coef)


class FuncBatches:
    """Each step's ``(x, targets, idx)`` for :class:`FuncNet`: the shared inputs and targets
    (N, ...) with ``idx`` None for full batches; every replica's own mini-batch, stacked
    (S, B, ...), with its indices ``idx`` (S, B), otherwise."""

    def __init__(self, train: TrainSet):
        self.train = train

    def take(self, replicas: list[Replica]):
        index = [r.sampler.next() for r in replicas]
        if index[0] is None:
            return self.train.inputs, self.train.targets, None
        idx = torch.stack(index)
        return self.train.inputs[idx], self.train.targets[idx], idx
