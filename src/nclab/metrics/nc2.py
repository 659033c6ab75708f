"""Geometry of the class means: NC2 as a condition number, simplex-ETF deviations, Gram matrices."""

from __future__ import annotations

import numpy as np
import torch

from ._classes import centered_means, check_global_mean, moments, nc2_cond_from_means
from .pairwise import etf_stats_from_centered
from .validation import DEFAULT_DTYPE, as_matrix


def class_means(H, y, K=None, *, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Class means ``mu_c`` as rows of a (K, D) array (the papers' ``M`` transposed).

    With ``K`` given, empty classes get zero rows; without it every class must be present.
    """
    m = moments(H, y, K, dtype=dtype)
    m.present()
    return m.means.cpu().numpy()


def nc2_cond(
    H,
    y,
    K=None,
    *,
    centered: bool = False,
    nonzero: bool = True,
    rtol: float | None = None,
    global_mean: str = "sample",
    dtype=DEFAULT_DTYPE,
) -> float:
    r"""NC2 as the condition number of the class-mean matrix ``M`` (Jacot et al. 2025 §3, §6;
    Súkeník et al. 2024 §6 "DNC2 metric").

    ``kappa(M) = s_1(M) / s_min(M)`` where, with ``nonzero=True`` (P0's literal definition),
    ``s_min`` is the smallest singular value above ``rtol * s_1``; with ``nonzero=False`` it is
    ``s_K`` (the slides' ``kappa_K``; ``inf`` when ``s_K <= rtol * s_1``, i.e. M is numerically
    of rank < K -- this detects the rank-deficient SRG solutions of Súkeník et al.).
    ``rtol`` defaults to the rounding level of the features *as given*:
    ``(eps * sqrt(K) rho + max(K, D) * eps64 * max(s_1, sqrt(K) rho)) / s_1`` with ``eps`` the
    machine epsilon of H's dtype (bf16, f16, f32, f64) and ``rho`` the largest class RMS feature
    norm (see :func:`nc1_pinv`); singular values below it may be pure rounding. Pass ``rtol`` to
    override; ``layer_report`` reports the value used as ``nc2_cond_rtol``.

    ``centered=False`` (default) uses the uncentred means, the right target for bias-free networks
    (orthogonal frame, kappa = 1). ``centered=True`` uses ``mu_c - mu_G``, which has rank <= K-1;
    then ``nonzero=False`` refers to ``s_{K-1}`` and a simplex ETF gives kappa = 1.

    Perfect collapse onto orthogonal equal-norm means (or a simplex ETF when centred): 1.
    Invariant to rotations and scaling of feature space and to relabelling classes.
    """
    check_global_mean(global_mean)
    m = moments(H, y, K, dtype=dtype)
    present = m.present()
    M = centered_means(m, present, global_mean) if centered else m.means[present]
    return nc2_cond_from_means(m, present, M, centered=centered, nonzero=nonzero, rtol=rtol)


def nc2_etf(H, y, K=None, *, global_mean: str = "sample", dtype=DEFAULT_DTYPE) -> dict:
    r"""Simplex-ETF deviations of the centred class means ``m_c = mu_c - mu_G`` (Papyan et al. 2020;
    Xu et al. 2023 §5, Fig 9).

    Returns a dict with
      - ``equinorm``: ``std_c ||m_c|| / mean_c ||m_c||`` (population std);
      - ``equiangularity``: ``mean_{c != c'} |cos(m_c, m_c') + 1/(K-1)|``;
      - ``etf_gram_dist``: ``|| G/||G||_F - E/||E||_F ||_F`` with ``G = Mc Mc^T`` and
        ``E = I_K - 1 1^T / K`` the Gram of a simplex ETF;
      - ``cos_mean``: mean off-diagonal cosine (ETF: ``-1/(K-1)``);
      - ``cos_std_over_mean``: ``std / |mean|`` of the off-diagonal cosines (P3 Fig 9's variant).
    Perfect collapse onto a simplex ETF: 0 for the first three. For K = 2 with the sample
    global mean they carry no information: ``m_1 = -(n_2/N) d``, ``m_2 = (n_1/N) d``, so
    ``equinorm = |n_1 - n_2| / N`` and ``equiangularity = 0`` whatever the features.
    """
    check_global_mean(global_mean)
    m = moments(H, y, K, dtype=dtype)
    present = m.present()
    return etf_stats_from_centered(centered_means(m, present, global_mean))


def gram(M, normalize: bool = True, *, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Gram matrix ``M M^T`` of the rows of M (class means (K, D) or features (N, D)).

    ``normalize=True`` returns the cosine matrix ``D^{-1/2} G D^{-1/2}`` with ``D = diag(G)``
    (Zangrando et al. App D.3; Súkeník et al. Fig 1). Zero rows make the cosine undefined and
    raise. Collapsed orthogonal class means: identity; simplex ETF: ``1`` on the diagonal and
    ``-1/(K-1)`` off it.
    """
    M = as_matrix(M, "M", dtype=dtype)
    G = M @ M.T
    if normalize:
        d = torch.diagonal(G).sqrt()
        zero = (d == 0).nonzero().flatten().tolist()
        if zero:
            raise ValueError(f"M has zero row(s) {zero[:10]}; cannot normalise the Gram matrix")
        G = G / d.unsqueeze(0) / d.unsqueeze(1)
    return G.cpu().numpy()
