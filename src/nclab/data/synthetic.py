"""Synthetic data: Gaussian mixtures (Zangrando et al. §5.1) and class-sorted label vectors."""

from __future__ import annotations

import numpy as np


def class_sorted_labels(n_classes: int, n_per_class: int) -> np.ndarray:
    """Labels ``[0]*n + [1]*n + ... + [K-1]*n`` (int64): ``Y = I_K ⊗ 1_n^T``.

    The sample order of Súkeník et al. §3 and of the DUFM (one free feature column per sample).
    """
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    return np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)


def mixture_means(
    n_classes: int, dim: int, *, mean_scale: float = 3.0, seed: int = 0
) -> np.ndarray:
    """Class means ``mu_k = mean_scale * u_k`` with ``u_k`` independent uniform unit vectors (K, d).

    Defaults follow the [choice] of experiments.md P1-Fig1 (``mu_k = 3 * random unit vectors``).
    """
    if n_classes < 1 or dim < 1:
        raise ValueError(f"n_classes and dim must be >= 1, got {n_classes} and {dim}")
    if not np.isfinite(mean_scale) or mean_scale < 0:
        raise ValueError(f"mean_scale must be finite and >= 0, got {mean_scale}")
    g = np.random.default_rng(np.random.SeedSequence([seed, 0x6D65616E]))
    u = g.standard_normal((n_classes, dim))
    return mean_scale * u / np.linalg.norm(u, axis=1, keepdims=True)


def gaussian_mixture(
    n_classes: int = 10,
    dim: int = 32,
    n_per_class: int = 50,
    sigma: float = 0.1,
    *,
    means: np.ndarray | None = None,
    mean_scale: float = 3.0,
    mean_seed: int = 0,
    seed: int = 0,
    split: str = "train",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples ``x_i ~ N(mu_{y_i}, sigma^2 I)`` in class-sorted order (Zangrando et al. §5.1).

    The means depend only on ``(n_classes, dim, mean_scale, mean_seed)`` (or are given as
    ``means`` (K, d)), so a sweep over ``sigma`` or ``seed`` keeps them fixed, as §5.1 requires.
    ``seed`` and ``split`` ("train"/"test") select independent noise draws; the noise is drawn
    once with unit variance and multiplied by ``sigma``, so runs that differ only in ``sigma``
    see the same standardised noise.

    Returns ``(X (N, d) float64, y (N,) int64, means (K, d))`` with ``N = n_classes * n_per_class``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for gaussian-mixture, got {split!r}")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    if means is None:
        means = mixture_means(n_classes, dim, mean_scale=mean_scale, seed=mean_seed)
    else:
        means = np.asarray(means, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != n_classes:
            raise ValueError(
                f"means must have shape (n_classes={n_classes}, dim), got {means.shape}"
            )
        if not np.isfinite(means).all():
            raise ValueError("means contains NaN/Inf values")
        dim = means.shape[1]
    y = class_sorted_labels(n_classes, n_per_class)
    stream = {"train": 0, "test": 1}[split]
    g = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    X = means[y] + sigma * g.standard_normal((len(y), dim))
    return X, y, means
