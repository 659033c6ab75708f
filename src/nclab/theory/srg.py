r"""The strongly-regular-graph (SRG) solution of the L-DUFM (Súkeník, Mondelli & Lampert, P2
Definitions 4 and 9, Lemmas 12–18, proof of Theorem 5 in Appendix A.1), for ``K = C(r, 2)``
classes, ``r >= 4``, ``L >= 3``.

Closed form (P2 A.1, with the corrections below). Let ``S = (r-2)(r-3) + 2`` and
``p = sqrt(n λ_{H1} λ_{W1}) (sqrt(2) + sqrt((r-1)(r-2)))``. At the optimal layer ratios (eq (6))

    α_l = p^{l-2} q^l / (r^{l-2} Π_{i=2}^{l-1} λ_{W_i})                         (2 <= l <= L-1)
    α_L = 4 S p^{L-2} q^L / (r^{L-1} (r-1)^2 Π_{i=2}^{L-1} λ_{W_i})

and the loss is the univariate

    L_SRG(q) = (λ_{W_L}/2) Σ_i m_i / (μ_i(q) + K λ_{W_L}) + (L/2) p q,

with the eigenvalues ``μ_i`` (multiplicities ``m_i``) of ``M_L^T M_L`` (Lemma 16, corrected).

Discrepancies with the printed paper (all checked against the explicit matrices):

1. Lemma 16's top eigenvalue ``μ_1 = (r-2)(5r-19) α_L / S`` is wrong for r >= 6 (right only for
   r = 4, 5). The all-ones vector is the top eigenvector and every row of M_L has ``C(r-2, 2)``
   entries ``sqrt(α_ij)/s``, so ``μ_1 = ||M_L 1||^2/K = C(r-2, 2)^2 α_L / s^2
   = (r-2)^2 (r-3)^2 α_L / (2 S)``. ``μ_2 = 2(r-3)^2 α_L/S`` and ``μ_3 = 2 α_L / S`` are right.
   The printed value is available with ``printed_mu1=True``.
2. The normaliser ``s`` is printed ``sqrt((r-2)(r-3)/2) + 1``; it is ``sqrt(C(r-2, 2) + 1)``.
3. In L_SRG(q) the term ``+ r(r-1)/2 · λ_{W_L}`` is typeset outside the fractions; it belongs in
   every denominator (as ``K λ_{W_L}`` above, from Lemma 17).
4. Lemma 13 prints ``r α_l + 1 / α_l`` for ``r α_{l+1} / α_l``; ``λ_{H-1}`` means ``λ_{H_1}``.
5. Fig 1's ``rank(M̃_L) = r`` holds for r >= 5; for r = 4 the sign vectors of complementary vertex
   pairs are opposite and ``rank(M̃_L) = 3`` (the loss is unaffected).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import dufm_lambdas, integer, layer_lambdas, positive
from ._minimise import minimise_on_halfline
from .dufm import dufm_loss, solution_from_means
from .graphs import last_layer_signs, triangular_graph


def _srg_constants(r: int) -> tuple[int, int, float]:
    """K, S = (r-2)(r-3)+2 and the nuclear-norm factor sqrt(2) + sqrt((r-1)(r-2))."""
    return r * (r - 1) // 2, (r - 2) * (r - 3) + 2, math.sqrt(2) + math.sqrt((r - 1) * (r - 2))


def srg_gram_spectrum(
    r: int, alpha: float, *, last: bool = False, printed_mu1: bool = False
) -> list[tuple[float, int]]:
    r"""Eigenvalues of ``M_l^T M_l`` for the SRG class means, ``[(μ, multiplicity), ...]``.

    ``last=False`` (P2 Lemma 15, 2 <= l <= L-1): ``M_l^T M_l = (α/(r-1)) (2I + G_r)`` with
    eigenvalues ``2α`` (x1), ``(r-2)α/(r-1)`` (x(r-1)), 0 (x r(r-3)/2) — rank r.
    ``last=True`` (Lemma 16, post-ReLU M_L; corrected, see module docstring):
    ``(r-2)^2(r-3)^2 α/(2S)`` (x1), ``2(r-3)^2 α/S`` (x(r-1)), ``2α/S`` (x r(r-3)/2) — rank K.
    ``printed_mu1=True`` returns the paper's ``(r-2)(5r-19)α/S`` as the first eigenvalue.
    """
    r = integer(r, "r", minimum=4)
    alpha = positive(alpha, "alpha", allow_zero=True)
    _, S, _ = _srg_constants(r)
    if not last:
        return [(2 * alpha, 1), ((r - 2) * alpha / (r - 1), r - 1), (0.0, r * (r - 3) // 2)]
    mu1 = (r - 2) * (5 * r - 19) / S if printed_mu1 else (r - 2) ** 2 * (r - 3) ** 2 / (2 * S)
    mu2, mu3 = 2 * (r - 3) ** 2 / S, 2 / S
    return [(mu1 * alpha, 1), (mu2 * alpha, r - 1), (mu3 * alpha, r * (r - 3) // 2)]


def _check(r, L, lam_H1, lam_W, n):
    r = integer(r, "r", minimum=4)
    L = integer(L, "L", minimum=3)
    return r, L, positive(lam_H1, "lam_H1"), layer_lambdas(lam_W, L), integer(n, "n", minimum=1)


def _p(r: int, lam_H1: float, lam_W1: float, n: int) -> float:
    return math.sqrt(n * lam_H1 * lam_W1) * _srg_constants(r)[2]


def srg_alphas(q, r: int, L: int, lam_H1: float, lam_W, n: int = 1) -> np.ndarray:
    r"""Squared scales ``α_2, ..., α_L`` of the SRG solution at scale parameter ``q = sqrt(α_2)``
    (P2 eq (6)): the layer ratios that minimise the loss for fixed q. Returns shape
    ``(L-1,) + shape(q)``."""
    r, L, lam_H1, lam_W, n = _check(r, L, lam_H1, lam_W, n)
    q = np.asarray(q, dtype=np.float64)
    if np.any(q < 0):
        raise ValueError("q must be >= 0")
    _, S, _ = _srg_constants(r)
    p = _p(r, lam_H1, lam_W[0], n)
    out = []
    for l in range(2, L):
        out.append(p ** (l - 2) * q**l / (r ** (l - 2) * math.prod(lam_W[1 : l - 1])))
    denom = r ** (L - 1) * (r - 1) ** 2 * math.prod(lam_W[1 : L - 1])
    out.append(4 * S * p ** (L - 2) * q**L / denom)
    return np.stack(out)


def srg_loss_curve(
    q, r: int, L: int, lam_H1: float, lam_W, n: int = 1, *, printed_mu1: bool = False
):
    r"""The univariate SRG loss ``L_SRG(q)`` of P2 Appendix A.1 (corrected; module docstring).

    ``q`` may be a scalar (returns a float) or an array. ``L_SRG(0) = 1/2`` (all-zero network).
    ``printed_mu1=True`` uses the paper's wrong top eigenvalue (for r >= 6 this no longer equals
    the DUFM objective of the constructed matrices).
    """
    r, L, lam_H1, lam_W, n = _check(r, L, lam_H1, lam_W, n)
    K = r * (r - 1) // 2
    qa = np.asarray(q, dtype=np.float64)
    alpha_L = srg_alphas(qa, r, L, lam_H1, lam_W, n)[-1]
    lam_L = lam_W[-1]
    spectrum = srg_gram_spectrum(r, 1.0, last=True, printed_mu1=printed_mu1)
    final = sum(m * lam_L / 2 / (mu * alpha_L + K * lam_L) for mu, m in spectrum)
    value = final + L / 2 * _p(r, lam_H1, lam_W[0], n) * qa
    return float(value) if np.ndim(q) == 0 else value


def srg_optimum(r: int, L: int, lam_H1: float, lam_W, n: int = 1) -> dict:
    r"""Minimise ``L_SRG(q)`` over ``q >= 0``: ``{"q", "loss", "alphas", "K", "trivial"}``.

    Every q with loss below the trivial value 1/2 lies in ``(q_lo, q_hi)``: ``q_hi = 1/(L p)``
    (the linear term alone exceeds 1/2 beyond) and ``q_lo`` solves ``A q^L = (L/2) p q`` with
    ``1/2 - fit_term <= tr(M_L^T M_L)/(2 K^2 λ_{W_L}) = A q^L``. The bracket is scanned on a log
    grid and every local minimum refined; ``q = 0`` (loss 1/2) wins when nothing is lower.
    """
    r, L, lam_H1, lam_W, n = _check(r, L, lam_H1, lam_W, n)
    K = r * (r - 1) // 2
    p = _p(r, lam_H1, lam_W[0], n)
    trace_per_alpha = sum(mu * m for mu, m in srg_gram_spectrum(r, 1.0, last=True))
    alpha_L_at_1 = float(srg_alphas(1.0, r, L, lam_H1, lam_W, n)[-1])
    A = trace_per_alpha * alpha_L_at_1 / (2 * K**2 * lam_W[-1])
    q_lo, q_hi = (L * p / (2 * A)) ** (1 / (L - 1)), 1 / (L * p)
    q, loss = minimise_on_halfline(lambda x: srg_loss_curve(x, r, L, lam_H1, lam_W, n), q_lo, q_hi)
    alphas = srg_alphas(q, r, L, lam_H1, lam_W, n)
    return {"q": q, "loss": loss, "alphas": [float(a) for a in alphas], "K": K, "trivial": q == 0.0}


def srg_loss(r: int, L: int, lam_H1: float, lam_W, n: int = 1) -> float:
    r"""Minimal loss of the SRG solution (P2 Definition 9 / Theorem 5), ``min_{q>=0} L_SRG(q)``.

    ``lam_W``: a float for all layers or a sequence of L floats. ``n``: samples per class.
    """
    return srg_optimum(r, L, lam_H1, lam_W, n)["loss"]


def srg_solution(
    r: int, L: int, n: int, lambdas, *, q: float | None = None, alphas=None, width=None
) -> dict:
    r"""The explicit SRG solution ``(H_1, W_1, ..., W_L)`` of P2 Definition 9 (K = C(r, 2)).

    - layers 2 <= l <= L-1: ``M_l = M̃_l = sqrt(α_l) [I_r; 0] T_r`` (rank r, non-negative);
    - last hidden layer: ``M̃_L = sqrt(α_L) [I_K; 0] N_r`` with N_r the row-normalised
      ``A_L^{(1)} T_r`` (rank r for r >= 5; rank 3 for r = 4, where the sign vectors of
      complementary pairs are opposite), ``M_L = ReLU(M̃_L)`` (rank K);
    - ``W_l = M̃_{l+1} M_l^+`` (minimum-norm exact map) for 2 <= l <= L-1, ``W_L`` the ridge
      solution of Lemma 17, ``(W_1, M_1)`` the balanced factorisation of ``M̃_2`` (Lemma 18);
    - ``H_1 = M_1 ⊗ 1_n^T`` (columns grouped by class).

    The scales are the optimal ones (``srg_optimum``), or eq (6) at a given ``q``, or explicit
    ``alphas = [α_2, ..., α_L]`` (then ``"loss"`` is the DUFM objective evaluated directly, since
    the closed form assumes the ratios of eq (6)).

    ``lambdas``: one float or ``(lam_H1, lam_W)``. ``width``: every d_l (default K; Theorem 5
    needs d_l >= K). Returns numpy matrices in the paper's column convention:
    ``{"H1", "Ws", "Y" (K, N), "labels" (N,), "means" [M_1..M_L], "pre_means" [M̃_2..M̃_L],
    "q", "alphas", "loss", "r", "K", "L", "n"}``.
    """
    r = integer(r, "r", minimum=4)
    L = integer(L, "L", minimum=3)
    n = integer(n, "n", minimum=1)
    lam_H1, lam_W = dufm_lambdas(lambdas, L)
    K = r * (r - 1) // 2
    d = K if width is None else integer(width, "width", minimum=K)
    explicit = alphas is not None
    if explicit:
        if q is not None:
            raise ValueError("give at most one of q and alphas")
        alphas = np.asarray(
            [positive(a, f"alphas[{i}]", allow_zero=True) for i, a in enumerate(alphas)]
        )
        if alphas.shape != (L - 1,):
            raise ValueError(f"alphas must hold L - 1 = {L - 1} values (α_2..α_L)")
        q = float(np.sqrt(alphas[0]))
    else:
        if q is None:
            q = srg_optimum(r, L, lam_H1, lam_W, n)["q"]
        q = positive(q, "q", allow_zero=True)
        alphas = srg_alphas(q, r, L, lam_H1, lam_W, n)
    T = triangular_graph(r)["T"]
    pre = [np.sqrt(a) * np.eye(d, r) @ T for a in alphas[:-1]]
    signs = last_layer_signs(r) @ T
    normalised = signs / np.linalg.norm(signs, axis=1, keepdims=True)
    pre.append(np.sqrt(alphas[-1]) * np.eye(d, K) @ normalised)
    post = pre[:-1] + [np.maximum(pre[-1], 0.0)]
    sol = solution_from_means(pre, post, n, lam_H1, lam_W, d)
    if explicit:
        loss = dufm_loss(sol["H1"], sol["Ws"], sol["Y"], (lam_H1, lam_W))["loss"]
    else:
        loss = srg_loss_curve(q, r, L, lam_H1, lam_W, n)
    return {
        **sol,
        "q": float(q),
        "alphas": [float(a) for a in alphas],
        "loss": loss,
        "r": r,
        "K": K,
        "L": L,
        "n": n,
    }
