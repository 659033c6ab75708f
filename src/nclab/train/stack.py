r"""Stacked parameters of S replicas and their per-replica GD / SGD-momentum / Adam update.

:class:`ParameterStack` holds every parameter (and buffer, e.g. BatchNorm statistics) as one
tensor with a leading replica axis, the
coefficients ``c_{p,s}`` of the parameter penalties ``Σ_p c_{p,s} ||p_s||^2`` (from each
replica's :class:`nclab.train.Regularizer`), the learning rates and the momentum buffers.

The penalties stay out of autograd: their value takes one batched norm per parameter and their
gradient ``2 c_{p,s} p_s`` is added in the update, which is ``torch.optim.SGD``'s
(``weight_decay=0``, ``dampening=0``) written out with a learning rate per replica::

    d = ∇_data + 2 c p;   buf = d (first step) or m·buf + d;   d = d + m·buf (Nesterov) or buf;
    p = p − lr·d

:func:`sgd_update` is that update on lists of tensors (shared by the eager step and the
compiled one, where buffers start at zero: ``m·0 + d = d`` exactly). Rows can be dropped
(:meth:`ParameterStack.keep`) when replicas stop (divergence); the others go on unchanged.

A run's optimiser state (momentum buffers, Adam moments and step count) is one row of the
stack: :meth:`ParameterStack.row_state` gives it to a checkpoint and ``states=`` of the
constructor puts resumed rows back, so that a run resumes alone or in any group.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .regularization import Regularizer


def penalty_coefficients(model: nn.Module, reg: Regularizer) -> dict[str, float]:
    """``{parameter name: c}`` with the penalty ``c ||p||^2`` of every penalised parameter."""
    names = {id(p): n for n, p in model.named_parameters()}
    out: dict[str, float] = {}
    for _, coef, p in reg.terms:
        out[names[id(p)]] = out.get(names[id(p)], 0.0) + coef
    return out


def penalty(params, c) -> torch.Tensor | None:
    """``Σ_p c_p ||p||^2`` per replica (S,) for the parameters with coefficients (None: none)."""
    total = None
    for p, cp in zip(params, c, strict=True):
        if cp is not None:
            term = torch.linalg.vector_norm(p.reshape(p.shape[0], -1), dim=1).square() * cp
            total = term if total is None else total + term
    return total


def sgd_update(params, grads, bufs, two_c, neg_lr, momentum: float, nesterov: bool,
               keep=None) -> None:
    """In place: ``p ← p − lr·d`` per replica (see the module doc); consumes ``grads``;
    ``bufs[i]`` None starts a buffer. ``keep``: (S,) bool, rows where it is False are left
    unchanged (the compiled step, which updates before the divergence check)."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        d = g if two_c[i] is None else g.addcmul_(p, two_c[i])
        if momentum != 0.0:
            if bufs[i] is None:
                buf = bufs[i] = d.clone()
            elif keep is None:
                buf = bufs[i].mul_(momentum).add_(d)
            else:
                buf = bufs[i] * momentum + d
                bufs[i].copy_(torch.where(_rows(keep, p), buf, bufs[i]))
            d = d.add(buf, alpha=momentum) if nesterov else buf
        if keep is None:
            p.addcmul_(d, neg_lr[i])
        else:
            p.copy_(torch.where(_rows(keep, p), p + neg_lr[i] * d, p))


def adam_update(params, grads, m, v, two_c, neg_lr, step: int, betas, eps: float) -> None:
    """In place: ``torch.optim.Adam`` (``weight_decay=0``, no amsgrad) with a learning rate per
    replica, written out as torch's single-tensor CPU implementation (the penalties' gradient
    ``2 c p`` added to the data gradient first); ``step`` counts from 1."""
    b1, b2 = betas
    bc1 = 1.0 - b1**step
    bc2_sqrt = (1.0 - b2**step) ** 0.5
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        d = g if two_c[i] is None else g.addcmul_(p, two_c[i])
        m[i].lerp_(d, 1.0 - b1)
        v[i].mul_(b2).addcmul_(d, d, value=1.0 - b2)
        denom = (v[i].sqrt() / bc2_sqrt).add_(eps)
        p.add_((m[i] / denom).mul_(neg_lr[i] / bc1))


def _rows(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.reshape((-1,) + (1,) * (like.ndim - 1))


class ParameterStack:
    """Parameters ``models[s].named_parameters()`` stacked along dim 0.

    ``coefs[s]``: :func:`penalty_coefficients` of replica s (missing names: 0);
    ``momentum`` / ``nesterov``: shared by the replicas; ``leaf``: the stacked parameters
    require gradients (the eager step differentiates them with autograd); otherwise momentum
    buffers start as zeros (the compiled step). ``adam``: ``(betas, eps)`` to update with Adam
    (:func:`adam_update`) instead of GD / SGD.
    """

    def __init__(self, models: Sequence[nn.Module], coefs: Sequence[dict[str, float]],
                 momentum: float = 0.0, nesterov: bool = False, leaf: bool = True,
                 adam: tuple[tuple[float, float], float] | None = None,
                 states: Sequence[dict | None] | None = None):
        self.names = [n for n, _ in models[0].named_parameters()]
        self.buffer_names = [n for n, _ in models[0].named_buffers()]
        per_model = [dict(m.named_parameters()) for m in models]
        per_buffers = [dict(m.named_buffers()) for m in models]
        with torch.no_grad():
            self.params = [torch.stack([d[n].detach() for d in per_model]).requires_grad_(leaf)
                           for n in self.names]
            self.buffers = [torch.stack([d[n].detach() for d in per_buffers])
                            for n in self.buffer_names]
        self.c: list[torch.Tensor | None] = []  # (S,) penalty coefficients
        self.two_c: list[torch.Tensor | None] = []  # 2c as (S, 1, ...) for the gradient
        for n, p in zip(self.names, self.params, strict=True):
            c = [cs.get(n, 0.0) for cs in coefs]
            self.c.append(_column(c, p).flatten() if any(c) else None)
            self.two_c.append(_column([2.0 * v for v in c], p) if any(c) else None)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.bufs: list[torch.Tensor | None] = [None] * len(self.params)
        if not leaf and self.momentum != 0.0:
            self.bufs = [torch.zeros_like(p) for p in self.params]
        self.adam = adam
        self.steps = 0
        if adam is not None:  # first and second moments
            self.m = [torch.zeros_like(p) for p in self.params]
            self.v = [torch.zeros_like(p) for p in self.params]
        self.neg_lr: list[torch.Tensor] = []
        if states is not None and any(st is not None for st in states):
            self._load_states(states)

    def row_state(self, row: int) -> dict:
        """Optimiser state of replica ``row`` (copies): ``momentum`` (a buffer or None per
        parameter), ``adam_m`` / ``adam_v`` and ``adam_steps`` for Adam."""
        state: dict = {"momentum": [None if b is None else b[row].detach().clone()
                                    for b in self.bufs]}
        if self.adam is not None:
            state["adam_m"] = [t[row].clone() for t in self.m]
            state["adam_v"] = [t[row].clone() for t in self.v]
            state["adam_steps"] = self.steps
        return state

    def _load_states(self, states: Sequence[dict | None]) -> None:
        """Rows from :meth:`row_state` of a checkpoint; every row must have one (replicas
        resumed at one step)."""
        if any(st is None for st in states):
            raise ValueError("resumed and fresh replicas cannot share a group")
        try:
            with torch.no_grad():
                for i, p in enumerate(self.params):
                    rows = [st["momentum"][i] for st in states]
                    if all(r is not None for r in rows):
                        self.bufs[i] = torch.stack(rows).to(p)
                    elif any(r is not None for r in rows):
                        raise ValueError("momentum buffers present in some rows only")
                if self.adam is not None:
                    self.m = [torch.stack([st["adam_m"][i] for st in states]).to(p)
                              for i, p in enumerate(self.params)]
                    self.v = [torch.stack([st["adam_v"][i] for st in states]).to(p)
                              for i, p in enumerate(self.params)]
                    steps = {int(st["adam_steps"]) for st in states}
                    if len(steps) != 1:
                        raise ValueError(f"Adam step counts differ: {sorted(steps)}")
                    self.steps = steps.pop()
        except (KeyError, IndexError, TypeError, RuntimeError) as err:
            raise ValueError(f"optimiser state does not match the model: {err}") from None

    @property
    def S(self) -> int:
        return self.params[0].shape[0]

    def set_lr(self, lrs: Sequence[float]) -> None:
        """Learning rate of every replica (row order)."""
        self.neg_lr = [_column([-lr for lr in lrs], p) for p in self.params]

    def penalty(self) -> torch.Tensor:
        """``Σ_p c_{p,s} ||p_s||^2`` per replica (S,), without gradient."""
        with torch.no_grad():
            total = penalty(self.params, self.c)
        if total is None:
            p = self.params[0]
            return torch.zeros(self.S, dtype=p.dtype, device=p.device)
        return total

    def load(self, row: int, model: nn.Module) -> None:
        """Copy replica ``row``'s parameters and buffers into ``model`` (same architecture)."""
        with torch.no_grad():
            for p, q in zip(self.params, model.parameters(), strict=True):
                q.copy_(p[row])
            for b, q in zip(self.buffers, model.buffers(), strict=True):
                q.copy_(b[row])

    def step(self) -> None:
        """One update from the gradients of the data loss in ``.grad`` (then cleared)."""
        grads = []
        for p in self.params:
            grads.append(p.grad if p.grad is not None else torch.zeros_like(p))
            p.grad = None
        with torch.no_grad():
            if self.adam is not None:
                self.steps += 1
                adam_update(self.params, grads, self.m, self.v, self.two_c, self.neg_lr,
                            self.steps, *self.adam)
            else:
                sgd_update(self.params, grads, self.bufs, self.two_c, self.neg_lr,
                           self.momentum, self.nesterov)

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only the replicas ``rows`` (in that order), with gradients and buffers."""
        index = torch.as_tensor(list(rows), dtype=torch.long, device=self.params[0].device)
        with torch.no_grad():
            new = []
            for p in self.params:
                q = p.detach().index_select(0, index).requires_grad_(p.requires_grad)
                if p.grad is not None:
                    q.grad = p.grad.index_select(0, index)
                new.append(q)
            self.params = new
            self.buffers = [b.index_select(0, index) for b in self.buffers]
            self.bufs = [None if b is None else b.index_select(0, index) for b in self.bufs]
            if self.adam is not None:
                self.m = [t.index_select(0, index) for t in self.m]
                self.v = [t.index_select(0, index) for t in self.v]
            self.two_c = [None if t is None else t.index_select(0, index) for t in self.two_c]
            self.c = [None if t is None else t.index_select(0, index) for t in self.c]
            self.neg_lr = [t.index_select(0, index) for t in self.neg_lr]


def _column(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """``values`` as a (S, 1, ..., 1) tensor broadcasting against ``like`` (S, ...)."""
    shape = (len(values),) + (1,) * (like.ndim - 1)
    return torch.tensor(values, dtype=like.dtype, device=like.device).reshape(shape)
