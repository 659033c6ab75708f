"""Optional ``torch.compile`` of the whole vectorised step (off by default).

One compiled graph per step: the batched data loss, its gradient (``torch.func.grad``), the
parameter penalties and the per-replica SGD update, so that pointwise work is fused and the
per-operation overhead of eager autograd disappears. The update is applied before the host sees
the loss, so replicas whose loss is not finite are left unchanged in the graph (``torch.where``),
which keeps the divergence rules of the eager loop: a stopped replica holds the weights that
produced its non-finite loss.

Compilation takes seconds, so the compiled function is cached per computation (architecture,
loss, momentum) and reused by later groups; new shapes (another replica count, a smaller last
batch) recompile. The first call runs on copies of the state, so a compiler failure is caught
before training starts: the step then falls back to eager mode with a warning.
"""

from __future__ import annotations

import warnings

import torch

from .stack import ParameterStack, penalty, sgd_update
from .stacked import StackedNet

_CACHE: dict[tuple, object] = {}
_FAILED = object()


def whole_step(net: StackedNet, momentum: float, nesterov: bool):
    """``step(params, bufs, two_c, c, neg_lr, x, targets, idx, fc, ac) -> loss (S,)``: the loss
    before the update (data + penalties), updating ``params`` and ``bufs`` in place."""

    def step(params, bufs, two_c, c, neg_lr, x, targets, idx, fc, ac):
        def total(ps):
            loss = net.data_loss(ps, x, targets, idx, fc, ac)
            return loss.sum(), loss

        grads, loss = torch.func.grad(total, has_aux=True)(params)
        pen = penalty(params, c)
        value = loss if pen is None else loss + pen
        sgd_update(params, list(grads), bufs, two_c, neg_lr, momentum, nesterov,
                   keep=torch.isfinite(value))
        return value

    return step


class CompiledStep:
    """The compiled whole step on a :class:`ParameterStack` built with ``leaf=False``."""

    def __init__(self, net: StackedNet, stack: ParameterStack):
        self.stack = stack
        self.key = (net.key(), stack.momentum, stack.nesterov)
        self.fn = _CACHE.get(self.key)
        self.raw = whole_step(net, stack.momentum, stack.nesterov)
        self.checked = self.fn is not None

    def __call__(self, x, targets, idx, fc, ac) -> torch.Tensor | None:
        """The loss (S,) of the step, with the update applied; None if compilation failed
        (nothing changed: train eagerly, see :meth:`to_eager`)."""
        s = self.stack
        if self.fn is _FAILED:
            return None
        if not self.checked:
            self.checked = True
            try:
                fn = torch.compile(self.raw, dynamic=False)
                copies = [p.clone() for p in s.params]
                bufs = [None if b is None else b.clone() for b in s.bufs]
                with torch.no_grad():
                    fn(copies, bufs, s.two_c, s.c, s.neg_lr, x, targets, idx, fc, ac)
                _CACHE[self.key] = self.fn = fn
            except Exception as err:  # noqa: BLE001 - any compiler failure means: run eagerly
                warnings.warn(f"torch.compile of the vectorised step failed, running eagerly: "
                              f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=2)
                _CACHE[self.key] = self.fn = _FAILED
                return None
        with torch.no_grad():
            return self.fn(s.params, s.bufs, s.two_c, s.c, s.neg_lr, x, targets, idx, fc, ac)

    def to_eager(self) -> None:
        """Make the stack trainable by the eager step (parameters require gradients)."""
        for p in self.stack.params:
            p.requires_grad_(True)
