"""Alignment of features with the classifier (NC3) and nearest-class-centre agreement (NC4)."""

from __future__ import annotations

import torch

from ._classes import (
    batch_moments,
    centered_means,
    check_global_mean,
    global_mean_of,
    nc3_cos_from_moments,
    nearest_mean,
    prepare,
)
from .pairwise import TILE_ENTRIES
from .validation import DEFAULT_DTYPE, as_matrix, check_classifier, check_same_device, nonzero_norm


def _classifier(W, K: int, D: int, dtype, H: torch.Tensor) -> torch.Tensor:
    W = as_matrix(W, "W", dtype=dtype)
    check_same_device(W, H, "W", "H")
    check_classifier(W, K, D)
    return W


def nc3_cos(H, y, W, K=None, *, means: bool = False, dtype=DEFAULT_DTYPE) -> float:
    r"""NC3 as an average cosine between features and the classifier rows (Jacot et al. 2025).

    ``means=False`` (default, P0 §3 and the form bounded by Theorem 3.1 (5)):
    ``(1/N) sum_i cos(h_i, W[y_i])``. A zero feature vector contributes cosine 0.
    ``means=True`` (P0 §6): ``(1/K) sum_c cos(mu_c, W[c])`` over the present classes.

    W is the (K, D) matrix that consumes the features (the last layer). Perfect collapse with
    ``W[c]`` parallel to ``mu_c`` (and h_i = mu_{y_i}): 1. Invariant to rotating H and W together,
    to positive scalings of either, and to relabelling classes (permuting W's rows accordingly).
    """
    H, y, K, K_given = prepare(H, y, K, dtype=dtype)
    W = _classifier(W, K, H.shape[1], H.dtype, H)
    m = batch_moments(H, y, K, K_given)[0]
    if not means:
        return nc3_cos_from_moments(m, W)
    present = m.present()
    mu, w = m.means[present], W[present]
    denom = mu.norm(dim=1) * w.norm(dim=1)
    if bool((denom == 0).any()):
        raise ValueError("a class mean or classifier row is zero; its cosine is undefined")
    return float(((mu * w).sum(1) / denom).mean())


def nc3_duality(
    H, y, W, K=None, *, centered: bool = True, global_mean: str = "sample", dtype=DEFAULT_DTYPE
) -> float:
    r"""Self-duality ``|| W^T/||W||_F - M/||M||_F ||_F`` (Xu et al. 2023 §5 NC3, Fig 9).

    M holds the centred class means ``mu_c - mu_G`` as columns (``centered=False``: uncentred,
    for bias-free heads); with the rows convention this is ``|| W/||W|| - Mc/||Mc|| ||_F`` with
    W (K, D). Only the rows of present classes enter. Perfect self-dual collapse: 0 (maximum 2).
    """
    check_global_mean(global_mean)
    H, y, K, K_given = prepare(H, y, K, dtype=dtype)
    W = _classifier(W, K, H.shape[1], H.dtype, H)
    m = batch_moments(H, y, K, K_given)[0]
    present = m.present()
    M = centered_means(m, present, global_mean) if centered else m.means[present]
    Wp = W[present]
    nonzero_norm(float(Wp.norm()), "W")
    nonzero_norm(float(M.norm()), "the class-mean matrix")
    return float((Wp / Wp.norm() - M / M.norm()).norm())


def nc4_ncc(H, y, W, K=None, *, H_eval=None, b=None, dtype=DEFAULT_DTYPE) -> float:
    r"""NC4: fraction of samples where the classifier and the nearest class centre agree.

    ``mean_i [ argmax_c (W h_i + b)_c == argmin_c ||h_i - mu_c|| ]`` (Papyan et al. 2020; Xu et al.
    2023 §5), with the class means mu_c from the training features (H, y) (present classes only)
    and evaluated on ``H_eval`` (default: H itself; pass test features to measure NC4 there).
    ``1 - nc4_ncc`` is the usual NC4 mismatch. Perfect collapse with a classifier aligned to the
    means: 1.
    """
    H, y, K, K_given = prepare(H, y, K, dtype=dtype)
    W = _classifier(W, K, H.shape[1], H.dtype, H)
    m = batch_moments(H, y, K, K_given)[0]
    present = m.present()
    Z = H if H_eval is None else as_matrix(H_eval, "H_eval", dtype=H.dtype).to(H.device)
    if Z.shape[1] != H.shape[1]:
        raise ValueError(f"H_eval must have {H.shape[1]} columns like H, got {Z.shape[1]}")
    bias = torch.zeros(K, dtype=H.dtype, device=H.device)
    if b is not None:
        bias = as_matrix(b, "b", dtype=H.dtype, ndim=1).to(H.device)
        if bias.shape[0] != K:
            raise ValueError(f"b must have shape ({K},), got {tuple(bias.shape)}")
    idx = present.nonzero().flatten()
    shift = global_mean_of(m, present, "sample")  # relative to m.origin, like the offsets
    ncc = idx[nearest_mean(Z - m.origin, m.offsets[idx], shift)]
    step = max(1, TILE_ENTRIES // K)  # (rows, K) logits at a time: bounded memory for large K
    pred = torch.cat([torch.addmm(bias, Z[a : a + step], W.T).argmax(1)
                      for a in range(0, Z.shape[0], step)])
    return float((pred == ncc).double().mean())
