"""Input checks shared by every metric: conversion to torch, dtype, shape, finiteness, labels.

Every failure raises ``ValueError`` naming the argument and the problem. Public so that code
measuring outside :mod:`nclab.metrics` (``nclab.analyze``, the integrations) checks its inputs
at the boundary the same way.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_DTYPE = torch.float64


def as_matrix(
    A, name: str, *, dtype: torch.dtype | None = DEFAULT_DTYPE, ndim: int = 2
) -> torch.Tensor:
    """Return ``A`` as a finite floating torch tensor with ``ndim`` dimensions.

    ``dtype=None`` keeps the input's floating dtype (integer/bool inputs become float64, half
    precision becomes float32).
    Tensors stay on their device; numpy arrays are wrapped without copying where possible.
    """
    if isinstance(A, np.ndarray):
        if A.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be a real numeric array, got dtype {A.dtype}")
        A = torch.from_numpy(np.ascontiguousarray(A))
    elif not isinstance(A, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor or numpy.ndarray, got {type(A).__name__}"
        )
    if A.is_complex():
        raise ValueError(f"{name} must be real, got dtype {A.dtype}")
    if A.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(A.shape)}")
    if A.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(A.shape)})")
    target = dtype if dtype is not None else (A.dtype if A.is_floating_point() else DEFAULT_DTYPE)
    if target in (torch.float16, torch.bfloat16):  # no half-precision linear algebra on CPU
        target = torch.float32
    A = A.detach().to(target)
    check_finite(A, name)
    return A


def check_finite(A: torch.Tensor, name: str) -> None:
    """Raise if A has NaN/Inf. Fast path: the sum is finite iff no entry is NaN/Inf, unless
    finite entries overflow it; only then is the element-wise check run."""
    if A.device.type == "meta":  # shapes only, no values to check
        return
    if A.is_floating_point() and not bool(torch.isfinite(A.sum())):
        bad = int((~torch.isfinite(A)).sum())
        if bad:
            raise ValueError(f"{name} contains {bad} NaN/Inf value(s)")


def as_labels(y, name: str = "y", *, n: int | None = None, device=None) -> torch.Tensor:
    """Return integer labels ``y`` as an int64 tensor of shape ``(n,)`` (checked non-negative)."""
    if isinstance(y, np.ndarray):
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"{name} must hold integer class labels, got dtype {y.dtype} "
                "(cast with y.astype(int) if the values are whole numbers)"
            )
        y = torch.from_numpy(np.ascontiguousarray(y).astype(np.int64, copy=False))
    elif isinstance(y, torch.Tensor):
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise ValueError(
                f"{name} must hold integer class labels, got dtype {y.dtype} "
                "(cast with y.long() if the values are whole numbers)"
            )
    else:
        raise ValueError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D with one label per sample, got shape {tuple(y.shape)}")
    if n is not None and y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but the features have {n} rows")
    if y.numel() == 0:
        raise ValueError(f"{name} is empty")
    y = y.to(device=device, dtype=torch.int64) if device is not None else y.long()
    if int(y.min()) < 0:
        raise ValueError(f"{name} contains negative labels (min {int(y.min())}); labels are 0..K-1")
    return y


def check_num_classes(y: torch.Tensor, K: int | None, name: str = "y") -> int:
    """Resolve the number of classes: ``K`` if given (labels must be < K), else ``max(y) + 1``."""
    top = int(y.max())
    if K is None:
        if top >= y.numel():  # more classes than samples: some would be empty
            raise ValueError(
                f"{name} contains label {top}, so K would be {top + 1} classes for only "
                f"{y.numel()} samples (some classes empty); labels are 0..K-1 -- relabel them, "
                "or pass K explicitly to skip empty classes"
            )
        K = top + 1
    else:
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)):
            raise ValueError(f"K must be an integer, got {K!r}")
        K = int(K)
        if top >= K:
            raise ValueError(f"{name} contains label {top}, out of range for K={K} classes")
    if K < 2:
        raise ValueError(f"need at least 2 classes, got K={K}")
    return K


def check_counts(counts: torch.Tensor, K_given: bool, *, min_size: int = 1) -> torch.Tensor:
    """Check per-class counts; return the boolean mask of classes that are present.

    Empty classes are an error unless ``K`` was passed explicitly, in which case they are skipped.
    ``min_size=2`` additionally rejects single-sample classes (within-class variance undefined).
    """
    present = counts > 0
    empty = (~present).nonzero().flatten().tolist()
    if empty and not K_given:
        raise ValueError(
            f"class(es) {empty[:10]} have no samples; pass K explicitly to skip empty classes"
        )
    if int(present.sum()) < 2:
        raise ValueError(f"need at least 2 non-empty classes, got {int(present.sum())}")
    if min_size > 1:
        small = ((counts > 0) & (counts < min_size)).nonzero().flatten().tolist()
        if small:
            raise ValueError(
                f"class(es) {small[:10]} have fewer than {min_size} samples; within-class "
                "variability is undefined for them"
            )
    return present


def check_min_count(min_count) -> int | None:
    """``min_count`` (classes with fewer samples are left out) as an int, or None (keep all)."""
    if min_count is None:
        return None
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer or None, got {min_count!r}")
    return int(min_count)


def check_same_device(A: torch.Tensor, ref: torch.Tensor, name: str, ref_name: str) -> None:
    """Raise if ``A`` is not on the device of ``ref`` (torch would raise a RuntimeError)."""
    if A.device != ref.device:
        raise ValueError(
            f"{name} is on {A.device} but {ref_name} is on {ref.device}; move them to one "
            "device first"
        )


def check_classifier(W: torch.Tensor, K: int, D: int, name: str = "W") -> None:
    if W.shape != (K, D):
        raise ValueError(
            f"{name} must have shape (K, D) = ({K}, {D}) (one row per class), "
            f"got {tuple(W.shape)}"
        )


def nonzero_norm(value: float, what: str) -> float:
    """Guard a denominator: raise when a ratio would be undefined."""
    if not value > 0.0:
        raise ValueError(f"{what} is zero, so the ratio is undefined")
    return value


def input_eps(A) -> float:
    """Machine epsilon of ``A`` *as given* (before any cast to float64): ``finfo(dtype).eps`` of a
    floating torch tensor or numpy array (bfloat16 2^-7, float16 2^-10, float32 2^-23, float64
    2^-52); integer and boolean inputs are exact, so the float64 working precision's."""
    dtype = getattr(A, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return torch.finfo(dtype).eps
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return float(np.finfo(dtype).eps)
    return torch.finfo(torch.float64).eps
