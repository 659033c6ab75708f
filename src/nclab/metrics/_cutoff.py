"""Which directions of the class means count: the default singular-value cutoff at the rounding
level of the features as given (:func:`rounding_rtol`), the validation of the ``rtol`` / ``rank``
arguments, and the truncated pseudo-inverse of Sigma_B (:func:`between_basis`,
:func:`pinv_rank`, :func:`between_whitener`) shared by NC1 (pinv), NC2 and the second pass.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import torch

from .validation import nonzero_norm

if TYPE_CHECKING:
    from ._classes import ClassMoments

RANKS = ("papyan",)


def rounding_rtol(m: ClassMoments, present: torch.Tensor, s1: float, work_dtype) -> float:
    r"""Default cutoff, relative to ``s1``, for the singular values of a class-mean matrix.

    ``M`` holds the K present class means (centred or not) as rows and ``s1`` is its largest
    singular value. Features stored in a precision with machine epsilon ``eps`` (bf16 2^-7, f16
    2^-10, f32 2^-23, f64 2^-52: ``m.eps``, the lowest precision seen) carry a rounding error
    ``|dh_ij| <= (eps/2) |h_ij|``, so ``||dh_i|| <= (eps/2) ||h_i||``. A class mean averages these
    errors: by Cauchy-Schwarz ``||d mu_c|| <= (eps/2) rho_c`` with ``rho_c^2 = mean_{i in c}
    ||h_i||^2 = ||mu_c||^2 + Var_c``; centring adds at most the same again (the global mean is a
    convex combination of the class means). Hence the rounding perturbation E of M has
    ``||E||_2 <= ||E||_F <= eps sqrt(K) rho`` with ``rho = max_c rho_c``, and by Weyl's inequality
    a direction whose singular value is below that level may be created by rounding alone (for
    class means that span r < K-1 directions, rounding float32 features leaves the other
    directions at ~1e-9 s1; inverting them is what made ``nc1_pinv`` blow up).

    The default is that rounding level plus the backward error of the SVD in the working
    precision (numpy's ``matrix_rank`` rule on the scale of the data)::

        rtol = (eps * sqrt(K) rho + max(K, D) * eps_work * max(s1, sqrt(K) rho)) / s1

    ``rho`` includes any common offset of the features, because rounding is relative to the
    stored values. It is a worst-case bound (typical rounding errors partly cancel in the means),
    so nothing rounding can create is ever kept; for float64 features it is ~1e-13 * rho / s1 and
    keeps every direction that float64 can resolve.
    """
    K = int(present.sum())
    D = m.means.shape[1]
    var = m.sq_dev[present] / m.counts[present]
    rho = float((m.means[present].square().sum(1) + var).max().sqrt())
    level = K**0.5 * rho
    tol = m.eps * level + max(K, D) * torch.finfo(work_dtype).eps * max(s1, level)
    return tol / s1


def check_cutoff(rtol, rank) -> None:
    """Validate the ``rtol`` / ``rank`` arguments of the pseudo-inverse metrics."""
    if rtol is not None and rank is not None:
        raise ValueError("pass either rtol or rank, not both (rank fixes the truncation)")
    ok = isinstance(rtol, numbers.Real) and not isinstance(rtol, bool) and 0 <= rtol < float("inf")
    if rtol is not None and not ok:
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    if rank is not None and rank not in RANKS and (
        isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 1
    ):
        raise ValueError(f"rank must be 'papyan' or a positive integer, got {rank!r}")


def between_basis(Mc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Leading singular pairs of the centred means for ``Sigma_B = Mc^T Mc / K``.

    From the thin SVD ``Mc / sqrt(K) = U S V^T``, ``Sigma_B^+ = V S^-2 V^T``. Returns ``(V, s)``:
    the ``min(K-1, D)`` leading directions (V (D, r), s (r,), descending) -- at most K-1 exist,
    since the centred means sum to zero; which of them enter the pseudo-inverse is
    :func:`pinv_rank`'s choice. Costs O(K^2 D); no D x D matrix.
    """
    K = Mc.shape[0]
    _, s, Vh = torch.linalg.svd(Mc / K**0.5, full_matrices=False)
    nonzero_norm(float(s[0]), "the between-class scatter tr(Sigma_B)")
    r = min(K - 1, s.shape[0])
    return Vh[:r].T, s[:r]


def pinv_rank(s: torch.Tensor, rtol: float, rank=None) -> int:
    """Number k of leading directions of Sigma_B inverted by the pseudo-inverse.

    ``rank=None``: the singular values ``s_i > rtol * s_1``; ``rank="papyan"``: all K-1 (Papyan
    et al. 2020's truncation of Sigma_B^+ to rank K-1); an integer: that many.
    """
    if rank is None:
        k = int((s > rtol * s[0]).sum())
        if k == 0:
            raise ValueError(
                f"no direction of Sigma_B is above the cutoff rtol * s_1 with rtol={rtol:.3g}: "
                "the class means are not resolved at the precision of the features; pass rtol= "
                "to override"
            )
        return k
    k = s.shape[0] if rank == "papyan" else int(rank)
    if k > s.shape[0]:
        raise ValueError(f"rank={k} exceeds the {s.shape[0]} directions Sigma_B can have")
    if float(s[k - 1]) == 0.0:
        raise ValueError(
            f"Sigma_B has fewer than {k} non-zero eigenvalues; its rank-{k} pseudo-inverse "
            "is undefined"
        )
    return k


def between_whitener(
    m: ClassMoments, present: torch.Tensor, Mc: torch.Tensor, rtol=None, rank=None
) -> tuple[torch.Tensor, float]:
    """``(P, rtol_used)``: P (D, k) with ``P P^T = Sigma_B^+`` truncated as :func:`pinv_rank` says
    (``P = V S^-1``); ``rtol_used`` is ``rtol`` or, when None, :func:`rounding_rtol`'s default."""
    check_cutoff(rtol, rank)
    V, s = between_basis(Mc)
    if rtol is None:
        rtol = rounding_rtol(m, present, float(s[0]) * Mc.shape[0] ** 0.5, Mc.dtype)
    k = pinv_rank(s, rtol, rank)
    return V[:, :k] / s[:k], rtol
