"""Argument checks shared by the theory modules. Every failure raises ``ValueError`` naming the
argument and the problem."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float that is > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {v}")
    return v


def integer(value, name: str, *, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum`` (bools and non-integral floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def layer_lambdas(lam_W, L: int, name: str = "lam_W") -> tuple[float, ...]:
    """``lam_W`` as a tuple of L positive floats (a scalar is repeated for every layer)."""
    if isinstance(lam_W, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(lam_W, str):
        values = [float(v) for v in np.asarray(lam_W, dtype=np.float64).ravel()]
        if len(values) != L:
            raise ValueError(f"{name} must hold L = {L} values (one per layer), got {len(values)}")
        return tuple(positive(v, f"{name}[{i}]") for i, v in enumerate(values))
    return (positive(lam_W, name),) * L


def dufm_lambdas(lambdas, L: int) -> tuple[float, tuple[float, ...]]:
    """Parse the ``lambdas`` argument of the DUFM functions into ``(lam_H1, (lam_W1..lam_WL))``.

    Accepted: one positive float (all L + 1 parameters equal) or a pair ``(lam_H1, lam_W)`` with
    ``lam_W`` a float or a sequence of L floats.
    """
    if isinstance(lambdas, (Sequence, np.ndarray)) and not isinstance(lambdas, str):
        if len(lambdas) != 2:
            raise ValueError(
                "lambdas must be a float or a pair (lam_H1, lam_W) with lam_W a float or a "
                f"sequence of L = {L} floats, got a sequence of length {len(lambdas)}"
            )
        return positive(lambdas[0], "lambdas[0] (lam_H1)"), layer_lambdas(
            lambdas[1], L, "lambdas[1] (lam_W)"
        )
    value = positive(lambdas, "lambdas")
    return value, (value,) * L


def as_array(A, name: str, *, ndim: int | None = None) -> np.ndarray:
    """``A`` (numpy array, torch tensor or nested list) as a finite float64 numpy array."""
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array, got {type(A).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} NaN/Inf value(s)")
    return arr


def labels_from(Y, name: str = "Y", *, K: int | None = None) -> tuple[np.ndarray, int]:
    """Integer labels ``(N,)`` and K from int labels ``(N,)`` or a one-hot matrix ``(N, K)``
    (rows = samples, the project convention)."""
    if isinstance(Y, torch.Tensor):
        Y = Y.detach().cpu().numpy()
    Y = np.asarray(Y)
    if Y.ndim == 1:
        if not np.issubdtype(Y.dtype, np.integer):
            raise ValueError(f"{name} as a vector must hold integer labels, got dtype {Y.dtype}")
        if Y.size == 0 or Y.min() < 0:
            raise ValueError(f"{name} must hold non-negative labels and be non-empty")
        k = int(Y.max()) + 1 if K is None else K
        if Y.max() >= k:
            raise ValueError(f"{name} has a label {int(Y.max())} >= K = {k}")
        return Y.astype(np.int64), k
    if Y.ndim != 2:
        raise ValueError(f"{name} must be labels (N,) or one-hot (N, K), got shape {Y.shape}")
    Yf = Y.astype(np.float64)
    if not np.all((Yf == 0) | (Yf == 1)) or not np.all(Yf.sum(axis=1) == 1):
        raise ValueError(f"{name} must be one-hot with rows = samples (N, K); got shape {Y.shape}")
    if K is not None and Y.shape[1] != K:
        raise ValueError(f"{name} has {Y.shape[1]} columns, expected K = {K}")
    return Yf.argmax(axis=1).astype(np.int64), Y.shape[1]
