"""Within-cluster sum of squares and total cluster variation (Zangrando et al., eq 6, Def 3.2)."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ._classes import nearest_mean
from .validation import DEFAULT_DTYPE, as_labels, as_matrix


def _points(H, Y, dtype) -> torch.Tensor:
    H = as_matrix(H, "H", dtype=dtype)
    if Y is None:
        return H
    Y = as_matrix(Y, "Y", dtype=H.dtype).to(H.device)
    if Y.shape[0] != H.shape[0]:
        raise ValueError(f"Y must have one row per sample ({H.shape[0]}), got {Y.shape[0]}")
    return torch.cat([H, Y], dim=1)


def _wcss(X: torch.Tensor, labels: torch.Tensor) -> float:
    k = int(labels.max()) + 1
    counts = torch.zeros(k, dtype=X.dtype, device=X.device).index_add_(
        0, labels, torch.ones_like(labels, dtype=X.dtype)
    )
    sums = torch.zeros(k, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, labels, X)
    centroids = sums / counts.clamp_min(1.0).unsqueeze(1)
    return float((X - centroids[labels]).square().sum()) / X.shape[0]


def wcss(H, y, Y=None, *, dtype=DEFAULT_DTYPE) -> float:
    r"""Within-cluster sum of squares of the partition ``y`` (Zangrando et al. eq 6).

    ``(1/N) sum_k sum_{i in C_k} || x_i - xbar_k ||^2`` with ``x_i = h_i`` or, when the targets
    ``Y`` (N, K) are given, the concatenation ``[h_i, Y_i]``. ``y`` holds cluster indices (for the
    class partition, the labels; then the Y part contributes 0). Perfect collapse: 0.
    """
    X = _points(H, Y, dtype)
    labels = as_labels(y, "y", n=X.shape[0], device=X.device)
    return _wcss(X, labels)


def _kmeans_pp(X: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    N = X.shape[0]
    first = int(torch.randint(N, (1,), generator=gen))
    centers = [X[first]]
    d2 = (X - X[first]).square().sum(1)
    for _ in range(1, k):
        total = float(d2.sum())
        if total == 0.0:  # fewer distinct points than k: duplicate a centre
            idx = int(torch.randint(N, (1,), generator=gen))
        else:
            idx = int(torch.multinomial((d2 / total).cpu(), 1, generator=gen))
        centers.append(X[idx])
        d2 = torch.minimum(d2, (X - X[idx]).square().sum(1))
    return torch.stack(centers)


def _lloyd(X: torch.Tensor, centers: torch.Tensor, max_iter: int) -> torch.Tensor:
    """Lloyd iterations to a fixed assignment; each step cannot increase the WCSS. Empty clusters
    keep their previous centre."""
    shift = X.mean(0)
    labels = nearest_mean(X, centers, shift)
    k = centers.shape[0]
    for _ in range(max_iter):
        counts = torch.zeros(k, dtype=X.dtype, device=X.device).index_add_(
            0, labels, torch.ones_like(labels, dtype=X.dtype)
        )
        sums = torch.zeros_like(centers).index_add_(0, labels, X)
        centers = torch.where(counts.unsqueeze(1) > 0, sums / counts.clamp_min(1).unsqueeze(1), centers)
        new = nearest_mean(X, centers, shift)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


BRUTE_FORCE_LIMIT = 4096


def _brute_force_wcss(X: torch.Tensor, k: int) -> float:
    """Exact TCV_k by enumerating every labelling (first point fixed to cluster 0)."""
    N = X.shape[0]
    labels = torch.tensor(list(itertools.product(range(k), repeat=N - 1)), device=X.device)
    labels = torch.cat([torch.zeros(labels.shape[0], 1, dtype=labels.dtype, device=X.device), labels], 1)
    A = torch.nn.functional.one_hot(labels, k).to(X.dtype)  # (P, N, k)
    counts = A.sum(1)
    sums = A.transpose(1, 2) @ X  # (P, k, D)
    between = (sums.square().sum(2) / counts.clamp_min(1.0)).sum(1)
    best = int(between.argmax())  # max between-cluster SS = min WCSS; recompute exactly
    return _wcss(X, labels[best])


def tcv(
    H,
    k: int,
    Y=None,
    *,
    y=None,
    restarts: int = 10,
    max_iter: int = 300,
    seed: int = 0,
    dtype=DEFAULT_DTYPE,
) -> float:
    r"""Upper bound of the total cluster variation ``TCV_k`` (Zangrando et al. Def 3.2).

    ``TCV_k = min over partitions into <= k sets of WCSS`` (see :func:`wcss`; points are
    ``[h_i, Y_i]`` when Y is given). Exact minimisation is NP-hard; this returns the best of
    ``restarts`` seeded k-means++/Lloyd runs in float64 and, when class labels are known
    (``y``, or the argmax of a one-hot ``Y``) with at most k classes, of the class partition and
    a Lloyd run started from it. Lloyd never increases the WCSS, so the result is never above the
    class-partition value. Exact when the features are collapsed, and for tiny problems
    (``k^(N-1) <= 4096``), which are solved by enumeration. Same seed, same value.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}")
    X = _points(H, Y, dtype)
    if k > X.shape[0]:
        raise ValueError(f"k={k} exceeds the number of samples {X.shape[0]}")
    labels = None
    if y is not None:
        labels = as_labels(y, "y", n=X.shape[0], device=X.device)
    elif Y is not None:
        Yt = X[:, -Y.shape[1]:]
        if bool(((Yt == 0) | (Yt == 1)).all()) and bool((Yt.sum(1) == 1).all()):
            labels = Yt.argmax(1)
    best = float("inf")
    if labels is not None and int(labels.max()) < k:
        best = _wcss(X, labels)
        counts = torch.bincount(labels, minlength=k).to(X.dtype).unsqueeze(1)
        sums = torch.zeros(k, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, labels, X)
        start = torch.where(counts > 0, sums / counts.clamp_min(1), X[0])
        best = min(best, _wcss(X, _lloyd(X, start, max_iter)))
    if k > 1 and k ** (X.shape[0] - 1) <= BRUTE_FORCE_LIMIT:
        return min(best, _brute_force_wcss(X, k))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(restarts):
        best = min(best, _wcss(X, _lloyd(X, _kmeans_pp(X, k, gen), max_iter)))
    return best
