"""Balancedness of consecutive weight matrices and the negativity of pre-activations (Jacot et al. 2025)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .validation import DEFAULT_DTYPE, as_matrix, check_same_device, nonzero_norm

NORMS = ("op", "fro")


def _sym_norm(S: torch.Tensor, norm: str) -> float:
    if norm == "op":
        return float(torch.linalg.eigvalsh(S).abs().max())
    return float(S.norm())


def balancedness(
    W_l, W_next, relative: bool = True, *, norm: str = "op", dtype=DEFAULT_DTYPE
) -> float:
    r"""Imbalance ``|| W_{l+1}^T W_{l+1} - W_l W_l^T ||`` of consecutive layers (Jacot et al. 2025).

    Weights follow PyTorch's (out, in) convention, as in the papers: ``W_l`` is (n_l, n_{l-1}) and
    ``W_next = W_{l+1}`` is (n_{l+1}, n_l), so both Gram matrices are n_l x n_l.

    ``relative=False`` with ``norm="op"`` is the raw operator norm of Theorem 3.1 (its epsilon_2
    is the max over the linear head). ``relative=True`` (§6, Figs 1, 3, 4) divides by
    ``min(||W_{l+1}^T W_{l+1}||_op, ||W_l W_l^T||_op)`` (the same norm is used for the
    denominator when ``norm="fro"``, the Frobenius variant of §1). Perfectly balanced pair: 0.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    A = as_matrix(W_l, "W_l", dtype=dtype)
    B = as_matrix(W_next, "W_next", dtype=dtype)
    check_same_device(B, A, "W_next", "W_l")
    if B.shape[1] != A.shape[0]:
        raise ValueError(
            f"W_next must have {A.shape[0]} columns (W_l's output dim) to follow W_l, "
            f"got shape {tuple(B.shape)} after {tuple(A.shape)}"
        )
    out_gram, in_gram = B.T @ B, A @ A.T
    value = _sym_norm(out_gram - in_gram, norm)
    if not relative:
        return value
    denom = min(_sym_norm(out_gram, norm), _sym_norm(in_gram, norm))
    return value / nonzero_norm(denom, "a weight matrix")


def negativity(
    Z_pre, activation: Callable[[torch.Tensor], torch.Tensor] | None = None, *, dtype=DEFAULT_DTYPE
) -> float:
    r"""``|| Z - sigma(Z) ||_op / || Z ||_op`` on a layer's pre-activations Z (Jacot et al. 2025 §6).

    With ReLU (default) the numerator is the negative part ``min(Z, 0)``. Non-negative; 0 means
    the non-linearity acts as the identity on the data (the layer is effectively linear). It can
    exceed 1 (e.g. Z = [[-2, 1], [-1, -2]] gives 1.146), although trained layers sit well below.
    Z is (N, n) (any orientation gives the same value). ``activation`` takes a tensor.
    """
    Z = as_matrix(Z_pre, "Z_pre", dtype=dtype)
    act = torch.relu if activation is None else activation
    diff = Z - act(Z)
    denom = nonzero_norm(float(torch.linalg.matrix_norm(Z, ord=2)), "Z_pre")
    return float(torch.linalg.matrix_norm(diff, ord=2)) / denom
