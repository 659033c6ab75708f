"""Weight norms, the product norm rho and output margins (Xu et al. 2023)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .validation import DEFAULT_DTYPE, as_labels, as_matrix


def product_norm(weights, *, log: bool = False, dtype=DEFAULT_DTYPE) -> float:
    r"""``rho = prod_l ||W_l||_F`` (Xu et al. 2023 §3.2); convolution kernels use the Frobenius
    norm of the kernel tensor. ``log=True`` returns ``sum_l log ||W_l||_F`` (no overflow for deep
    networks)."""
    weights = list(weights)
    if not weights:
        raise ValueError("weights is empty")
    logs = 0.0
    for i, W in enumerate(weights):
        W = as_matrix(W, f"weights[{i}]", dtype=dtype, ndim=getattr(W, "ndim", 2))
        n = float(W.norm())
        if n == 0.0:
            return float("-inf") if log else 0.0
        logs += math.log(n)
    if log:
        return logs
    return math.exp(logs) if logs < 709.0 else float("inf")


def margin_values(outputs, y, *, dtype=DEFAULT_DTYPE) -> np.ndarray:
    r"""Per-sample margins (Xu et al. 2023).

    Binary: outputs (N,) or (N, 1), labels y in {-1, +1}; margin ``y_n f_n``.
    Multiclass: outputs (N, C), int labels in [0, C); margin ``<f_n, e~_{y_n}>`` with the centred
    scaled labels ``e~_c`` (1 at c, -1/(C-1) elsewhere; §5.2).
    Pass the normalised network's outputs ``f_V(x)`` (without rho) for P3's normalised margins.
    Returns a float64 numpy array (N,).
    """
    return _margins(outputs, y, dtype).cpu().numpy()


def _margins(outputs, y, dtype) -> torch.Tensor:
    if hasattr(outputs, "ndim") and outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if hasattr(outputs, "ndim") and outputs.ndim == 1:
        f = as_matrix(outputs, "outputs", dtype=dtype, ndim=1)
        s = torch.as_tensor(y).to(f.device)
        if s.shape != f.shape:
            raise ValueError(f"y must have shape {tuple(f.shape)}, got {tuple(s.shape)}")
        if not bool(((s == 1) | (s == -1)).all()):
            raise ValueError("binary margins need labels y in {-1, +1}")
        return s.to(f.dtype) * f
    F = as_matrix(outputs, "outputs", dtype=dtype)
    C = F.shape[1]
    labels = as_labels(y, "y", n=F.shape[0], device=F.device)
    if int(labels.max()) >= C:
        raise ValueError(f"y contains label {int(labels.max())}, out of range for {C} outputs")
    E = torch.full((C, C), -1.0 / (C - 1), dtype=F.dtype, device=F.device)
    E.fill_diagonal_(1.0)
    return (F * E[labels]).sum(1)


def margins(outputs, y, *, dtype=DEFAULT_DTYPE) -> dict:
    r"""Margin statistics of Xu et al. 2023 (§3.2 binary, §5.2 multiclass).

    Returns ``mean`` (mu), ``second_moment`` (M: mean of ``m_n^2`` for binary outputs, mean of
    ``||f_n||^2`` for multiclass outputs, as in Lemma 7), ``sigma2 = M - mu^2`` (the margin variance
    of the binary analysis), ``std`` and ``min`` of the per-sample margins
    (see :func:`margin_values`). Under collapse all margins are equal: ``std = 0``.
    """
    m = _margins(outputs, y, dtype)
    F = torch.as_tensor(outputs)
    if F.ndim == 2 and F.shape[1] > 1:
        second = float(as_matrix(F, "outputs", dtype=dtype).square().sum(1).mean())
    else:
        second = float(m.square().mean())
    mu = float(m.mean())
    return {
        "mean": mu,
        "second_moment": second,
        "sigma2": second - mu**2,
        "std": float(m.std(unbiased=False)),
        "min": float(m.min()),
    }
