"""Tensor-level data transforms: balanced subsampling, orderings, scalings and label encodings.

Conventions: ``X`` is (N, D) floating (rows = samples), ``y`` is int64 (N,) with values in
[0, K). Random choices use ``numpy.random.default_rng(seed)`` on the CPU, so a seed gives the
same selection on every device.
"""

from __future__ import annotations

import numpy as np
import torch


def _labels(y, K: int | None = None) -> tuple[torch.Tensor, int]:
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(np.ascontiguousarray(y))
    if not isinstance(y, torch.Tensor):
        raise ValueError(f"y must be a torch.Tensor or numpy.ndarray, got {type(y).__name__}")
    if y.ndim != 1 or y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"y must be a 1-d integer tensor, got shape {tuple(y.shape)}, {y.dtype}")
    y = y.long()
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"y must be non-negative, got min {int(y.min())}")
    top = int(y.max()) + 1 if y.numel() else 0
    if K is None:
        K = top
    elif K < top:
        raise ValueError(f"K={K} but y contains label {top - 1}")
    return y, K


def _features(X, name: str = "X") -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(X).__name__}")
    if X.ndim != 2 or not X.is_floating_point():
        raise ValueError(f"{name} must be a 2-d floating tensor, got {tuple(X.shape)}, {X.dtype}")
    return X


def class_counts(y, K: int | None = None) -> torch.Tensor:
    """Number of samples per class, int64 (K,)."""
    y, K = _labels(y, K)
    return torch.bincount(y, minlength=K)


def class_balanced_indices(y, n_per_class: int, K: int | None = None, seed: int = 0):
    """Indices of ``n_per_class`` samples drawn without replacement from every class (ascending).

    Raises ``ValueError`` naming the classes that have fewer than ``n_per_class`` samples.
    """
    y, K = _labels(y, K)
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    counts = torch.bincount(y, minlength=K)
    short = [c for c in range(K) if int(counts[c]) < n_per_class]
    if short:
        detail = ", ".join(f"class {c}: {int(counts[c])}" for c in short[:10])
        raise ValueError(f"n_per_class={n_per_class} exceeds the samples available ({detail})")
    rng = np.random.default_rng(seed)
    y_np = y.cpu().numpy()
    picked = [rng.permutation(np.flatnonzero(y_np == c))[:n_per_class] for c in range(K)]
    idx = np.sort(np.concatenate(picked))
    return torch.from_numpy(idx).to(y.device)


def class_sorted_order(y) -> torch.Tensor:
    """Stable permutation putting samples in class order (``Y = I_K ⊗ 1_n^T`` when balanced)."""
    y, _ = _labels(y)
    return torch.sort(y, stable=True).indices


def select_classes(y, classes, K: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the samples whose label is in ``classes`` and their labels relabelled 0..k-1.

    ``classes`` keeps its given order: ``classes=(2, 1)`` maps 2 -> 0 and 1 -> 1. With ``K``,
    every class must lie in [0, K).
    """
    y, K_y = _labels(y, K)
    classes = [int(c) for c in classes]
    if len(classes) == 0 or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}")
    if min(classes) < 0 or (K is not None and max(classes) >= K):
        bound = "non-negative" if K is None else f"in [0, {K})"
        raise ValueError(f"classes must be {bound}, got {classes}")
    lut = torch.full((max(K_y, max(classes) + 1),), -1, dtype=torch.long, device=y.device)
    lut[torch.tensor(classes, device=y.device)] = torch.arange(len(classes), device=y.device)
    new = lut[y]
    idx = torch.nonzero(new >= 0).flatten()
    return idx, new[idx]


def corrupt_labels(y, fraction: float, K: int | None = None, seed: int = 0) -> torch.Tensor:
    """Replace the labels of ``round(fraction * N)`` random samples by uniform random classes.

    The new label may coincide with the old one (Zhang et al. 2017 convention), so the expected
    fraction of changed labels is ``fraction * (K - 1) / K``. Used for Xu et al. Fig. 4.
    """
    y, K = _labels(y, K)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    n = int(round(fraction * y.numel()))
    idx = rng.choice(y.numel(), size=n, replace=False)
    out = y.clone()
    out[torch.from_numpy(idx).to(y.device)] = torch.from_numpy(rng.integers(0, K, size=n)).to(y)
    return out


def flatten(X: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, prod(...)), a view when possible."""
    if not isinstance(X, torch.Tensor) or X.ndim < 1:
        raise ValueError("X must be a torch.Tensor with a sample dimension")
    return X.reshape(X.shape[0], -1)


def standardize(X, mean=None, std=None, *, eps: float = 1e-12):
    """Per-feature z-scores ``(X - mean) / std``; returns ``(X_std, mean, std)``.

    ``mean``/``std`` (D,) default to the statistics of ``X`` itself; pass the training split's to
    transform a test split. Features with ``std <= eps`` (constant pixels) are only centred.
    """
    X = _features(X)
    if mean is None:
        mean = X.mean(0)
    if std is None:
        std = X.std(0, unbiased=False)
    mean, std = torch.as_tensor(mean).to(X), torch.as_tensor(std).to(X)
    if mean.shape != (X.shape[1],) or std.shape != (X.shape[1],):
        raise ValueError(f"mean and std must have shape ({X.shape[1]},)")
    safe = torch.where(std > eps, std, torch.ones_like(std))
    return (X - mean) / safe, mean, safe


def scale_to_unit_ball(X, scale: float | None = None) -> tuple[torch.Tensor, float]:
    """Divide by one global ``scale`` (default ``max_i ||x_i||``) so that ``max ||x_i|| = 1``.

    Xu et al. assume ``||x_n|| <= 1`` (§3.2) for their bounds; a single scalar keeps the data
    geometry (experiments.md Part D #42: record ``scale``). Returns ``(X / scale, scale)``.
    """
    X = _features(X)
    if scale is None:
        scale = float(torch.linalg.vector_norm(X, dim=1).max())
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be finite and > 0, got {scale} (all-zero X?)")
    return X / scale, float(scale)


def normalize_rows(X, *, eps: float = 1e-12) -> torch.Tensor:
    """Each sample divided by its Euclidean norm (rows with norm <= eps are left unchanged)."""
    X = _features(X)
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    return X / torch.where(norms > eps, norms, torch.ones_like(norms))


def one_hot(y, K: int | None = None, *, dtype=torch.float32) -> torch.Tensor:
    """One-hot targets (N, K): row i is ``e_{y_i}`` (the columns of P0/P1/P2's ``Y``)."""
    y, K = _labels(y, K)
    return torch.nn.functional.one_hot(y, K).to(dtype)


def centred_labels(y, K: int | None = None, *, dtype=torch.float32) -> torch.Tensor:
    """Xu et al. §5.2 targets ``ẽ_c``: 1 at coordinate c and ``-1/(K-1)`` elsewhere (N, K).

    For balanced classes these are the centred one-hot vectors scaled to maximum entry 1.
    """
    y, K = _labels(y, K)
    if K < 2:
        raise ValueError(f"centred labels need K >= 2 classes, got K={K}")
    off = -1.0 / (K - 1)
    out = torch.full((y.numel(), K), off, dtype=dtype, device=y.device)
    out[torch.arange(y.numel(), device=y.device), y] = 1.0
    return out


def signed_labels(y, *, dtype=torch.float32) -> torch.Tensor:
    """Binary labels in {-1, +1} (N,): class 0 -> -1, class 1 -> +1 (Xu et al. §3.2)."""
    y, K = _labels(y)
    if K > 2:
        raise ValueError(f"signed labels need a binary task (labels 0/1), got K={K}")
    return (2 * y - 1).to(dtype)


TARGET_ENCODINGS = {"one_hot": one_hot, "centred": centred_labels}


def encode_targets(y, K: int | None = None, kind: str = "one_hot", *, dtype=torch.float32):
    """Targets of ``kind`` in {"one_hot", "centred", "signed"} (signed: binary ±1, shape (N,))."""
    if kind == "signed":
        return signed_labels(y, dtype=dtype)
    if kind not in TARGET_ENCODINGS:
        raise ValueError(f"kind must be one of 'one_hot', 'centred', 'signed', got {kind!r}")
    return TARGET_ENCODINGS[kind](y, K, dtype=dtype)
