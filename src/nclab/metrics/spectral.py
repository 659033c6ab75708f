"""Singular values, numerical ranks and distances to low rank (weights, features, class means).

Convolution kernels (out, in, k, k) are flattened to (out, in*k*k) matrices.
"""

from __future__ import annotations

import numpy as np
import torch

from .validation import DEFAULT_DTYPE, as_matrix, input_eps, nonzero_norm


def _matrix(A, dtype) -> torch.Tensor:
    if isinstance(A, (torch.Tensor, np.ndarray)) and A.ndim > 2:
        A = A.reshape(A.shape[0], -1)
    return as_matrix(A, "A", dtype=dtype)


def _svals(A, dtype) -> torch.Tensor:
    return torch.linalg.svdvals(_matrix(A, dtype))


def singular_values(A, *, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Singular values of A in descending order (float64 numpy array of length min(m, n))."""
    return _svals(A, dtype).cpu().numpy()


def numerical_rank(A, rtol: float | None = None, *, dtype=DEFAULT_DTYPE) -> int:
    """``#{i : s_i > rtol * s_1}`` (Súkeník et al. 2024 use this on class means; the paper gives no
    tolerance: nclab's experiments use ``rtol=1e-3`` there and report a tolerance sweep).

    ``rtol=None`` uses the rounding level of A *as given*: entries stored with machine epsilon
    ``eps`` (A's dtype before any cast: bf16 2^-7, f16 2^-10, f32 2^-23, f64 2^-52) are off by at
    most ``(eps/2) |a_ij|``, a perturbation of spectral norm ``<= (eps/2) ||A||_F``, so by Weyl's
    inequality no singular value above that level comes from rounding. Added: the SVD's backward
    error in the working precision (numpy's ``matrix_rank`` rule)::

        rtol = (eps/2) ||A||_F / s_1 + max(m, n) * eps_work

    A zero matrix has rank 0.
    """
    M = _matrix(A, dtype)
    s = torch.linalg.svdvals(M)
    if float(s[0]) == 0.0:
        return 0
    tol = _rounding_rtol(s, M.shape, input_eps(A), s.dtype) if rtol is None else rtol
    return int((s > tol * s[0]).sum())


def _rounding_rtol(s: torch.Tensor, shape, eps: float, work_dtype) -> float:
    """numerical_rank's default rtol (see there) from the singular values s of A."""
    fro = float(s.square().sum().sqrt())
    return 0.5 * eps * fro / float(s[0]) + max(shape) * torch.finfo(work_dtype).eps


def energy_rank(A, tol: float = 1e-5, *, dtype=DEFAULT_DTYPE) -> int:
    """Smallest r with ``(sum_{j>r} s_j^2 / sum_j s_j^2)^{1/2} <= tol`` (Zangrando et al. §5.3:
    "numerical rank up to 1e-5 relative error"). A zero matrix has rank 0.

    Rounding A's entries to its dtype *as given* (machine epsilon eps) changes A by at most
    ``(eps/2) ||A||_F``, a relative tail of eps/2: a ``tol`` below that (e.g. 1e-5 with bf16 or
    float16 input) would count rounding noise, so it raises ``ValueError``."""
    level = input_eps(A) / 2
    if not tol >= level:
        raise ValueError(
            f"tol={tol!r} is below the rounding level {level:.3g} of A's dtype "
            f"{getattr(A, 'dtype', None)}: the tail is not resolved; pass tol >= {level:.3g}"
        )
    s2 = _svals(A, dtype).square()
    total = float(s2.sum())
    if total == 0.0:
        return 0
    tail = (s2.flip(0).cumsum(0).flip(0) / total).sqrt()  # tail[r] = rel. error of rank r
    ok = (tail <= tol).nonzero()
    return int(ok[0]) if ok.numel() else int(s2.shape[0])


def rel_dist_to_rank(A, k: int, *, dtype=DEFAULT_DTYPE) -> float:
    """``sum_{j>k} s_j^2 / sum_j s_j^2``: squared relative Frobenius distance of A to the best
    rank-k approximation (Eckart-Young; Zangrando et al. Fig 1 with k = K). 0 iff rank(A) <= k."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    s2 = _svals(A, dtype).square()
    total = nonzero_norm(float(s2.sum()), "A")
    return float(s2[k:].sum()) / total


def stable_rank(A, *, dtype=DEFAULT_DTYPE) -> float:
    """``||A||_F^2 / ||A||_op^2`` (Xu et al. 2023 §4.1), between 1 and rank(A)."""
    s2 = _svals(A, dtype).square()
    return float(s2.sum()) / nonzero_norm(float(s2[0]), "A")
