r"""The deep-neural-collapse (DNC) solution of the L-DUFM (Súkeník, Mondelli & Lampert, P2
Definition 10 and the proof of Theorem 5), for any K >= 1 and L >= 2.

Every class-mean matrix is orthogonal, ``M_l = M̃_l = sqrt(α_l) [I_K; 0]`` for 2 <= l <= L, with the
same conditionally optimal weights as the SRG solution. With the scale parameter t >= 0
(the paper's q equals ``t / λ_{W_{L-1}}``) the optimal layer scales are

    α_l = t^l / (n λ_{H1} Π_{i=1}^{l-1} λ_{W_i})                                  (2 <= l <= L)

and the loss is

    L_DNC(t) = (λ_{W_L}/2) K / (t^L / (n λ_{H1} Π_{i=1}^{L-1} λ_{W_i}) + K λ_{W_L}) + (L/2) K t.

Discrepancy: Definition 10 prints
``α_{l-1} = λ_{W_{L-1}}^{l-1} q^{l-1} / (λ_{H1} n Π_{i=1}^{l-1} λ_{W_i})``
— the product runs one index too far (it must stop at l-2, i.e. ``α_l`` uses ``Π_{i=1}^{l-1}``);
its ``α_L`` and ``L_DNC(q)`` are consistent with the formulas above (checked against the matrices).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import dufm_lambdas, integer, layer_lambdas, positive
from ._minimise import minimise_on_halfline
from .dufm import dufm_loss, solution_from_means


def _check(K, L, lam_H1, lam_W, n):
    K = integer(K, "K", minimum=1)
    L = integer(L, "L", minimum=2)
    return K, L, positive(lam_H1, "lam_H1"), layer_lambdas(lam_W, L), integer(n, "n", minimum=1)


def dnc_alphas(t, K: int, L: int, lam_H1: float, lam_W, n: int = 1) -> np.ndarray:
    r"""Squared scales ``α_2, ..., α_L`` of the DNC solution at scale parameter t (module
    docstring; P2 Definition 10 with the index corrected). Shape ``(L-1,) + shape(t)``."""
    K, L, lam_H1, lam_W, n = _check(K, L, lam_H1, lam_W, n)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    return np.stack([t**l / (n * lam_H1 * math.prod(lam_W[: l - 1])) for l in range(2, L + 1)])


def dnc_loss_curve(t, K: int, L: int, lam_H1: float, lam_W, n: int = 1):
    r"""The univariate DNC loss ``L_DNC(t)`` (P2 A.1, "simple extension of (17) of [49]");
    ``L_DNC(0) = 1/2``. Scalar in, float out; array in, array out."""
    K, L, lam_H1, lam_W, n = _check(K, L, lam_H1, lam_W, n)
    ta = np.asarray(t, dtype=np.float64)
    alpha_L = dnc_alphas(ta, K, L, lam_H1, lam_W, n)[-1]
    value = lam_W[-1] / 2 * K / (alpha_L + K * lam_W[-1]) + L / 2 * K * ta
    return float(value) if np.ndim(t) == 0 else value


def dnc_optimum(K: int, L: int, lam_H1: float, lam_W, n: int = 1) -> dict:
    r"""Minimise ``L_DNC(t)`` over ``t >= 0``: ``{"t", "loss", "alphas", "trivial"}``.

    Any t with loss < 1/2 lies in ``(t_lo, t_hi)`` with ``t_hi = 1/(LK)`` and
    ``t_lo = (L K^2 λ_{W_L} n λ_{H1} Π_{i<L} λ_{W_i})^{1/(L-1)}`` (from
    ``1/2 - fit_term <= α_L/(2Kλ_{W_L})``). The function can have a local minimum above 1/2 next to
    the boundary optimum t = 0, so the bracket is scanned and every local minimum refined.
    """
    K, L, lam_H1, lam_W, n = _check(K, L, lam_H1, lam_W, n)
    lam_n = n * lam_H1 * math.prod(lam_W[:-1])
    t_lo, t_hi = (L * K**2 * lam_W[-1] * lam_n) ** (1 / (L - 1)), 1 / (L * K)
    t, loss = minimise_on_halfline(lambda x: dnc_loss_curve(x, K, L, lam_H1, lam_W, n), t_lo, t_hi)
    alphas = dnc_alphas(t, K, L, lam_H1, lam_W, n)
    return {"t": t, "loss": loss, "alphas": [float(a) for a in alphas], "trivial": t == 0.0}


def dnc_loss(K: int, L: int, lam_H1: float, lam_W, n: int = 1) -> float:
    r"""Minimal loss of the DNC solution, ``min_{t>=0} L_DNC(t)`` (P2 Definition 10 / Theorem 5).

    ``lam_W``: a float for all layers or a sequence of L floats. ``n``: samples per class.
    """
    return dnc_optimum(K, L, lam_H1, lam_W, n)["loss"]


def dnc_solution(
    K: int, L: int, n: int, lambdas, *, t: float | None = None, alphas=None, width=None
) -> dict:
    r"""The explicit DNC solution ``(H_1, W_1, ..., W_L)`` of P2 Definition 10.

    ``M_l = sqrt(α_l)[I_K; 0]`` (2 <= l <= L), ``W_l = M_{l+1} M_l^+`` (2 <= l <= L-1), ridge
    ``W_L`` (Lemma 17), ``(W_1, M_1)`` the balanced factorisation of ``M_2`` (Lemma 18),
    ``H_1 = M_1 ⊗ 1_n^T``. Scales: optimal (``dnc_optimum``), at a given ``t``, or explicit
    ``alphas = [α_2..α_L]`` (``"loss"`` then evaluated directly with ``dufm_loss``). ``width``:
    every d_l (default K). Returns the same keys as ``srg_solution`` with ``"t"`` for ``"q"``.
    """
    K = integer(K, "K", minimum=1)
    L = integer(L, "L", minimum=2)
    n = integer(n, "n", minimum=1)
    lam_H1, lam_W = dufm_lambdas(lambdas, L)
    d = K if width is None else integer(width, "width", minimum=K)
    explicit = alphas is not None
    if explicit:
        if t is not None:
            raise ValueError("give at most one of t and alphas")
        alphas = np.asarray(
            [positive(a, f"alphas[{i}]", allow_zero=True) for i, a in enumerate(alphas)]
        )
        if alphas.shape != (L - 1,):
            raise ValueError(f"alphas must hold L - 1 = {L - 1} values (α_2..α_L)")
        t = float(np.sqrt(alphas[0] * n * lam_H1 * lam_W[0]))
    else:
        if t is None:
            t = dnc_optimum(K, L, lam_H1, lam_W, n)["t"]
        t = positive(t, "t", allow_zero=True)
        alphas = dnc_alphas(t, K, L, lam_H1, lam_W, n)
    means = [np.sqrt(a) * np.eye(d, K) for a in alphas]
    sol = solution_from_means(means, means, n, lam_H1, lam_W, d)
    if explicit:
        loss = dufm_loss(sol["H1"], sol["Ws"], sol["Y"], (lam_H1, lam_W))["loss"]
    else:
        loss = dnc_loss_curve(t, K, L, lam_H1, lam_W, n)
    return {
        **sol,
        "t": float(t),
        "alphas": [float(a) for a in alphas],
        "loss": loss,
        "K": K,
        "L": L,
        "n": n,
    }
