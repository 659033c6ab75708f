"""Within-class variability: NC1 in its trace, pseudo-inverse and CDNV forms (DNC1 per layer)."""

from __future__ import annotations

from ._classes import (
    batch_moments,
    cdnv_from_moments,
    centered_means,
    check_global_mean,
    moments,
    nc1_trace_from_moments,
    prepare,
)
from ._cutoff import between_whitener
from .validation import DEFAULT_DTYPE, input_eps


def nc1_trace(H, y, K=None, *, global_mean: str = "sample", dtype=DEFAULT_DTYPE) -> float:
    r"""NC1 as the trace ratio ``tr(Sigma_W) / tr(Sigma_B)`` (Jacot et al. 2025, §3).

    ``Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` (per-sample average) and
    ``Sigma_B = (1/K) sum_c (mu_c - mu_G)(mu_c - mu_G)^T`` (per-class average); note the 1/N vs
    1/K asymmetry of the paper. Computed as ``(||H - M[y]||_F^2 / N) / (||M - mu_G||_F^2 / K)``.

    Args:
        H: features (N, D), rows = samples. y: int labels (N,) in [0, K).
        K: number of classes; inferred as ``max(y) + 1`` when omitted. When given, empty classes
            are skipped (K then counts the non-empty classes).
        global_mean: ``"sample"`` (mu_G = mean of all samples, P0/P1) or ``"class"`` (mean of the
            class means, P3); identical for balanced classes.

    Perfect collapse (every h_i equal to its class mean): 0. Invariant to rotations, to a global
    positive scaling and to translations of feature space, and to relabelling classes.
    """
    check_global_mean(global_mean)
    return nc1_trace_from_moments(moments(H, y, K, dtype=dtype), global_mean)


def trace_sigma_w(H, y, K=None, *, dtype=DEFAULT_DTYPE) -> float:
    """``tr(Sigma_W) = (1/N) sum_i ||h_i - mu_{y_i}||^2`` (Xu et al. 2023, §5: NC1 as tr Sigma_W -> 0).

    Scale-dependent. Perfect collapse: 0.
    """
    m = moments(H, y, K, dtype=dtype)
    m.present()
    return float(m.sq_dev.sum()) / m.N


def nc1_pinv(
    H,
    y,
    K=None,
    *,
    rtol: float | None = None,
    rank: int | str | None = None,
    divide_by_K: bool = True,
    global_mean: str = "sample",
    dtype=DEFAULT_DTYPE,
) -> float:
    r"""Papyan et al.'s NC1: ``tr(Sigma_W Sigma_B^+) / K`` (Súkeník et al. 2024, §6; Xu et al. 2023 Fig 9).

    Sigma_W, Sigma_B as in :func:`nc1_trace`; ``^+`` is the Moore-Penrose pseudo-inverse. Since
    ``Sigma_B = Mc^T Mc / K`` has rank <= K-1, ``Sigma_B^+ = P P^T`` with ``P = V S^{-1}`` from the
    thin SVD of the centred means, and ``tr(Sigma_W Sigma_B^+) = (1/N) sum_i ||P^T (h_i - mu_{y_i})||^2``:
    O(N D K) work, no N x N and no D x D matrix.

    Which directions of Sigma_B count as non-zero follows the precision of ``H`` *as given*
    (bf16, f16, f32 or f64, whatever ``dtype`` the computation then runs in): singular values of
    ``Mc / sqrt(K)`` at or below ``rtol * s_1`` are dropped, with the default rtol the rounding
    level ``(eps * sqrt(K) rho + max(K, D) * eps64 * max(s_1, sqrt(K) rho)) / s_1`` -- ``eps`` the
    machine epsilon of H's dtype, ``rho`` the largest class RMS feature norm (offset included):
    a bound on the singular values that rounding the features can create (derivation in
    :func:`nclab.metrics._cutoff.rounding_rtol`). So class means spanning r < K-1 directions
    give the pseudo-inverse on those r directions, in float32 or bf16 as in float64, instead of
    inverting rounding noise; ``layer_report`` reports the value used as ``nc1_pinv_rtol``.

    Args:
        rtol: override the relative cutoff (e.g. ``1e-3`` to also drop weak genuine directions;
            ``0`` inverts every non-zero singular value).
        rank: ``"papyan"`` inverts all K-1 leading directions whatever their size (the rank-(K-1)
            truncation of Papyan et al. 2020's code, for comparison with published numbers; on
            low-rank means it inverts rounding noise and is huge); an integer k inverts the k
            leading ones. Exclusive with ``rtol``.
        divide_by_K: ``False`` gives P3's ``tr(Sigma_W Sigma_B^+)`` without the 1/K.
        K, global_mean, dtype: as in :func:`nc1_trace`.

    Perfect collapse: 0. Invariant to rotations, scalings and translations of feature space and
    to relabelling classes (up to the cutoff, whose rounding level grows with a common offset);
    invariant to every invertible linear map when Sigma_B has full rank (D = K-1), but not in
    general (a shear of the complement into the means' span changes it).
    """
    check_global_mean(global_mean)
    eps = input_eps(H)
    H, y, K, K_given = prepare(H, y, K, dtype=dtype)
    m, resid = batch_moments(H, y, K, K_given)
    m.eps = eps
    present = m.present(min_size=2)
    Mc = centered_means(m, present, global_mean)
    P, _ = between_whitener(m, present, Mc, rtol, rank)
    value = float((resid @ P).square().sum()) / m.N
    return value / Mc.shape[0] if divide_by_K else value


def cdnv(H, y, K=None, *, dtype=DEFAULT_DTYPE) -> float:
    r"""Class-distance normalised variance (Galanti et al. 2022), averaged over class pairs.

    ``CDNV(c, c') = (Var_c + Var_c') / (2 ||mu_c - mu_c'||^2)`` with
    ``Var_c = (1/N_c) sum_{i in c} ||h_i - mu_c||^2``; the mean over all pairs c < c' is returned.
    Perfect collapse: 0. Invariant to rotations, scaling, translations and relabelling.
    """
    return cdnv_from_moments(moments(H, y, K, dtype=dtype))
